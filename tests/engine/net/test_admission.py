"""Admission of inbound connections (engine/net/admission.py): sockets
that connect and send nothing, from many addresses of 127.0.0.0/8 (each
its own source address, so per-address and per-subnet limits apply as on
the internet), against an honest peer on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest
import trio
from libp2p.peer.id import ID

from tests.engine.net.hostile import NOTHING, Scene, connect, empty_hello, hostile_host, scene, still_serves
from threads_desktop.bench.attack import closed_by_peer, idle_socket, socket_address, spread_address, uvarint
from threads_desktop.engine.core.keys import Identity
from threads_desktop.engine.net.admission import Admission, BatchAccept
from threads_desktop.engine.net.budgets import Limits

LIBP2P_INBOUND_CAP = 250  # py-libp2p's: max_connections 300 - min_connections 50


def _port(s: Scene) -> int:
    return int(s.a.service.addresses()[0].split("/tcp/")[1].split("/")[0])


@asynccontextmanager
async def idle_sockets(port: int, sources: list[str]) -> AsyncIterator[list[trio.SocketStream]]:
    held = [await idle_socket(source, port) for source in sources]
    try:
        yield held
    finally:
        for sock in held:
            await sock.aclose()


def test_many_idle_connections_do_not_keep_a_new_honest_peer_out(tmp_path: Path) -> None:
    """Before: the 250 idle sockets took every inbound slot of py-libp2p and
    the honest peer failed ("failed to negotiate the secure protocol"). They
    are held in the silent places (none dropped for another: before
    hostile17, 172 of them were, and came back to wait in the kernel's
    queue in front of honest peers)."""
    async def main() -> None:
        async with scene(tmp_path) as s:
            count = LIBP2P_INBOUND_CAP + 50
            admission = s.a.service.admission
            async with idle_sockets(_port(s), [spread_address(i) for i in range(count)]):
                with trio.fail_after(10):
                    while len(admission.pending) + admission.dropped < count:  # until the node accepted them all
                        await trio.sleep(0.05)
                assert admission.dropped == 0 and len(admission.pending) == count
                await still_serves(s, "despite the idle sockets")

    trio.run(main)


def test_idle_connections_reopened_as_fast_as_they_are_dropped_do_not_keep_a_peer_out(tmp_path: Path) -> None:
    async def main() -> None:
        async with scene(tmp_path) as s:
            port = _port(s)
            opened = 0

            async def reopen(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
                nonlocal opened
                held: list[trio.SocketStream] = []
                try:
                    while opened < 3000:  # bounded: the attack ends by itself
                        held.append(await idle_socket(spread_address(opened % 400), port))
                        opened += 1
                        if opened == 400:
                            task_status.started()
                        if len(held) > 400:
                            await held.pop(0).aclose()
                finally:
                    for sock in held:
                        await sock.aclose()

            async with trio.open_nursery() as nursery:
                await nursery.start(reopen)
                started = trio.current_time()
                await still_serves(s, "during the reopening")
                nursery.cancel_scope.cancel()
            print(f"honest sync during the reopening: {trio.current_time() - started:.2f} s, "
                  f"{opened} sockets opened, {s.a.service.admission.dropped} dropped")

    trio.run(main)


def test_handshakes_dropped_by_admission_leave_no_trace_in_py_libp2ps_resource_manager(tmp_path: Path) -> None:
    """py-libp2p's resource manager (made by new_host) counts a connection
    before its handshake and, when the handshake is cancelled, never counts
    it out: after 1000 dropped idle sockets it refused every peer, for good
    (issue 17's attack shut `serve` in ~3 s of re-opened sockets)."""
    limits = Limits(handshakes=16, silent_connections=16)
    async def main() -> None:
        async with scene(tmp_path, limits=limits) as s:
            port = _port(s)
            held: list[trio.SocketStream] = []
            try:
                with trio.fail_after(120):
                    for i in range(1300):  # each one past the 16th drops the oldest
                        held.append(await idle_socket(spread_address(i % 400), port))
                        if len(held) > 64:
                            await held.pop(0).aclose()
            finally:
                for sock in held:
                    await sock.aclose()
            print(f"handshakes dropped by admission: {s.a.service.admission.dropped}")
            assert s.a.service.admission.dropped >= 1100
            await still_serves(s, "after a thousand dropped handshakes")

    trio.run(main)


@pytest.mark.alone  # a time bound under its own load: no other test beside it
def test_a_burst_of_connections_while_the_node_is_busy_waits_for_it_instead_of_being_dropped(
        tmp_path: Path) -> None:
    """While the node is busy (here: its thread blocked for 2 s), the kernel
    completes connections and holds them for it. py-libp2p's backlog of 128
    held 129 of 600, and the kernel dropped the SYN of every other: a new
    peer's connect then took 1 s or more (SYN retries)."""
    count = 600

    async def main() -> None:
        async with scene(tmp_path) as s:
            port = _port(s)
            connected: list[socket.socket] = []
            go = threading.Event()

            def burst() -> None:
                go.wait(10)
                for i in range(count):
                    sock = socket.socket()
                    sock.settimeout(0.5)
                    sock.bind((socket_address(i), 0))
                    try:
                        sock.connect(("127.0.0.1", port))
                        connected.append(sock)
                    except OSError:
                        sock.close()

            worker = threading.Thread(target=burst)
            worker.start()
            try:
                go.set()
                time.sleep(2.0)  # the node's thread busy: it accepts nothing meanwhile
            finally:
                worker.join(60)
            try:
                assert len(connected) == count
            finally:
                for sock in connected:
                    sock.close()
            await still_serves(s)

    trio.run(main)


def test_idle_connections_from_one_address_beyond_its_limit_are_refused(tmp_path: Path) -> None:
    async def main() -> None:
        async with scene(tmp_path) as s:
            limit = Limits().handshakes_per_address
            async with idle_sockets(_port(s), ["127.0.0.2"] * (limit + 4)) as held:
                refused = [sock for sock in held[limit:] if await closed_by_peer(sock, 2.0)]
                assert len(refused) == 4
                assert s.a.service.admission.refused == 4
                assert not await closed_by_peer(held[0], 0.2)  # within the limit: still waiting for its handshake
            await still_serves(s)

    trio.run(main)


def test_idle_connections_from_one_subnet_beyond_its_limit_are_refused(tmp_path: Path) -> None:
    async def main() -> None:
        async with scene(tmp_path) as s:
            limit = Limits().handshakes_per_subnet
            async with idle_sockets(_port(s), [f"127.0.9.{i + 1}" for i in range(limit + 3)]) as held:
                refused = [sock for sock in held[limit:] if await closed_by_peer(sock, 2.0)]
                assert len(refused) == 3
            await still_serves(s)

    trio.run(main)


def test_a_connection_that_never_finishes_its_handshake_is_closed_after_the_timeout(tmp_path: Path) -> None:
    limits = Limits(handshake_seconds=1.0)
    async def main() -> None:
        async with scene(tmp_path, limits=limits) as s:
            async with idle_sockets(_port(s), ["127.0.0.3"]) as [sock]:
                await sock.send_all(b"\x13/multistream/1.0.0\n")  # it speaks, then stalls in its handshake
                started = trio.current_time()
                assert await closed_by_peer(sock, limits.handshake_seconds + 3.0)
                assert trio.current_time() - started < limits.handshake_seconds + 2.0
            await still_serves(s)

    trio.run(main)


def test_a_silent_socket_is_held_while_places_remain_and_closed_after_its_own_timeout(tmp_path: Path) -> None:
    """Before, a socket that said nothing was dropped after the handshake
    timeout (5 s), having cost the start of py-libp2p's handshake and its
    clean-up: 500 sockets re-opened as they were dropped cost serve ~100 of
    each a second (bench hostile's profile). Now py-libp2p starts only once
    a socket speaks, and a silent one is held for silent_seconds."""
    limits = Limits(handshake_seconds=0.5, silent_seconds=3.0)
    async def main() -> None:
        async with scene(tmp_path, limits=limits) as s:
            async with idle_sockets(_port(s), ["127.0.0.3"]) as [sock]:
                started = trio.current_time()
                assert not await closed_by_peer(sock, 4 * limits.handshake_seconds)
                assert await closed_by_peer(sock, limits.silent_seconds + 3.0)
                assert trio.current_time() - started >= limits.silent_seconds - 0.1
            await still_serves(s)

    trio.run(main)


def test_peers_that_came_and_left_free_their_place(tmp_path: Path) -> None:
    """Before: py-libp2p kept the inbound slot of every connection that got
    in until the host stopped, so after 250 peers none more came in."""
    async def main() -> None:
        async with scene(tmp_path) as s, hostile_host(Identity.generate()) as host:
            honest = ID(s.node.identity.peer_id.raw)
            with trio.fail_after(120):
                for _ in range(LIBP2P_INBOUND_CAP + 10):
                    h = await connect(host, s)
                    await h.stream.close()
                    await host.disconnect(honest)
                h = await connect(host, s)
                assert await h.ask(empty_hello()) == NOTHING
            await still_serves(s)

    trio.run(main)


def test_a_silent_socket_never_takes_the_place_of_a_connection_that_speaks() -> None:
    """Before: one pool of 128; a silent newcomer pushed out the oldest
    silent one, else the oldest speaking one (an honest peer in Noise)."""
    async def main() -> None:
        admission = Admission(Limits(handshakes=2, silent_connections=3))
        talking = [admission.admit(f"127.1.0.{i + 1}") for i in range(2)]
        for handshake in talking:
            assert handshake is not None
            admission.heard(handshake)  # they send their handshake: not idle
        silent = [admission.admit(f"127.1.1.{i + 1}") for i in range(5)]
        assert all(handshake is not None for handshake in silent)
        assert not any(handshake.scope.cancel_called for handshake in talking if handshake is not None)
        assert [h.scope.cancel_called for h in silent if h is not None] == [True, True, False, False, False]
        assert admission.pending == [*silent[2:], *talking] and admission.dropped == 2

    trio.run(main)


def test_when_all_speaking_places_are_taken_the_oldest_speaking_one_goes_for_the_newcomer() -> None:
    async def main() -> None:
        admission = Admission(Limits(handshakes=2))
        first, second, third = (admission.admit(f"127.1.0.{i + 1}") for i in range(3))
        assert first is not None and second is not None and third is not None
        for handshake in (first, second, third):
            admission.heard(handshake)
        assert first.scope.cancel_called and not second.scope.cancel_called and not third.scope.cancel_called
        assert admission.pending == [second, third] and admission.dropped == 1

    trio.run(main)


def test_connections_waiting_for_the_node_are_accepted_in_one_turn_not_one_per_turn() -> None:
    """trio's listener accepts one connection per turn of the scheduler:
    with many other tasks runnable (a node under attack), a queue of
    re-opened idle sockets kept an honest peer waiting 1.4-11 s."""
    waiting = 64

    async def main() -> None:
        listener = (await trio.open_tcp_listeners(0, host="127.0.0.1"))[0]
        port = listener.socket.getsockname()[1]
        BatchAccept(listener, batch=waiting).install()
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(waiting)]
        turns = 0

        async def other_work() -> None:  # one step per turn, as any busy task
            nonlocal turns
            while True:
                turns += 1
                await trio.lowlevel.checkpoint()

        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(other_work)
                await trio.lowlevel.checkpoint()
                started = turns
                accepted = [await listener.accept() for _ in range(waiting)]
                nursery.cancel_scope.cancel()
            assert len(accepted) == waiting
            assert turns - started <= 2  # one batch (before: one turn each, 64)
            for stream in accepted:
                await stream.aclose()
        finally:
            for client in clients:
                client.close()
            await listener.aclose()

    trio.run(main)


