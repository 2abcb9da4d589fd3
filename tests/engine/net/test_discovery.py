"""LAN discovery: strict parsing of announcements, and two real peers finding
each other over mDNS inside network namespaces (never on the host's network)."""

from __future__ import annotations

import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import ifaddr
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zeroconf import ServiceStateChange

from threads_desktop.bench.netns import Network, lan, stop_process
from threads_desktop.engine.core.errors import InvalidIdError, InvalidInputError
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.logstore.addressbook import canonical_address
from threads_desktop.engine.net import discovery
from threads_desktop.engine.net.discovery import (
    SERVICE_TYPE,
    FoundPeer,
    LanDiscovery,
    announced_addresses,
    announcement_properties,
    parse_announcement,
)

PEER_SCRIPT = Path(__file__).with_name("discovery_peer.py")
ROOT = Path(__file__).parents[3]


def peer(n: int) -> str:
    return str(PeerId.from_public_key(bytes([n]) * 32))


ALICE, BOB, CAROL = peer(1), peer(2), peer(3)


# --- parse_announcement: examples ----------------------------------------------------------------


def test_a_valid_announcement_is_parsed_with_p2p_appended() -> None:
    found = parse_announcement({
        b"id": ALICE.encode(),
        b"a0": b"/ip4/10.0.0.5/tcp/4001",
        b"a1": f"/ip4/10.0.0.5/udp/4001/quic-v1/p2p/{ALICE}".encode(),
        b"a2": b"/ip4/10.0.0.5/tcp/4001",  # a duplicate, dropped
        b"future": None,  # unknown keys are ignored
    }, own_peer_id=BOB)
    assert found == FoundPeer(ALICE, (
        f"/ip4/10.0.0.5/tcp/4001/p2p/{ALICE}",
        f"/ip4/10.0.0.5/udp/4001/quic-v1/p2p/{ALICE}",
    ))


def test_what_we_announce_parses_back() -> None:
    addresses = [f"/ip4/10.0.0.{i}/tcp/{4000 + i}" for i in range(1, 9)]
    found = parse_announcement(announcement_properties(ALICE, addresses), BOB)
    assert found == FoundPeer(ALICE, tuple(f"{a}/p2p/{ALICE}" for a in addresses))


def test_our_own_announcement_is_ignored() -> None:
    assert parse_announcement(announcement_properties(ALICE, ["/ip4/10.0.0.5/tcp/1"]), ALICE) is None


@pytest.mark.parametrize("properties", [
    pytest.param({b"a0": b"/ip4/10.0.0.5/tcp/1"}, id="no id"),
    pytest.param({b"id": None, b"a0": b"/ip4/10.0.0.5/tcp/1"}, id="id without value"),
    pytest.param({b"id": b"12D3KooWnotapeerid", b"a0": b"/ip4/10.0.0.5/tcp/1"}, id="bad peer id"),
    pytest.param({b"id": ALICE.encode() + b" ", b"a0": b"/ip4/10.0.0.5/tcp/1"}, id="non-canonical peer id"),
    pytest.param({b"id": "Ä".encode(), b"a0": b"/ip4/10.0.0.5/tcp/1"}, id="non-ascii id"),
    pytest.param({b"id": ALICE.encode()}, id="no address"),
    pytest.param({b"id": ALICE.encode(), b"a0": b"/ip4/10.0.0.500/tcp/1"}, id="bad multiaddr"),
    pytest.param({b"id": ALICE.encode(), b"a0": b"not a multiaddr"}, id="not a multiaddr"),
    pytest.param({b"id": ALICE.encode(), b"a0": b"\xff\xfe"}, id="not utf-8"),
    pytest.param({b"id": ALICE.encode(), b"a0": None}, id="address without value"),
    pytest.param({b"id": ALICE.encode(), b"a0": f"/ip4/10.0.0.5/tcp/1/p2p/{CAROL}".encode()}, id="another peer"),
    pytest.param({b"id": ALICE.encode(), b"a0": f"/p2p/{ALICE}".encode()}, id="nothing but the peer"),
    pytest.param({b"id": ALICE.encode(), b"a1": b"/ip4/10.0.0.5/tcp/1"}, id="gap before a1"),
    pytest.param({b"id": ALICE.encode(), **{f"a{i}".encode(): f"/ip4/10.0.0.{i}/tcp/1".encode() for i in range(9)}},
                 id="nine addresses"),
    pytest.param({b"id": ALICE.encode(), b"a0": b"/ip4/10.0.0.5/tcp/1",
                  **{f"x{i}".encode(): b"" for i in range(40)}}, id="too many entries"),
    pytest.param({b"id": ALICE.encode(), b"a0": ("/dns4/" + "x" * 600 + "/tcp/1").encode()}, id="address too long"),
])
def test_malformed_announcements_are_refused(properties: dict[bytes, bytes | None]) -> None:
    assert parse_announcement(properties, BOB) is None


