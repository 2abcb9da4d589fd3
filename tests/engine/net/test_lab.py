"""The lab behaves as real home networks do, seen with plain sockets: hosts
reach the public side through their router's NAT (IPv6 routed), each NAT
kind maps ports as its kind should, nothing from outside gets in unasked
(dropped, or refused by a router told to), a UPnP mapping lets it in, a
router restart forgets mappings, a host can move to another home, and the
lab leaves nothing behind."""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
from collections.abc import Iterator
from typing import Any

import miniupnpc  # type: ignore[import-not-found]  # no stubs; py-libp2p depends on it
import pytest

from threads_desktop.bench.lab import GLOBAL_LOOKING, NAT_KINDS, Home, Lab, NatMapping, Router, home_networks
from threads_desktop.bench.netns import Host

CONNECT_TIMEOUT = 5.0
UNSOLICITED_TIMEOUT = 1.0  # a dropped SYN: nothing comes back within it
UPNP_DISCOVERY_MS = 1000


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with home_networks(*NAT_KINDS, Home("port_preserving", hosts=2), Home("port_preserving", refuse=True),
                       pub2=True) as built:
        yield built


def router(lab: Lab, kind: str) -> Router:
    """The lab's first home of that kind (one host, silent to strangers)."""
    return next(r for r in lab.routers if r.kind == kind)


def listener(lab: Lab, node: Host | str, port: int, family: int = socket.AF_INET) -> socket.socket:
    server = lab.socket(node, family)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    server.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", port))
    server.listen(8)
    server.settimeout(CONNECT_TIMEOUT)
    return server


