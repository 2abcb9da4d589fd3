"""A lab of home networks and public hosts, in network namespaces the test
creates and deletes (built on netns.py; nothing touches the host's network).

    a1 192.168.1.2 -- natA (lan 192.168.1.1 | wan 203.0.113.11) --+
    b1 192.168.2.2 -- natB (lan 192.168.2.1 | wan 203.0.113.12) --+-- wan bridge
    c1 192.168.3.2 -- natC (lan 192.168.3.1 | wan 203.0.113.13) --+   pub  203.0.113.1
                                                                  +   pub2 203.0.113.3

    with home_networks("port_preserving", Home("symmetric", hosts=2), pub2=True) as lab:
        natA, natB = lab.routers
        a1, = natA.hosts
        server = lab.socket(lab.pub)          # a socket in pub's namespace
        server.bind(("0.0.0.0", 7000)); server.listen()
        client = lab.socket(a1); client.connect((lab.pub.ip, 7000))
        peer = lab.serve(a1, tmp_path / "A")  # `threads-desktop serve` in a1
        addresses = peer.ready()["addresses"]

Routers are built one per argument, in order: natA, natB, natC ...; router i
(from 0) has WAN 203.0.113.<11+i>, LAN 192.168.<i+1>.0/24 with itself at .1
and its hosts at .2, .3 ... (namespaces named a1, a2 / b1 ...). Each router
forwards IPv4 and IPv6, and its nftables (`table inet filter`) accept what
the LAN sends out and the replies, and silently DROP everything else that
arrives from the WAN, to the router itself or to the LAN (a home router: an
unsolicited dial times out, it is not refused; `Home(refuse=True)` answers
it with a TCP reset instead, as some routers do). The NAT on the WAN side is
the router's `kind`:

- `port_preserving`: plain `masquerade` (endpoint-independent; a host's source
  port is kept when free).
- `port_remapping`: each LAN port in `Home.remap` (default 4141 -> 14141) goes
  out as `snat ip to WAN:<other port>`, the same for every destination
  (endpoint-independent, different port, as behind carrier NAT); other ports
  are masqueraded.
- `symmetric`: `masquerade random`: a new external port for every connection.
- `upnp`: port-preserving (`snat` to `wan_ip`), plus miniupnpd (UPnP IGD
  and NAT-PMP) on the LAN side. miniupnpd refuses a documentation address
  as the external one, so this router's `wan_ip` is 11.0.113.<11+i>
  (public-looking, and only ever inside these namespaces), its source
  address for everything it sends out; 203.0.113.<11+i> stays on its WAN.

IPv6 (`ipv6=True`, the default): the WAN is 2001:db8::/64 (pub ::1, pub2 ::3,
router i ::<11+i>); router i's LAN is 2001:db8:<i+1>::/64 (router ::1, hosts
::2 ...), routed without NAT, behind the same firewall. Hosts' `ip6` fields
hold these addresses (None without IPv6).

Python's `ipaddress` calls 203.0.113.0/24 and 2001:db8::/32 private, not
global. Code that tells public from private addresses gets the lab's public
side as public with `prefixes=GLOBAL_LOOKING`: the same plan on 11.0.113.0/24
(pub 11.0.113.1, router i 11.0.113.<11+i>, the UPnP router included) and
3fff:0::/32.

The wan namespace (`lab.hub`) holds every bridge and is "the internet": its
wan bridge has 203.0.113.254, 11.0.113.254 and 2001:db8::fe, it forwards,
routes each LAN's IPv6 prefix to its router, and is every WAN node's default
route; it has no route to any private IPv4 LAN, so nothing outside reaches
192.168.x.y except through its router's NAT.

Helpers (the first four from netns.Network): `run(node, argv)` a short
command's stdout; `popen(node, argv, ...)` a process ended by PID at
teardown; `call(node, fn)` / `socket(node)` code and sockets in a node's
namespace; `spawn(node, argv)` the same with stdout and stderr read into `Output`s
(`line`, `wait_for`: bounded waits); `nat_mappings(router)` what its NAT shows
peers now (from conntrack); `forget_mappings(router)` as a router restart
does; `move(host, router)` a host to another home, as a laptop moves; `cli(node, data_dir, *args)` runs a
`threads-desktop` command there and `serve(node, data_dir)` starts
`threads-desktop serve --listen /ip4/0.0.0.0/tcp/4141` there, both with
PYTHONPATH set to this checkout. At exit (also on failure): sockets closed,
processes (miniupnpd included) terminated then killed by PID, namespaces
deleted, the lab's temporary folder removed. Where namespaces cannot be made,
the test is skipped with the reason (a failure under CI, as in netns.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import json
import os
import queue
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from threads_desktop.bench.netns import (
    Host,
    Network,
    _add_namespace,
    _cannot,
    _run,
    _teardown,
    _wait_link_up,
)

ROOT = Path(__file__).parents[2]  # the folder holding threads_desktop: first on a child's path
NatKind = Literal["port_preserving", "port_remapping", "symmetric", "upnp"]
NAT_KINDS: tuple[NatKind, ...] = ("port_preserving", "port_remapping", "symmetric", "upnp")
MAX_ROUTERS = 8
MAX_HOSTS_PER_HOME = 8
LISTEN_PORT = 4141
DEFAULT_REMAP: Mapping[int, int] = {LISTEN_PORT: 14141}
INTERNET_HOST = 254
PUB_HOST, PUB2_HOST = 1, 3
WAN_SEGMENT = 0
READY_TIMEOUT = 20.0
CLI_TIMEOUT = 30.0
OUTPUT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Prefixes:
    """The public side's addresses: `wan` and `upnp_wan` the first three
    octets of a /24, `wan6` the first groups of the IPv6 prefix (WAN
    `<wan6>::/64`, LAN of segment k `<wan6>:<k>::/64`)."""

    wan: str = "203.0.113"
    upnp_wan: str = "11.0.113"  # public-looking: miniupnpd refuses 203.0.113.x as external
    wan6: str = "2001:db8"

    def wan6_address(self, number: int | str) -> str:
        """In the form sockets report it (RFC 5952), so tests can compare."""
        return str(ipaddress.ip_address(f"{self.wan6}::{number}"))

    def lan6_address(self, segment: int, number: int | str) -> str:
        return str(ipaddress.ip_address(f"{self.wan6}:{segment}::{number}"))

    def lan6_prefix(self, segment: int) -> str:
        return str(ipaddress.ip_network(f"{self.wan6}:{segment}::/64"))


DOCUMENTATION = Prefixes()
# Addresses Python's ipaddress calls global (3fff::/20 is documentation since
# RFC 9637, unknown to Python 3.11; 11.0.113.0/24 is only ever used in here).
GLOBAL_LOOKING = Prefixes(wan="11.0.113", upnp_wan="11.0.113", wan6="3fff:0")


@dataclass(frozen=True)
class Home:
    """One home network: its router's NAT `kind`, how many hosts on its LAN,
    and (port_remapping) which LAN ports leave as which WAN ports."""

    kind: NatKind = "port_preserving"
    hosts: int = 1
    remap: Mapping[int, int] = field(default_factory=lambda: dict(DEFAULT_REMAP))
    refuse: bool = False  # answer unsolicited TCP from the WAN with a reset instead of silence


@dataclass(frozen=True)
class Router:
    """A home router: `wan_ip` is the address the outside sees for its hosts."""

    name: str
    kind: NatKind
    letter: str
    wan_ip: str
    lan_ip: str
    subnet: str
    hosts: tuple[Host, ...]
    remap: Mapping[int, int]
    refuse: bool = False
    wan_ip6: str | None = None
    lan_ip6: str | None = None


@dataclass(frozen=True)
class NatMapping:
    """One flow a LAN host started: from lan_ip:lan_port, shown to peer_ip as wan_ip:wan_port."""

    protocol: str
    lan_ip: str
    lan_port: int
    wan_ip: str
    wan_port: int
    peer_ip: str
    peer_port: int


class Output:
    """The lines a process writes to one stream, read on a daemon thread (so
    its pipe never fills); every wait is bounded."""

    def __init__(self, stream: IO[str]) -> None:
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.lines: list[str] = []  # every line received so far, in order
        self._next = 0  # index in `lines` of the next line `line` returns
        self.closed = False
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        with contextlib.suppress(ValueError, OSError):  # closed at teardown
            for line in stream:
                self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def _receive(self, timeout: float | None) -> bool:
        """Move one line (or the end) from the reader to `lines`; False if none came."""
        try:
            line = self._queue.get(timeout=max(timeout, 0.01)) if timeout is not None else self._queue.get_nowait()
        except queue.Empty:
            return False
        if line is None:
            self.closed = True
        else:
            self.lines.append(line)
        return True

    def line(self, timeout: float = OUTPUT_TIMEOUT) -> str | None:
        """The next line; None once the stream has ended. AssertionError after `timeout` s."""
        if self._next == len(self.lines) and not self.closed and not self._receive(timeout):
            raise AssertionError(f"no output line within {timeout:g} s; so far:\n{self.text()}")
        if self._next == len(self.lines):
            return None
        self._next += 1
        return self.lines[self._next - 1]

    def wait_for(self, matches: Callable[[str], bool], timeout: float = OUTPUT_TIMEOUT) -> str:
        """The first further line that `matches`, within `timeout` s (AssertionError otherwise)."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.line(deadline - time.monotonic())
            if line is None:
                raise AssertionError(f"stream ended before a matching line; it said:\n{self.text()}")
            if matches(line):
                return line

    def text(self) -> str:
        """Every line received so far, without waiting (and without moving `line` on)."""
        while not self.closed and self._receive(None):
            pass
        return "\n".join(self.lines)


