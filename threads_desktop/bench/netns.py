"""Network namespaces for tests that must not touch the host's network.

`network(2, 3)` builds two L2 segments: a hub namespace holds one bridge per
segment, and each host namespace is joined to its segment's bridge by a veth
pair (`eth0` inside the host). Host `i` of segment `k` has `10.77.<k>.<i+1>/24`;
`lo` and `eth0` are up, `eth0` with multicast on, and a multicast route
`224.0.0.0/4` points at `eth0` (zeroconf on all interfaces sets the outgoing
interface per socket and needs no route, but a socket that sends to the
default interface, as `InterfaceChoice.Default` does, gets ENETUNREACH without
one). IPv6 is left on (link-local addresses only). Segments see nothing of each other unless
`router=True`, which adds a namespace with `10.77.<k>.254` on every segment,
IPv4 forwarding on, as every host's default route (multicast is not routed,
so mDNS stays per segment). `lan(n)` is one segment of n hosts.

Nothing is created in the host's namespace: veths are made inside the hub and
their peers moved into the hosts. Namespace names are `td-<pid>-<token>-<role>`,
so parallel runs never collide. If `ip netns add` fails (not root, no
permission, no `ip`), LabUnavailable says why (tests skip with the reason). On exit, processes
started with `Network.popen` are terminated by PID (then killed) and their
pipes closed, and every namespace is deleted, also when the test failed.

    with lan(2) as net:
        a, b = net.hosts
        proc = net.popen(a, [sys.executable, "-c", "..."], stdout=subprocess.PIPE)
        listener = net.socket(b)  # a socket of b's namespace, used from this thread

`Network.call(host, fn)` runs `fn` on a short-lived thread that has joined the
host's namespace (setns(2) moves only that thread), so in-process code such as
miniupnpc discovers and dials from the host; `Network.socket` uses it to make
a socket there, which stays in that namespace wherever it is used and is
closed at teardown. threads_desktop/bench/lab.py builds home routers and public
hosts on these pieces.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

SUBNET = "10.77"
PREFIX_LENGTH = 24
ROUTER_HOST = 254
MAX_SEGMENTS = 16
MAX_HOSTS_PER_SEGMENT = 32
LINK_UP_TIMEOUT = 5.0
STOP_TIMEOUT = 5.0
IP_TIMEOUT = 10.0
CALL_TIMEOUT = 30.0
CLONE_NEWNET = 0x40000000  # <sched.h>; os.setns arrives only in Python 3.12

T = TypeVar("T")


@dataclass(frozen=True)
class Host:
    """A namespace on one segment: `ip` (and `ip6`, where the network has
    IPv6 beyond link-local) on `interface` (`eth0`)."""

    name: str
    segment: int
    ip: str
    interface: str = "eth0"
    ip6: str | None = None


@dataclass
class Network:
    hub: str
    hosts: list[Host]
    router: str | None = None
    namespaces: list[str] = field(default_factory=list)
    processes: list[subprocess.Popen[Any]] = field(default_factory=list)
    sockets: list[socket.socket] = field(default_factory=list)

    def segment(self, k: int) -> list[Host]:
        return [h for h in self.hosts if h.segment == k]

    def popen(self, host: Host | str, argv: Sequence[str], **popen_kwargs: Any) -> subprocess.Popen[Any]:
        """`run_in_ns`, and the process is ended when the network is torn down."""
        process = run_in_ns(host, argv, **popen_kwargs)
        self.processes.append(process)
        return process

    def run(self, host: Host | str, argv: Sequence[str], timeout: float = IP_TIMEOUT) -> str:
        """Run a short command in a namespace; its stdout, or AssertionError."""
        return _run(["ip", "netns", "exec", _ns_name(host), *argv], timeout)

    def call(self, host: Host | str, fn: Callable[[], T], timeout: float = CALL_TIMEOUT) -> T:
        """`call_in_ns`."""
        return call_in_ns(host, fn, timeout)

    def socket(self, host: Host | str, family: int = socket.AF_INET,
               kind: int = socket.SOCK_STREAM) -> socket.socket:
        """A socket in the host's namespace, closed at teardown."""
        sock = call_in_ns(host, lambda: socket.socket(family, kind))
        self.sockets.append(sock)
        return sock


def _ns_name(ns: Host | str) -> str:
    return ns.name if isinstance(ns, Host) else ns


def run_in_ns(ns: Host | str, argv: Sequence[str], **popen_kwargs: Any) -> subprocess.Popen[Any]:
    """Start `argv` inside namespace `ns` (`ip netns exec` execs it: the PID is
    the command's own)."""
    return subprocess.Popen(["ip", "netns", "exec", _ns_name(ns), *argv], **popen_kwargs)