def test_strangers_connections_beyond_their_share_go_oldest_first_and_members_stay(tmp_path: Path) -> None:
    limits = Limits(stranger_connections=3)
    async def main() -> None:
        async with scene(tmp_path, member=True, limits=limits) as s, AsyncExitStack() as stack:
            assert s.member is not None
            member = await stack.enter_async_context(hostile_host(s.member.identity))
            m = await connect(member, s)  # the member proves a thread: a member from now on
            assert len((await m.hello([(s.thread, s.member.store.thread_keys(s.thread))]))["matches"]) == 1
            strangers = [await connect(await stack.enter_async_context(hostile_host(Identity.generate())), s)
                         for _ in range(5)]
            assert [await h.reply() for h in strangers[:2]] == [None, None]  # the two oldest were closed
            for h in strangers[2:]:
                assert await h.ask(empty_hello()) == NOTHING
            assert await m.ask(empty_hello()) == NOTHING  # the member's connection is the oldest, and stays
            assert s.a.service.admission.shed == 2
            await still_serves(s)

    trio.run(main)


OVERSIZED = uvarint(8 << 20)  # a stranger declares a page of records (8 MiB): it may send 64 KiB


def test_a_stranger_that_keeps_breaking_the_protocol_is_no_longer_read(tmp_path: Path) -> None:
    """Before: refused sessions came back at once, each costing the node its
    negotiation and up to 256 KiB pushed through Noise; 100 identities doing
    so kept a new member waiting 1-5 s per request. Now, past its breaks,
    the stranger's connection is left unread: its next session gets no
    answer at all, and the node goes on serving others."""
    limits = Limits(stranger_breaks=2)

    async def main() -> None:
        async with scene(tmp_path, limits=limits) as s, hostile_host(Identity.generate()) as host:
            for _ in range(limits.stranger_breaks + 1):
                h = await connect(host, s)
                await h.stream.write(OVERSIZED)
                assert "exceeds the limit" in await h.refused_then_closed()
            with trio.move_on_after(3.0) as waited:
                await connect(host, s)
            assert waited.cancelled_caught  # not even the session's protocol is answered
            await still_serves(s, "while the stranger is held off")

    trio.run(main)