@dataclass
class Spawned:
    """A process in a namespace, its stdout and stderr being read."""

    process: subprocess.Popen[str]
    stdout: Output
    stderr: Output

    def log(self, last: int = 40) -> str:
        err = self.stderr.text().splitlines()[-last:]
        return f"pid {self.process.pid} exit {self.process.poll()}; stderr:\n" + "\n".join(err)


@dataclass
class Peer(Spawned):
    """`threads-desktop serve` on a profile in a namespace."""

    node: Host | None = None
    data_dir: Path | None = None
    serving: dict[str, Any] | None = None

    def ready(self, timeout: float = READY_TIMEOUT) -> dict[str, Any]:
        """The `serving` line (peer ID and addresses), waited for at most `timeout` s."""
        if self.serving is None:
            try:
                line = self.stdout.wait_for(lambda text: text.startswith("{"), timeout)
            except AssertionError as exc:
                raise AssertionError(f"{self.data_dir} not serving: {exc}\n{self.log()}") from None
            self.serving = dict(json.loads(line))
        return self.serving


@dataclass
class Lab(Network):
    """The namespaces of `home_networks` (see the module doc). `hosts` are
    the LAN hosts of every home, in router order."""

    pub: Host = field(default_factory=lambda: Host("", WAN_SEGMENT, ""))
    pub2: Host | None = None
    routers: list[Router] = field(default_factory=list)
    workdir: Path = field(default_factory=Path)
    prefixes: Prefixes = DOCUMENTATION
    ports: dict[str, str] = field(default_factory=dict)  # host namespace -> its bridge port in the hub

    def router_of(self, host: Host) -> Router:
        return next(r for r in self.routers if host.name in (h.name for h in r.hosts))

    def move(self, host: Host, to: Router) -> Host:
        """The host leaves its home's LAN for `to`'s, as a laptop carried to
        another network: its interface goes down, is plugged into the other
        LAN, gets that LAN's next free addresses and routes, and comes back
        up (processes keep running). The host as it now is; `hosts` and
        `routers` are updated (Router and Host objects held before are not)."""
        home = self.router_of(host)
        number = max((int(h.ip.rsplit(".", 1)[1]) for h in to.hosts), default=1) + 1
        segment = self.routers.index(to) + 1
        moved = dataclasses.replace(host, segment=segment, ip=f"192.168.{segment}.{number}",
                                    ip6=self.prefixes.lan6_address(segment, number) if host.ip6 else None)
        ns, interface = host.name, host.interface
        _run(["ip", "-n", ns, "link", "set", interface, "down"])
        _run(["ip", "-n", ns, "addr", "flush", "dev", interface])
        for family in ("-4", "-6"):
            _run(["ip", "-n", ns, family, "route", "flush", "dev", interface])
        _run(["ip", "-n", self.hub, "link", "set", self.ports[ns], "master", f"br{segment}"])
        _address_host(moved, to)
        _wait_link_up(ns, interface)
        for router in (home, to):
            kept = tuple(h for h in router.hosts if h.name != ns)
            self.routers[self.routers.index(router)] = dataclasses.replace(
                router, hosts=(*kept, moved) if router is to else kept)
        self.hosts[:] = [h for r in self.routers for h in r.hosts]
        return moved

    def forget_mappings(self, router: Router) -> None:
        """The router forgets every NAT mapping and connection it tracks, as
        when it restarts: a connection through it stalls until one side sends
        and the NAT makes a new mapping (maybe to another port)."""
        self.run(router.name, ["conntrack", "-F"])

    def nat_mappings(self, router: Router) -> set[NatMapping]:
        """What the router's NAT does now to TCP and UDP flows its LAN started
        (its conntrack table), e.g. to see which port a peer was shown."""
        table = self.run(router.name, ["conntrack", "-L"])
        lan = ipaddress.ip_network(router.subnet)
        return {m for m in _outbound_flows(table) if ipaddress.ip_address(m.lan_ip) in lan}

    def spawn(self, node: Host | str, argv: Sequence[str], env: Mapping[str, str] | None = None,
              cwd: Path | None = None) -> Spawned:
        """`argv` in the node's namespace, its output read; ended at teardown."""
        process = self.popen(node, argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=_environment(env), cwd=cwd)
        assert process.stdout is not None and process.stderr is not None
        return Spawned(process, Output(process.stdout), Output(process.stderr))

    def cli(self, node: Host | str, data_dir: Path, *args: str, timeout: float = CLI_TIMEOUT, expect: int = 0) -> str:
        """A `threads-desktop` command on a profile, run in the node's namespace;
        stdout. `expect`: its exit code (75 for `join --wait 0`: still waiting)."""
        argv = ["ip", "netns", "exec", _name(node), sys.executable, "-m", "threads_desktop",
                "--data-dir", str(data_dir), *args]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                env=_environment(None), cwd=ROOT)
        if result.returncode != expect:
            raise AssertionError(f"{' '.join(args)} in {_name(node)}: exit {result.returncode}: "
                                 f"{result.stderr.strip()[-2000:]}")
        return result.stdout

    def serve(self, node: Host, data_dir: Path, *args: str,
              listen: Sequence[str] = (f"/ip4/0.0.0.0/tcp/{LISTEN_PORT}",)) -> Peer:
        """`threads-desktop serve --listen L1 [--listen L2 ...] ARGS...` in the
        node's namespace (add f"/ip6/::/tcp/{LISTEN_PORT}" for IPv6)."""
        listening = [word for address in listen for word in ("--listen", address)]
        spawned = self.spawn(node, [sys.executable, "-m", "threads_desktop", "--data-dir", str(data_dir),
                                    "serve", *listening, *args], cwd=ROOT)
        return Peer(spawned.process, spawned.stdout, spawned.stderr, node=node, data_dir=data_dir)