def test_keys_that_only_look_like_address_keys_are_ignored() -> None:
    found = parse_announcement({b"id": ALICE.encode(), b"a0": b"/ip4/10.0.0.5/tcp/1", b"a00": b"junk",
                                b"a": b"junk", b"A1": b"junk", b"ID": b"junk"}, BOB)
    assert found == FoundPeer(ALICE, (f"/ip4/10.0.0.5/tcp/1/p2p/{ALICE}",))


# --- parse_announcement: properties --------------------------------------------------------------

peer_ids = st.binary(min_size=32, max_size=32).map(lambda key: str(PeerId.from_public_key(key)))
multiaddrs = st.one_of(
    st.builds("/ip4/{}/tcp/{}".format, st.ip_addresses(v=4), st.integers(0, 65535)),
    st.builds("/ip6/{}/udp/{}/quic-v1".format, st.ip_addresses(v=6), st.integers(0, 65535)),
    st.builds("/dns4/{}/tcp/{}".format, st.from_regex(r"[a-z0-9.-]{1,40}", fullmatch=True), st.integers(0, 99999)),
    st.text(max_size=60),
)
address_values = st.one_of(
    multiaddrs.map(str.encode),
    st.tuples(multiaddrs, peer_ids).map(lambda t: f"{t[0]}/p2p/{t[1]}".encode()),
    st.binary(max_size=80),
    st.none(),
)
keys = st.one_of(st.sampled_from([b"id", b"a", b"a0", b"a1", b"a2", b"a7", b"a8", b"a01", b"ID"]),
                 st.binary(max_size=6))
txt = st.dictionaries(keys, st.one_of(address_values, peer_ids.map(str.encode)), max_size=12)


def _assert_valid(found: FoundPeer | None, own: str) -> None:
    if found is None:
        return
    assert str(PeerId.parse(found.peer_id)) == found.peer_id != own
    assert 1 <= len(found.addresses) <= 8
    assert len(set(found.addresses)) == len(found.addresses)
    for address in found.addresses:
        assert canonical_address(address) == address
        assert address.endswith(f"/p2p/{found.peer_id}") and address != f"/p2p/{found.peer_id}"


@settings(max_examples=400, deadline=None)
@given(properties=txt, own=peer_ids)
def test_arbitrary_txt_never_raises_and_yields_only_valid_peers(properties: dict[bytes, bytes | None],
                                                                 own: str) -> None:
    _assert_valid(parse_announcement(properties, own), own)


@settings(max_examples=200, deadline=None)
@given(who=peer_ids, own=peer_ids, addresses=st.lists(address_values, min_size=1, max_size=9),
       extra=st.dictionaries(st.binary(max_size=6).filter(lambda k: k != b"id" and not k.startswith(b"a")),
                             st.one_of(st.none(), st.binary(max_size=20)), max_size=4))
def test_announcements_shaped_like_ours_parse_or_are_refused_whole(
        who: str, own: str, addresses: list[bytes | None], extra: dict[bytes, bytes | None]) -> None:
    properties: dict[bytes, bytes | None] = {b"id": who.encode(), **extra}
    properties.update({f"a{i}".encode(): value for i, value in enumerate(addresses)})
    found = parse_announcement(properties, own)
    _assert_valid(found, own)
    if found is not None:
        assert found.peer_id == who and len(addresses) <= 8
        assert len(found.addresses) == len({canonical_address(a) for a in found.addresses})


@given(st.one_of(st.none(), st.integers(), st.text(), st.lists(st.binary())))
def test_not_even_a_mapping_is_refused(value: Any) -> None:
    assert parse_announcement(value, ALICE) is None


# --- what we announce ----------------------------------------------------------------------------


