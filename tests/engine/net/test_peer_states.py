"""The Devices view's facts (Node.devices): every peer we share something
with, by name, how it is connected now or since when it is offline, what
it shares and how far each thread is in step. Real peers on 127.0.0.1."""

from __future__ import annotations

import ipaddress
import os
import time
from collections.abc import Callable

import trio
from hypothesis import given
from hypothesis import strategies as st

from tests.engine.eventstore.peers import join_with
from tests.engine.net.running import serving, wait_until
from threads_desktop.engine.core.ids import ThreadId, ThreadVariant
from threads_desktop.engine.core.keys import SigningKey
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ChangeSet, Connection, Device, ThreadKind, ThreadSync
from threads_desktop.engine.net.peer_states import LocalNetworks, classify, thread_sync
from threads_desktop.engine.node import Node

OpenNode = Callable[..., Node]


def _device(node: Node, peer: Node) -> Device | None:
    return next((d for d in node.devices() if d.peer_id == str(peer.identity.peer_id)), None)


def _in_sync(node: Node, peer: Node, thread_id: ThreadId) -> bool:
    device = _device(node, peer)
    return device is not None and any(t.thread_id == thread_id and t.in_sync for t in device.threads)


def test_a_connected_peer_is_listed_by_name_on_the_same_network_then_offline_since_it_left(
        open_node: OpenNode) -> None:
    async def main() -> None:
        a, b = open_node("a"), open_node("b")
        a.set_display_name("Alice")
        album = a.create_thread(ThreadKind.ALBUM, "Holidays").thread_id
        a.create_thread(ThreadKind.CHAT, "Not shared")
        assert a.devices() == []  # nobody shares anything with us yet
        async with serving(b):
            async with serving(a):
                join_with(a, b, a.invite(album, Role.WRITE))
                await wait_until(b, lambda: _in_sync(b, a, album))
                device = _device(b, a)
                assert device is not None
                assert device.name == "Alice"
                assert device.connection is Connection.SAME_NETWORK  # 127.0.0.1 is this machine
                assert device.last_seen is None  # connected: not "offline since"
                assert [(t.name, t.kind) for t in device.threads] == [("Holidays", ThreadKind.ALBUM)]
                assert b.network_status().links  # the same facts ride on every status published
                left = time.time()
            # A went offline: B hears of it from the connection closing, not a timer.
            await wait_until(b, lambda: (d := _device(b, a)) is not None and d.connection is Connection.OFFLINE)
            assert b.network_status().peers == 0  # its session is not counted once the connection is gone
            device = _device(b, a)
            assert device is not None and device.name == "Alice"
            assert device.last_seen is not None and left - 2 <= device.last_seen <= time.time()
            assert [t.name for t in device.threads] == ["Holidays"]
            assert not device.threads[0].compared  # no session: nothing is claimed about its progress
        # Offline too (the network stopped), and after the profile is opened again: kept in the peer book.
        [offline] = b.devices()
        assert offline.connection is Connection.OFFLINE and offline.last_seen is not None
        b.close()
        [reopened] = open_node("b").devices()
        assert (reopened.name, reopened.last_seen) == ("Alice", offline.last_seen)

    trio.run(main)


def test_progress_counts_the_records_a_peer_lacks_until_it_has_them(open_node: OpenNode) -> None:
    async def main() -> None:
        a, b = open_node("a"), open_node("b")
        chat = a.create_thread(ThreadKind.CHAT, "Us").thread_id
        async with serving(a), serving(b):
            join_with(a, b, a.invite(chat, Role.WRITE))
            await wait_until(a, lambda: _in_sync(a, b, chat))
            before = {t.thread_id: t for t in _device(a, b).threads}  # type: ignore[union-attr]
            assert before[chat].in_sync and before[chat].we_lack == before[chat].they_lack == 0
            a.chat(chat).post("one")
            # Until the push lands (nothing ran since: no await), the new record is one B lacks.
            [now] = _device(a, b).threads  # type: ignore[union-attr]
            assert (now.compared, now.in_sync, now.we_lack, now.they_lack) == (True, False, 0, 1)
            await wait_until(a, lambda: _in_sync(a, b, chat))

    trio.run(main)


def test_a_peer_that_reconnects_shows_what_it_last_told_until_its_new_session_compares(
        open_node: OpenNode) -> None:
    """A new session used to start from nothing: the peer showed no threads,
    then "not compared yet", until its heads came (a `peers` listing
    flickered whenever a connection was replaced)."""
    async def main() -> None:
        a, b = open_node("a"), open_node("b")
        chat = a.create_thread(ThreadKind.CHAT, "Us").thread_id
        async with serving(a):
            async with serving(b):
                join_with(a, b, a.invite(chat, Role.WRITE))
                await wait_until(a, lambda: _in_sync(a, b, chat))
            await wait_until(a, lambda: (d := _device(a, b)) is not None and d.connection is Connection.OFFLINE)
            b.chat(chat).post("written offline")
            seen: list[tuple[ThreadSync, ...]] = []

            def note(changes: ChangeSet) -> None:  # every status A publishes while B reconnects
                device = _device(a, b)
                if changes.network is not None and device is not None and device.connection is not Connection.OFFLINE:
                    seen.append(device.threads)

            unsubscribe = a.subscribe(note)
            try:
                async with serving(b):
                    await wait_until(a, lambda: _in_sync(a, b, chat))
            finally:
                unsubscribe()
        assert seen
        assert all([t.thread_id for t in threads] == [chat] and threads[0].compared for threads in seen), \
            [[(t.compared, t.we_lack) for t in threads] for threads in seen]

    trio.run(main)