def test_a_stranger_whose_sessions_keep_being_pushed_out_is_no_longer_read(tmp_path: Path) -> None:
    """Before, only a broken protocol counted: under bench hostile's attack
    (800 stalled sessions for 128 strangers' places) most sessions were
    pushed out for newer ones before their first read, never broke
    anything, and were re-opened at once, round and round; serve spent
    ~60% of its time negotiating and refusing them. A refused session now
    counts like a broken one for a stranger."""
    limits = Limits(stranger_breaks=2, max_stranger_sessions=1)

    async def main() -> None:
        async with scene(tmp_path, limits=limits) as s, hostile_host(Identity.generate()) as host:
            held = await connect(host, s)
            for _ in range(limits.stranger_breaks + 1):
                newer = await connect(host, s)  # pushes the one before out
                assert "busy" in await held.refused_then_closed()
                held = newer
            with trio.move_on_after(3.0) as waited:
                await connect(host, s)
            assert waited.cancelled_caught  # held off: not even the session's protocol is answered
            await still_serves(s, "while the stranger is held off")

    trio.run(main)


def test_a_stranger_that_broke_the_protocol_a_few_times_is_still_served(tmp_path: Path) -> None:
    limits = Limits(stranger_breaks=2)

    async def main() -> None:
        async with scene(tmp_path, limits=limits) as s, hostile_host(Identity.generate()) as host:
            for _ in range(limits.stranger_breaks):
                h = await connect(host, s)
                await h.stream.write(OVERSIZED)
                await h.refused_then_closed()
            assert await (await connect(host, s)).ask(empty_hello()) == NOTHING

    trio.run(main)


def test_a_member_is_never_held_off() -> None:
    member = Identity.generate().peer_id
    admission = Admission(Limits(stranger_breaks=0), is_member=lambda peer: peer == member)
    stranger = Identity.generate().peer_id
    for peer in (member, stranger):
        admission.broke_protocol(peer)
    assert not admission.held_off(member) and admission.held_off(stranger)