def _fake_adapters() -> list[ifaddr.Adapter]:
    def adapter(name: str, *ips: str | tuple[str, int, int]) -> ifaddr.Adapter:
        return ifaddr.Adapter(name, name, [ifaddr.IP(ip, 24, name) for ip in ips])
    return [adapter("lo", "127.0.0.1", ("::1", 0, 0)), adapter("eth0", "192.168.1.20", ("fe80::1", 0, 2)),
            adapter("wlan0", "10.1.1.7")]


def test_unspecified_ipv4_expands_to_local_addresses_and_loopback_is_dropped(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ifaddr, "get_adapters", _fake_adapters)
    assert announced_addresses(["/ip4/0.0.0.0/tcp/4001", "/ip4/127.0.0.1/tcp/4001", "/ip6/::1/tcp/4001",
                                "/ip6/::/tcp/4001", "/ip4/10.1.1.7/tcp/4001", "/dns4/example.lan/tcp/1"]) == [
        "/ip4/192.168.1.20/tcp/4001", "/ip4/10.1.1.7/tcp/4001", "/dns4/example.lan/tcp/1"]
    assert announced_addresses(["/ip4/0.0.0.0/tcp/4001"], interfaces=["10.1.1.7"]) == ["/ip4/10.1.1.7/tcp/4001"]
    many = [f"/ip4/10.0.0.{i}/tcp/1" for i in range(20)]
    assert announced_addresses(many) == many[:8]
    with pytest.raises(InvalidInputError):
        announced_addresses(["nonsense"])


def test_our_own_peer_id_and_addresses_are_checked_up_front() -> None:
    with pytest.raises(InvalidIdError):
        LanDiscovery("12D3KooWnope", [], lambda _: None)
    with pytest.raises(InvalidInputError):
        LanDiscovery(ALICE, ["/ip4/1.2.3.4/tcp/99999"], lambda _: None)
    LanDiscovery(ALICE, [], lambda _: None).stop()  # stop without start: nothing to do


# --- the zeroconf thread never sees an exception ---------------------------------------------------


class _FakeZeroconf:
    def __init__(self, result: object) -> None:
        self.result = result
        self.asked: list[str] = []

    def get_service_info(self, service_type: str, name: str, timeout: int) -> object:
        self.asked.append(name)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


@pytest.mark.parametrize("result", [
    None,
    SimpleNamespace(properties={b"id": b"junk"}),
    SimpleNamespace(properties="not a mapping"),
    SimpleNamespace(),  # no properties at all
    RuntimeError("zeroconf broke"),
])
def test_hostile_or_broken_answers_are_dropped_without_raising(result: object) -> None:
    found: list[FoundPeer] = []
    lan_discovery = LanDiscovery(BOB, [], found.append)
    zc = _FakeZeroconf(result)
    lan_discovery._on_service_state_change(zc, SERVICE_TYPE, f"x.{SERVICE_TYPE}",  # type: ignore[arg-type]
                                           ServiceStateChange.Added)
    assert found == [] and zc.asked == [f"x.{SERVICE_TYPE}"]


def test_a_callback_that_raises_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    def on_found(peer: FoundPeer) -> None:
        raise ValueError("the caller's bug")

    lan_discovery = LanDiscovery(BOB, [], on_found)
    zc = _FakeZeroconf(SimpleNamespace(properties=announcement_properties(ALICE, ["/ip4/10.0.0.1/tcp/1"])))
    with caplog.at_level(logging.ERROR, logger=discovery.__name__):
        lan_discovery._on_service_state_change(zc, SERVICE_TYPE, f"{ALICE}.{SERVICE_TYPE}",  # type: ignore[arg-type]
                                               ServiceStateChange.Updated)
    assert "the caller's bug" in caplog.text


def test_removals_and_stopped_discovery_report_nothing() -> None:
    found: list[FoundPeer] = []
    lan_discovery = LanDiscovery(BOB, [], found.append)
    zc = _FakeZeroconf(SimpleNamespace(properties=announcement_properties(ALICE, ["/ip4/10.0.0.1/tcp/1"])))
    lan_discovery._on_service_state_change(zc, SERVICE_TYPE, "a", ServiceStateChange.Removed)  # type: ignore[arg-type]
    lan_discovery.stop()
    lan_discovery._on_service_state_change(zc, SERVICE_TYPE, "a", ServiceStateChange.Added)  # type: ignore[arg-type]
    assert found == [] and zc.asked == []