def dial(lab: Lab, node: Host | str, address: str, port: int, source_port: int = 0,
         timeout: float = CONNECT_TIMEOUT) -> socket.socket:
    """A TCP connection from `node` (from `source_port`, if given; two sockets
    may share one, as a libp2p host dials from its listen port)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    client = lab.socket(node, family)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if source_port:
        client.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", source_port))
    client.settimeout(timeout)
    client.connect((address, port))
    return client


def accepted(server: socket.socket) -> tuple[socket.socket, Any]:
    connection, peer = server.accept()
    connection.settimeout(CONNECT_TIMEOUT)
    return connection, peer


def echo(client: socket.socket, connection: socket.socket, payload: bytes) -> bytes:
    client.sendall(payload)
    connection.sendall(connection.recv(len(payload)))
    return client.recv(len(payload))


def unsolicited(lab: Lab, node: Host | str, address: str, port: int) -> type[BaseException] | None:
    """What a dial from `node` gets: None if it connected, else the exception type."""
    try:
        dial(lab, node, address, port, timeout=UNSOLICITED_TIMEOUT).close()
    except OSError as exc:
        return type(exc)
    return None


@pytest.mark.parametrize("kind", NAT_KINDS)
def test_a_home_host_reaches_pub_which_sees_the_routers_wan_address(lab: Lab, kind: str) -> None:
    home = router(lab, kind)
    [host] = home.hosts
    with listener(lab, lab.pub, 7001) as server:
        client = dial(lab, host, lab.pub.ip, 7001)
        connection, (source_ip, _) = accepted(server)
    assert source_ip == home.wan_ip
    assert client.getsockname()[0] == host.ip  # the host knows only its LAN address
    assert echo(client, connection, b"over the NAT") == b"over the NAT"


def test_over_ipv6_a_home_host_reaches_pub_with_its_own_address(lab: Lab) -> None:
    host = router(lab, "port_preserving").hosts[0]
    assert lab.pub.ip6 is not None and host.ip6 is not None
    server = listener(lab, lab.pub, 7002, socket.AF_INET6)
    client = dial(lab, host, lab.pub.ip6, 7002)
    connection, (source_ip, *_) = accepted(server)
    assert source_ip == host.ip6  # routed, not translated
    assert echo(client, connection, b"v6") == b"v6"


@pytest.mark.parametrize("kind", NAT_KINDS)
def test_pub_cannot_open_a_connection_to_a_home_host_the_router_drops_it(lab: Lab, kind: str) -> None:
    home = router(lab, kind)
    [host] = home.hosts
    listener(lab, host, 7003)
    listener(lab, host, 7003, socket.AF_INET6)
    # The host does listen: from its own LAN it is reached at once.
    assert unsolicited(lab, home.name, host.ip, 7003) is None
    # From outside, at the router's address (nothing forwarded) or routed to
    # the host's IPv6 address: no answer at all, so a dial times out.
    assert unsolicited(lab, lab.pub, home.wan_ip, 7003) is TimeoutError
    assert host.ip6 is not None
    assert unsolicited(lab, lab.pub, host.ip6, 7003) is TimeoutError


def test_a_refusing_router_answers_an_unsolicited_dial_with_a_reset(lab: Lab) -> None:
    home = next(r for r in lab.routers if r.refuse)
    [host] = home.hosts
    listener(lab, host, 7008)
    listener(lab, host, 7008, socket.AF_INET6)
    assert host.ip6 is not None
    assert unsolicited(lab, lab.pub, home.wan_ip, 7008) is ConnectionRefusedError
    assert unsolicited(lab, lab.pub, host.ip6, 7008) is ConnectionRefusedError
    assert unsolicited(lab, home.name, host.ip, 7008) is None


def test_a_port_preserving_router_keeps_the_hosts_port_for_every_peer(lab: Lab) -> None:
    home = router(lab, "port_preserving")
    assert external_ports(lab, home.hosts[0], 40001, 7004) == (40001, 40001)


def test_a_port_remapping_router_maps_the_listen_port_to_another_for_every_peer(lab: Lab) -> None:
    home = router(lab, "port_remapping")
    [(lan_port, wan_port)] = home.remap.items()
    assert wan_port != lan_port
    [host] = home.hosts
    assert external_ports(lab, host, lan_port, 7005) == (wan_port, wan_port)
    assert lab.pub2 is not None
    shown = {m for m in lab.nat_mappings(home) if m.peer_port == 7005}
    assert shown == {NatMapping("tcp", host.ip, lan_port, home.wan_ip, wan_port, peer.ip, 7005)
                     for peer in (lab.pub, lab.pub2)}


def test_a_symmetric_router_gives_each_peer_another_port(lab: Lab) -> None:
    home = router(lab, "symmetric")
    to_pub, to_pub2 = external_ports(lab, home.hosts[0], 40002, 7006)
    assert to_pub != to_pub2


def test_two_hosts_of_one_home_on_one_port_get_two_external_ports(lab: Lab) -> None:
    home = next(r for r in lab.routers if len(r.hosts) == 2)
    seen = []
    with listener(lab, lab.pub, 7007) as server:
        for host in home.hosts:
            dial(lab, host, lab.pub.ip, 7007, source_port=40003)
            seen.append(accepted(server)[1])
    assert [ip for ip, _ in seen] == [home.wan_ip, home.wan_ip]
    # The first keeps its port; the second cannot have it too (same peer, same 4-tuple).
    assert seen[0][1] == 40003 and seen[1][1] != 40003


def external_ports(lab: Lab, host: Host, local_port: int, server_port: int) -> tuple[int, int]:
    """The source ports pub and pub2 see for two connections from one local port."""
    assert lab.pub2 is not None
    ports = []
    for public in (lab.pub, lab.pub2):
        with listener(lab, public, server_port) as server:
            client = dial(lab, host, public.ip, server_port, source_port=local_port)
            assert client.getsockname()[1] == local_port
            connection, (source_ip, source_port) = accepted(server)
        assert source_ip == lab.router_of(host).wan_ip
        assert echo(client, connection, b"port") == b"port"
        ports.append(source_port)
    return ports[0], ports[1]


def test_a_home_host_maps_a_port_by_upnp_and_pub_connects_through_it(lab: Lab) -> None:
    home = router(lab, "upnp")
    [host] = home.hosts
    server = listener(lab, host, 4141)
    assert unsolicited(lab, lab.pub, home.wan_ip, 4141) is TimeoutError

    def map_port() -> tuple[str, str, bool]:
        upnp = miniupnpc.UPnP()
        upnp.discoverdelay = UPNP_DISCOVERY_MS
        assert upnp.discover() >= 1
        upnp.selectigd()
        return upnp.externalipaddress(), upnp.lanaddr, upnp.addportmapping(
            4141, "TCP", upnp.lanaddr, 4141, "threads lab", "")

    external, lan_address, mapped = lab.call(host, map_port)
    assert (external, lan_address, mapped) == (home.wan_ip, host.ip, True)

    client = dial(lab, lab.pub, home.wan_ip, 4141)
    connection, (source_ip, _) = accepted(server)
    assert source_ip == lab.pub.ip  # forwarded, the dialler's own address kept
    assert echo(client, connection, b"mapped") == b"mapped"

    def unmap_port() -> bool:
        upnp = miniupnpc.UPnP()
        upnp.discoverdelay = UPNP_DISCOVERY_MS
        upnp.discover()
        upnp.selectigd()
        return bool(upnp.deleteportmapping(4141, "TCP"))

    assert lab.call(host, unmap_port)
    assert unsolicited(lab, lab.pub, home.wan_ip, 4141) is TimeoutError


def test_a_lab_on_global_looking_prefixes_shows_peers_global_addresses() -> None:
    with home_networks("port_preserving", "upnp", prefixes=GLOBAL_LOOKING) as lab:
        assert lab.pub.ip6 is not None
        with listener(lab, lab.pub, 7009) as server, listener(lab, lab.pub, 7009, socket.AF_INET6) as server6:
            for home in lab.routers:
                [host] = home.hosts
                assert host.ip6 is not None
                dial(lab, host, lab.pub.ip, 7009)
                dial(lab, host, lab.pub.ip6, 7009)
                seen = accepted(server)[1][0], accepted(server6)[1][0]
                assert seen == (home.wan_ip, host.ip6)
                assert all(ipaddress.ip_address(a).is_global for a in (*seen, lab.pub.ip, lab.pub.ip6))


def test_a_spawned_process_runs_in_its_namespace_and_its_output_is_read_with_bounded_waits(lab: Lab) -> None:
    [host] = router(lab, "symmetric").hosts
    spawned = lab.spawn(host, ["sh", "-c", "ip -4 -o addr show dev eth0; echo done; exec sleep 60"])
    assert host.ip in spawned.stdout.wait_for(lambda line: "inet " in line)
    assert spawned.stdout.line() == "done"
    with pytest.raises(AssertionError, match=r"no output line within 0\.2 s"):
        spawned.stdout.line(timeout=0.2)
    assert spawned.stdout.text().endswith("done") and spawned.process.poll() is None


def test_a_host_moved_to_another_home_gets_its_addresses_and_is_seen_at_its_router() -> None:
    with home_networks("port_preserving", Home("symmetric", hosts=2)) as lab:
        nat_a, nat_b = lab.routers
        [host] = nat_a.hosts
        moved = lab.move(host, nat_b)
        assert (moved.name, moved.ip, moved.ip6) == (host.name, "192.168.2.4", "2001:db8:2::4")
        [nat_a, nat_b] = lab.routers
        assert nat_a.hosts == () and nat_b.hosts[-1] == moved and lab.router_of(moved) == nat_b
        assert lab.hosts == list(nat_b.hosts)
        shown = lab.run(moved, ["ip", "-o", "addr", "show", "dev", "eth0", "scope", "global"])
        assert "192.168.2.4/24" in shown and "2001:db8:2::4/64" in shown and "192.168.1." not in shown
        assert lab.pub.ip6 is not None
        with listener(lab, lab.pub, 7010) as server, listener(lab, lab.pub, 7010, socket.AF_INET6) as server6:
            dial(lab, moved, lab.pub.ip, 7010)
            dial(lab, moved, lab.pub.ip6, 7010)
            assert (accepted(server)[1][0], accepted(server6)[1][0]) == (nat_b.wan_ip, moved.ip6)


def test_a_router_that_forgets_its_mappings_drops_what_comes_back_on_them(lab: Lab) -> None:
    home = router(lab, "port_preserving")
    [host] = home.hosts
    with listener(lab, lab.pub, 7011) as server:
        client = dial(lab, host, lab.pub.ip, 7011, source_port=40011)
        connection, _ = accepted(server)
    assert echo(client, connection, b"before") == b"before"
    assert any(m.lan_port == 40011 for m in lab.nat_mappings(home))
    lab.forget_mappings(home)
    assert not any(m.lan_port == 40011 for m in lab.nat_mappings(home))
    connection.sendall(b"lost")  # to WAN:40011, which the router no longer knows
    client.settimeout(UNSOLICITED_TIMEOUT)
    with pytest.raises(TimeoutError):
        client.recv(4)


def namespaces() -> set[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True, timeout=10)
    return {line.split()[0] for line in listed.stdout.splitlines() if line.strip()}


def test_the_lab_leaves_no_namespace_process_or_file_behind_even_when_the_test_fails() -> None:
    before = namespaces()
    with pytest.raises(RuntimeError, match="the test failed"), home_networks("upnp") as lab:
        [host] = lab.hosts
        sleeper = lab.popen(host, ["sleep", "600"])
        sock = lab.socket(host)
        created = set(lab.namespaces)
        assert len(created) == 4 and created <= namespaces()  # wan, pub, natA, a1
        assert all(name.startswith(f"td-{os.getpid()}-") for name in created)
        daemons = list(lab.processes)  # miniupnpd and the sleeper
        assert len(daemons) == 2 and all(p.poll() is None for p in daemons)
        assert lab.workdir.is_dir()
        raise RuntimeError("the test failed")
    # Other processes (parallel test runs) may add or drop their own meanwhile: only ours must be gone.
    assert not created & namespaces() and not created & before
    assert all(p.poll() is not None for p in daemons) and sleeper.returncode is not None
    assert sock.fileno() == -1
    assert not lab.workdir.exists()