def test_a_peer_connected_but_sharing_nothing_is_not_listed(open_node: OpenNode) -> None:
    async def main() -> None:
        a, b = open_node("a"), open_node("b")
        async with serving(a) as service_a, serving(b) as service_b:
            a.create_thread(ThreadKind.ALBUM, "Mine")
            b.addresses.add(a.identity.peer_id, service_a.addresses(), 60)
            b.peers.remember(b.create_thread(ThreadKind.ALBUM, "Theirs").thread_id, a.identity.peer_id)
            service_b.schedule(a.identity.peer_id)
            # B knows A for its own album, A holds none of it: A lists nobody.
            await wait_until(a, lambda: bool(a.network_status().links))
            assert a.devices() == []

    trio.run(main)


# --- the pure parts --------------------------------------------------------------------------


def _networks(*cidrs: str) -> LocalNetworks:
    return LocalNetworks(lambda: [ipaddress.ip_network(c) for c in cidrs])


def test_a_connection_is_classed_by_its_remote_address() -> None:
    local = _networks("192.168.1.0/24", "fd00::/64")
    assert classify("/ip4/192.168.1.7/tcp/4141", local=local, nearby=False) is Connection.SAME_NETWORK
    assert classify("/ip6/fd00::7/tcp/4141", local=local, nearby=False) is Connection.SAME_NETWORK
    assert classify("/ip4/127.0.0.1/tcp/4141", local=local, nearby=False) is Connection.SAME_NETWORK
    assert classify("/ip6/fe80::1/tcp/4141", local=local, nearby=False) is Connection.SAME_NETWORK
    assert classify("/ip4/203.0.113.9/tcp/4141", local=local, nearby=False) is Connection.INTERNET
    assert classify("/ip4/203.0.113.9/tcp/4141", local=local, nearby=True) is Connection.SAME_NETWORK  # mDNS
    assert classify("/ip4/203.0.113.1/tcp/4141/p2p/QmRelay/p2p-circuit", local=local,
                    nearby=True) is Connection.RELAY


@given(st.text(max_size=200))
def test_any_remote_address_text_is_classed_without_raising(text: str) -> None:
    assert classify(text, local=_networks("10.0.0.0/8"), nearby=False) in set(Connection)


def test_local_networks_are_read_again_after_a_while() -> None:
    now = [0.0]
    reads = [[ipaddress.ip_network("10.0.0.0/8")], [ipaddress.ip_network("192.168.5.0/24")]]
    local = LocalNetworks(lambda: reads.pop(0), clock=lambda: now[0])
    assert local.contains("10.1.2.3") and not local.contains("192.168.5.5")
    now[0] = 30.0  # the laptop moved to another network
    assert local.contains("192.168.5.5") and not local.contains("10.1.2.3")


def test_thread_sync_counts_from_the_heads_the_peer_last_told() -> None:
    mine, theirs = SigningKey.generate().peer_id, SigningKey.generate().peer_id
    thread = _a_thread_id()
    progress = thread_sync(thread, ours={mine: 5, theirs: 2}, theirs={mine: 3, theirs: 4}, same_edge=False,
                           transfer=None)
    assert (progress.compared, progress.we_lack, progress.they_lack, progress.in_sync) == (True, 2, 2, False)
    assert thread_sync(thread, ours={mine: 5}, theirs=None, same_edge=False, transfer=None).compared is False
    synced = thread_sync(thread, ours={mine: 5}, theirs={mine: 1}, same_edge=True, transfer=(10, 40))
    assert (synced.we_lack, synced.they_lack, synced.done, synced.total, synced.in_sync) == (0, 0, 10, 40, False)


def _a_thread_id() -> ThreadId:
    return ThreadId.from_random(ThreadVariant.ACCESS_CONTROLLED, os.urandom(32))


def test_a_stranger_dropping_connections_in_a_loop_is_not_listed_and_costs_a_few_statuses(
        open_node: OpenNode) -> None:
    from libp2p.peer.id import ID
    from libp2p.peer.peerinfo import PeerInfo
    from multiaddr import Multiaddr

    from tests.engine.net.hostile import hostile_host
    from threads_desktop.engine.core.keys import Identity

    async def main() -> None:
        a = open_node("a")
        a.create_thread(ThreadKind.ALBUM, "Mine")
        async with serving(a) as service, hostile_host(Identity.generate()) as stranger:
            statuses: list[float] = []
            a.subscribe(lambda changes: statuses.append(time.monotonic()) if changes.network else None)
            address = Multiaddr(service.addresses()[0].rsplit("/p2p/", 1)[0])
            started = time.monotonic()
            for _ in range(20):
                await stranger.connect(PeerInfo(ID(a.identity.peer_id.raw), [address]))
                await stranger.disconnect(ID(a.identity.peer_id.raw))
            elapsed = time.monotonic() - started
            await wait_until(a, lambda: not a.network_status().links)
            # 40 connection changes: at most one status per quarter second (and the last one).
            assert len(statuses) <= elapsed / 0.25 + 3, (len(statuses), elapsed)
            assert a.devices() == []

    trio.run(main)