# --- two peers in two network namespaces -----------------------------------------------------------

DISCOVERY_DEADLINE = 20.0


@pytest.fixture
def lan2() -> Iterator[Network]:
    with lan(2) as network:
        yield network


def _read_lines(stream: Any, into: queue.Queue[tuple[int, dict[str, Any] | None]], index: int) -> None:
    for line in stream:
        into.put((index, json.loads(line)))
    into.put((index, None))


def test_two_peers_in_namespaces_find_each_other(lan2: Network, tmp_path: Path) -> None:
    host_netns = os.stat("/proc/self/ns/net").st_ino
    a, b = lan2.hosts
    # A announces its address on its one interface; B listens on 0.0.0.0 and
    # lets zeroconf use every interface of its namespace (lo and eth0). Once B
    # has found A, it re-announces itself on another port.
    argvs = [
        ["--address", f"/ip4/{a.ip}/tcp/4001", "--interface", a.ip],
        ["--address", "/ip4/0.0.0.0/tcp/4002", "--address", "/ip4/127.0.0.1/tcp/4002",
         "--update-to", f"/ip4/{b.ip}/tcp/4003"],
    ]
    events: queue.Queue[tuple[int, dict[str, Any] | None]] = queue.Queue()
    processes = []
    started = time.monotonic()
    for index, (host, extra) in enumerate(zip((a, b), argvs, strict=True)):
        log = (tmp_path / f"peer{index}.log").open("w")
        process = lan2.popen(
            host, [sys.executable, str(PEER_SCRIPT), "--host-netns", str(host_netns), "--lifetime", "60", *extra],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True)
        log.close()  # the child holds its own copy
        processes.append(process)
        threading.Thread(target=_read_lines, args=(process.stdout, events, index), daemon=True).start()

    ids: dict[int, str] = {}
    found: dict[int, dict[str, Any]] = {}
    moved: dict[str, Any] | None = None  # A's first report of B's new address
    deadline = time.monotonic() + DISCOVERY_DEADLINE
    while len(found) < 2 or moved is None:
        remaining = deadline - time.monotonic()
        try:
            index, event = events.get(timeout=max(remaining, 0.01))
        except queue.Empty:
            logs = {i: (tmp_path / f"peer{i}.log").read_text()[-2000:] for i in (0, 1)}
            pytest.fail(f"no discovery in {DISCOVERY_DEADLINE}s: ids={ids} found={found} moved={moved} {logs}")
        assert event is not None, f"peer {index} exited: {(tmp_path / f'peer{index}.log').read_text()[-2000:]}"
        if event["event"] == "ready":
            ids[index] = event["peer_id"]
        elif event["event"] == "found":
            found.setdefault(index, event)
            # Under load A may first hear of B only after B moved: that counts.
            if index == 0 and event["addresses"][0].startswith(f"/ip4/{b.ip}/tcp/4003/"):
                moved = event
    elapsed = time.monotonic() - started

    assert found[0]["peer_id"] == ids[1] and found[1]["peer_id"] == ids[0]
    # 0.0.0.0 expanded, loopback dropped (or already moved)
    assert found[0]["addresses"] in ([f"/ip4/{b.ip}/tcp/4002/p2p/{ids[1]}"], [f"/ip4/{b.ip}/tcp/4003/p2p/{ids[1]}"])
    assert found[1]["addresses"] == [f"/ip4/{a.ip}/tcp/4001/p2p/{ids[0]}"]
    assert moved == {"event": "found", "peer_id": ids[1], "addresses": [f"/ip4/{b.ip}/tcp/4003/p2p/{ids[1]}"]}
    assert elapsed < DISCOVERY_DEADLINE

    for process in processes:
        assert stop_process(process, timeout=10) == 0  # SIGTERM: the peer stops cleanly and exits 0
    ended: set[int] = set()
    stopped: set[int] = set()
    deadline = time.monotonic() + 5
    while len(ended) < 2:
        index, event = events.get(timeout=max(deadline - time.monotonic(), 0.01))
        if event is None:
            ended.add(index)
        elif event["event"] == "stopped":
            stopped.add(index)
    assert stopped == {0, 1}