def call_in_ns(ns: Host | str, fn: Callable[[], T], timeout: float = CALL_TIMEOUT) -> T:
    """`fn()` on a new thread inside namespace `ns`; its result or its exception.
    The thread ends with the call, so no other thread ever changes namespace.
    AssertionError if it has not returned after `timeout` s (the thread is a
    daemon: keep `fn` bounded, e.g. with socket timeouts)."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            _enter_namespace(_ns_name(ns))
            outcome.append((True, fn()))
        except BaseException as exc:  # noqa: BLE001  # re-raised in the caller's thread
            outcome.append((False, exc))

    thread = threading.Thread(target=run, name=f"in {_ns_name(ns)}", daemon=True)
    thread.start()
    thread.join(timeout)
    if not outcome:
        raise AssertionError(f"call in {_ns_name(ns)} still running after {timeout}s")
    ok, value = outcome[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


def _enter_namespace(name: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns {name}: {os.strerror(errno)}")
    finally:
        os.close(fd)


def stop_process(process: subprocess.Popen[Any], timeout: float = STOP_TIMEOUT) -> int:
    """SIGTERM by PID, wait; SIGKILL if it does not exit in time. The exit code."""
    if process.poll() is None:
        process.terminate()
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait(timeout)


def _run(argv: Sequence[str], timeout: float = IP_TIMEOUT, input_text: str | None = None) -> str:
    result = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, input=input_text)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout


class LabUnavailable(Exception):
    """Namespaces (or a tool the lab needs) cannot be had here: tests skip
    with the reason (fail under CI), `bench reach` says it."""


def _cannot(reason: str) -> NoReturn:
    raise LabUnavailable(f"network namespaces: {reason}")


def _add_namespace(name: str, created: list[str]) -> None:
    if shutil.which("ip") is None:
        _cannot("no `ip` command (iproute2)")
    result = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True, timeout=IP_TIMEOUT)
    if result.returncode != 0:
        _cannot(f"cannot create one: {result.stderr.strip() or result.returncode}")
    created.append(name)
    _run(["ip", "-n", name, "link", "set", "lo", "up"])


def _wait_link_up(ns: str, interface: str) -> None:
    """Poll until the veth reports carrier (both ends up); bounded by LINK_UP_TIMEOUT."""
    deadline = time.monotonic() + LINK_UP_TIMEOUT
    while True:
        [link] = json.loads(_run(["ip", "-n", ns, "-j", "link", "show", "dev", interface]))
        if link.get("operstate") == "UP":
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{interface} in {ns} not up after {LINK_UP_TIMEOUT}s: {link}")
        time.sleep(0.02)


def _join(hub: str, ns: str, segment: int, port: str, interface: str, ip: str) -> None:
    """A veth from the segment's bridge in the hub to `interface` in `ns`."""
    _run(["ip", "-n", hub, "link", "add", port, "type", "veth", "peer", "name", interface, "netns", ns])
    _run(["ip", "-n", hub, "link", "set", port, "master", f"br{segment}", "up"])
    _run(["ip", "-n", ns, "addr", "add", f"{ip}/{PREFIX_LENGTH}", "dev", interface])
    _run(["ip", "-n", ns, "link", "set", interface, "multicast", "on", "up"])


def _teardown(net: Network) -> None:
    errors: list[str] = []
    for sock in net.sockets:
        sock.close()
    for process in net.processes:
        try:
            stop_process(process)
        except (OSError, subprocess.SubprocessError) as exc:  # keep tearing down
            errors.append(f"process {process.pid}: {exc!r}")
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    for name in reversed(net.namespaces):
        result = subprocess.run(["ip", "netns", "del", name], capture_output=True, text=True, timeout=IP_TIMEOUT)
        if result.returncode != 0:
            errors.append(f"ip netns del {name}: {result.stderr.strip()}")
    if errors:
        raise AssertionError("netns teardown: " + "; ".join(errors))


@contextlib.contextmanager
def network(*segment_sizes: int, router: bool = False) -> Iterator[Network]:
    """One segment per size, each with that many host namespaces (see module doc)."""
    if not 1 <= len(segment_sizes) <= MAX_SEGMENTS or not all(
            1 <= n <= MAX_HOSTS_PER_SEGMENT for n in segment_sizes):
        raise ValueError(f"1..{MAX_SEGMENTS} segments of 1..{MAX_HOSTS_PER_SEGMENT} hosts")
    prefix = f"td-{os.getpid()}-{secrets.token_hex(3)}"
    net = Network(hub=f"{prefix}-hub", hosts=[])
    try:
        _add_namespace(net.hub, net.namespaces)
        for k in range(len(segment_sizes)):
            _run(["ip", "-n", net.hub, "link", "add", f"br{k}", "type", "bridge",
                  "forward_delay", "0", "mcast_snooping", "0"])
            _run(["ip", "-n", net.hub, "link", "set", f"br{k}", "up"])
        for k, size in enumerate(segment_sizes):
            for i in range(size):
                host = Host(name=f"{prefix}-{k}-{i}", segment=k, ip=f"{SUBNET}.{k}.{i + 1}")
                _add_namespace(host.name, net.namespaces)
                _join(net.hub, host.name, k, f"s{k}p{i}", host.interface, host.ip)
                _run(["ip", "-n", host.name, "route", "add", "224.0.0.0/4", "dev", host.interface])
                net.hosts.append(host)
        if router:
            net.router = f"{prefix}-router"
            _add_namespace(net.router, net.namespaces)
            for k in range(len(segment_sizes)):
                _join(net.hub, net.router, k, f"s{k}r", f"eth{k}", f"{SUBNET}.{k}.{ROUTER_HOST}")
            _run(["ip", "netns", "exec", net.router, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
            for host in net.hosts:
                gateway = f"{SUBNET}.{host.segment}.{ROUTER_HOST}"
                _run(["ip", "-n", host.name, "route", "add", "default", "via", gateway])
        for host in net.hosts:
            _wait_link_up(host.name, host.interface)
        if net.router is not None:
            for k in range(len(segment_sizes)):
                _wait_link_up(net.router, f"eth{k}")
        yield net
    finally:
        _teardown(net)


def lan(n: int) -> contextlib.AbstractContextManager[Network]:
    """n host namespaces on one segment: 10.77.0.1 .. 10.77.0.n."""
    return network(n)