def _outbound_flows(table: str) -> Iterator[NatMapping]:
    """Flows of `conntrack -L` lines: `tcp 6 431999 ESTABLISHED src= dst= sport=
    dport= src= dst= sport= dport= [ASSURED] ...` (original, then reply)."""
    for line in table.splitlines():
        words = line.split()
        if not words or words[0] not in ("tcp", "udp"):
            continue
        pairs = [(key, value) for key, _, value in (w.partition("=") for w in words)
                 if key in ("src", "dst", "sport", "dport")]
        if len(pairs) != 8:
            continue
        original, reply = dict(pairs[:4]), dict(pairs[4:])
        yield NatMapping(words[0], original["src"], int(original["sport"]), reply["dst"], int(reply["dport"]),
                         original["dst"], int(original["dport"]))


def _name(node: Host | str) -> str:
    return node.name if isinstance(node, Host) else node


def _environment(extra: Mapping[str, str] | None) -> dict[str, str]:
    """This checkout first on the path, so a child imports this worktree's code."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.update(extra or {})
    return env


@contextlib.contextmanager
def home_networks(*homes: Home | NatKind, pub2: bool = False, ipv6: bool = True,
                  prefixes: Prefixes = DOCUMENTATION) -> Iterator[Lab]:
    """One home router per argument (a kind, or a Home), a public host `pub`
    (and `pub2`), joined by the wan bridge (see the module doc)."""
    specs = [h if isinstance(h, Home) else Home(h) for h in homes]
    if not 1 <= len(specs) <= MAX_ROUTERS or not all(
            s.kind in NAT_KINDS and 1 <= s.hosts <= MAX_HOSTS_PER_HOME for s in specs):
        raise ValueError(f"1..{MAX_ROUTERS} homes of 1..{MAX_HOSTS_PER_HOME} hosts, kinds {NAT_KINDS}")
    prefix = f"td-{os.getpid()}-{secrets.token_hex(3)}"
    lab = Lab(hub=f"{prefix}-wan", hosts=[], workdir=Path(tempfile.mkdtemp(prefix=f"{prefix}-")),
              prefixes=prefixes)
    try:
        _build(lab, prefix, specs, pub2, ipv6)
        yield lab
    finally:
        try:
            _teardown(lab)
        finally:
            shutil.rmtree(lab.workdir, ignore_errors=True)


def _build(lab: Lab, prefix: str, specs: list[Home], with_pub2: bool, ipv6: bool) -> None:
    if any(s.kind == "upnp" for s in specs) and shutil.which("miniupnpd") is None:
        _cannot("no miniupnpd (scripts/install-system-deps.sh installs it)")
    if shutil.which("nft") is None:
        _cannot("no nft (nftables; scripts/install-system-deps.sh installs it)")
    hub, plan = lab.hub, lab.prefixes
    _namespace(lab, hub)
    _bridge(hub, WAN_SEGMENT)
    # The internet: a forwarding namespace on the wan bridge, default route of every WAN node.
    for wan in dict.fromkeys([plan.wan, plan.upnp_wan]):
        _run(["ip", "-n", hub, "addr", "add", f"{wan}.{INTERNET_HOST}/24", "dev", f"br{WAN_SEGMENT}"])
    _sysctl(hub, "net.ipv4.ip_forward=1", "net.ipv4.conf.all.send_redirects=0")
    if ipv6:
        _run(["ip", "-n", hub, "addr", "add", f"{plan.wan6_address('fe')}/64", "dev", f"br{WAN_SEGMENT}",
              "nodad"])
        _sysctl(hub, "net.ipv6.conf.all.forwarding=1")

    lab.pub = _wan_node(lab, f"{prefix}-pub", "wp0", PUB_HOST, ipv6)
    if with_pub2:
        lab.pub2 = _wan_node(lab, f"{prefix}-pub2", "wp1", PUB2_HOST, ipv6)
    for i, spec in enumerate(specs):
        lab.routers.append(_home(lab, prefix, i, spec, ipv6))
    for router in lab.routers:
        for host in router.hosts:
            _wait_link_up(host.name, host.interface)
        _wait_link_up(router.name, "wan")
        _wait_link_up(router.name, "lan")
    for node in (lab.pub, lab.pub2):
        if node is not None:
            _wait_link_up(node.name, node.interface)
    for router in lab.routers:
        if router.kind == "upnp":
            _start_miniupnpd(lab, router)


def _namespace(lab: Lab, name: str) -> None:
    _add_namespace(name, lab.namespaces)
    # Addresses usable at once: no duplicate detection delay on new interfaces.
    _sysctl(name, "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.accept_dad=0")


def _sysctl(ns: str, *settings: str) -> None:
    _run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w", *settings])


def _bridge(hub: str, segment: int) -> None:
    _run(["ip", "-n", hub, "link", "add", f"br{segment}", "type", "bridge",
          "forward_delay", "0", "mcast_snooping", "0"])
    _run(["ip", "-n", hub, "link", "set", f"br{segment}", "up"])


def _plug(lab: Lab, ns: str, segment: int, port: str, interface: str,
          addresses: Sequence[str]) -> None:
    """A veth from bridge `br<segment>` in the hub to `interface` in `ns`, with `addresses` (CIDR)."""
    hub = lab.hub
    _run(["ip", "-n", hub, "link", "add", port, "type", "veth", "peer", "name", interface, "netns", ns])
    _run(["ip", "-n", hub, "link", "set", port, "master", f"br{segment}", "up"])
    for address in addresses:
        _run(["ip", "-n", ns, "addr", "add", address, "dev", interface, *(["nodad"] if ":" in address else [])])
    _run(["ip", "-n", ns, "link", "set", interface, "multicast", "on", "up"])


def _wan_node(lab: Lab, name: str, port: str, number: int, ipv6: bool) -> Host:
    _namespace(lab, name)
    plan = lab.prefixes
    ip6 = plan.wan6_address(number) if ipv6 else None
    _plug(lab, name, WAN_SEGMENT, port, "eth0", [f"{plan.wan}.{number}/24", *([f"{ip6}/64"] if ip6 else [])])
    _default_routes(lab, name, ipv6)
    return Host(name=name, segment=WAN_SEGMENT, ip=f"{plan.wan}.{number}", ip6=ip6)


def _default_routes(lab: Lab, ns: str, ipv6: bool) -> None:
    _run(["ip", "-n", ns, "route", "add", "default", "via", f"{lab.prefixes.wan}.{INTERNET_HOST}"])
    if ipv6:
        _run(["ip", "-n", ns, "-6", "route", "add", "default", "via", lab.prefixes.wan6_address("fe")])


def _home(lab: Lab, prefix: str, i: int, spec: Home, ipv6: bool) -> Router:
    letter = "ABCDEFGH"[i]
    segment = i + 1
    name = f"{prefix}-nat{letter}"
    _namespace(lab, name)
    _bridge(lab.hub, segment)
    plan = lab.prefixes
    wan_ip = f"{plan.upnp_wan if spec.kind == 'upnp' else plan.wan}.{11 + i}"
    wan6 = plan.wan6_address(11 + i) if ipv6 else None
    lan6 = plan.lan6_address(segment, 1) if ipv6 else None
    _plug(lab, name, WAN_SEGMENT, f"wr{i}", "wan",
          [*dict.fromkeys([f"{plan.wan}.{11 + i}/24", f"{wan_ip}/24"]), *([f"{wan6}/64"] if wan6 else [])])
    _plug(lab, name, segment, f"lr{i}", "lan", [f"192.168.{segment}.1/24", *([f"{lan6}/64"] if lan6 else [])])
    _default_routes(lab, name, ipv6)
    if wan_ip != f"{plan.wan}.{11 + i}":
        # Everything it sends out comes from the public-looking address.
        gateway = f"{plan.wan}.{INTERNET_HOST}"
        _run(["ip", "-n", name, "route", "replace", f"{plan.wan}.0/24", "dev", "wan", "src", wan_ip])
        _run(["ip", "-n", name, "route", "replace", "default", "via", gateway, "src", wan_ip])
    _sysctl(name, "net.ipv4.ip_forward=1", *(["net.ipv6.conf.all.forwarding=1"] if ipv6 else []))
    if wan6 is not None:
        _run(["ip", "-n", lab.hub, "-6", "route", "add", plan.lan6_prefix(segment), "via", wan6])
    hosts = tuple(Host(name=f"{prefix}-{letter.lower()}{j + 1}", segment=segment, ip=f"192.168.{segment}.{j + 2}",
                       ip6=plan.lan6_address(segment, j + 2) if ipv6 else None) for j in range(spec.hosts))
    router = Router(name=name, kind=spec.kind, letter=letter, wan_ip=wan_ip, lan_ip=f"192.168.{segment}.1",
                    subnet=f"192.168.{segment}.0/24", hosts=hosts, remap=dict(spec.remap), refuse=spec.refuse,
                    wan_ip6=wan6, lan_ip6=lan6)
    _run(["ip", "netns", "exec", name, "nft", "-f", "-"], input_text=_ruleset(router))
    for j, host in enumerate(hosts):
        _namespace(lab, host.name)
        lab.ports[host.name] = f"h{i}x{j}"
        _run(["ip", "-n", lab.hub, "link", "add", lab.ports[host.name], "type", "veth",
              "peer", "name", host.interface, "netns", host.name])
        _run(["ip", "-n", lab.hub, "link", "set", lab.ports[host.name], "master", f"br{segment}", "up"])
        _address_host(host, router)
        lab.hosts.append(host)
    return router


def _address_host(host: Host, router: Router) -> None:
    """The host's addresses on its LAN, its interface up, its routes via the router."""
    ns, interface = host.name, host.interface
    for address in (f"{host.ip}/24", *([f"{host.ip6}/64"] if host.ip6 else [])):
        _run(["ip", "-n", ns, "addr", "add", address, "dev", interface, *(["nodad"] if ":" in address else [])])
    _run(["ip", "-n", ns, "link", "set", interface, "multicast", "on", "up"])
    _run(["ip", "-n", ns, "route", "replace", "default", "via", router.lan_ip])
    _run(["ip", "-n", ns, "route", "replace", "224.0.0.0/4", "dev", interface])
    if host.ip6 is not None and router.lan_ip6 is not None:
        _run(["ip", "-n", ns, "-6", "route", "replace", "default", "via", router.lan_ip6])


def _ruleset(router: Router) -> str:
    """The router's firewall and NAT (see the module doc); miniupnpd's chains
    (its default names, in `table inet filter`) are empty unless it maps."""
    nat = {
        "port_preserving": ["masquerade"],
        # masquerade would take the WAN address on the next hop's subnet (203.0.113.x)
        "upnp": [f"snat ip to {router.wan_ip}"],
        "symmetric": ["masquerade random"],
        "port_remapping": [*(f"meta l4proto {{ tcp, udp }} th sport {lan} snat ip to {router.wan_ip}:{wan}"
                             for lan, wan in sorted(router.remap.items())), "masquerade"],
    }[router.kind]
    outbound = "\n".join(f'        oifname "wan" meta nfproto ipv4 {rule}' for rule in nat)
    # Otherwise the policy drops it: a dial times out rather than fails at once.
    refused = '        iifname "wan" meta l4proto tcp reject with tcp reset\n' if router.refuse else ""
    return f"""
table inet filter {{
    chain miniupnpd {{
    }}
    chain prerouting_miniupnpd {{
    }}
    chain postrouting_miniupnpd {{
    }}
    chain input {{
        type filter hook input priority filter; policy drop;
        ct state established,related accept
        iifname {{ "lo", "lan" }} accept
        icmpv6 type {{ nd-neighbor-solicit, nd-neighbor-advert }} accept
{refused}    }}
    chain forward {{
        type filter hook forward priority filter; policy drop;
        ct state established,related accept
        iifname "lan" oifname "wan" accept
        iifname "wan" jump miniupnpd
{refused}    }}
    chain prerouting {{
        type nat hook prerouting priority dstnat; policy accept;
        jump prerouting_miniupnpd
    }}
    chain postrouting {{
        type nat hook postrouting priority srcnat; policy accept;
        jump postrouting_miniupnpd
{outbound}
    }}
}}
"""


def _start_miniupnpd(lab: Lab, router: Router) -> None:
    """miniupnpd in the router's namespace, in the foreground (-d: ended by
    PID at teardown), serving the LAN; mappings only of a host's own address,
    ports 1024-65535."""
    folder = lab.workdir / router.name.rsplit("-", 1)[-1]
    folder.mkdir()
    config = folder / "miniupnpd.conf"
    config.write_text("\n".join([
        "ext_ifname=wan", f"ext_ip={router.wan_ip}", "listening_ip=lan", "http_port=0",
        "enable_upnp=yes", "enable_natpmp=yes", "secure_mode=yes", "system_uptime=yes", "ipv6_disable=yes",
        f"uuid={uuid.uuid4()}", f"lease_file={folder / 'leases'}",
        f"allow 1024-65535 {router.subnet} 1024-65535", "deny 0-65535 0.0.0.0/0 0-65535", ""]))
    daemon = lab.spawn(router.name, ["miniupnpd", "-d", "-f", str(config), "-P", str(folder / "pid")])
    try:
        daemon.stderr.wait_for(lambda line: "HTTP listening on port" in line, OUTPUT_TIMEOUT)
    except AssertionError as exc:
        raise AssertionError(f"miniupnpd in {router.name} did not start: {exc}") from None
