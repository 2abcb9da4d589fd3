"""Circuit relay v2 between real peers on 127.0.0.1: R relays (it is
reachable), A is not and reserves a slot on R, B holds only A's relayed
address (an invite link) and reaches A through R. Strangers get nothing from
R; R's limits hold; A's reservation is renewed and made again after R
restarts."""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import multiaddr
import pytest
import trio
from libp2p.abc import INetStream
from libp2p.custom_types import TProtocol
from libp2p.host.ping import ID as PING_PROTOCOL
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.relay.circuit_v2.pb.circuit_pb2 import HopMessage, StopMessage
from libp2p.relay.circuit_v2.pb.circuit_pb2 import PeerId as CircuitPeer
from libp2p.relay.circuit_v2.protocol_buffer import StatusCode
from libp2p.utils.varint import encode_varint_prefixed, read_varint_prefixed_bytes_limited

from tests.engine.eventstore.peers import join_with, peer, texts
from tests.engine.net.running import wait_until
from threads_desktop.engine.core.errors import PeerError
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.logstore import local_settings
from threads_desktop.engine.net.budgets import Limits
from threads_desktop.engine.net.relay import (
    HOP_PROTOCOL,
    MAX_READING_PER_PEER,
    STOP_PROTOCOL,
    RelayLimits,
    RelayRefused,
    is_relayed,
)
from threads_desktop.engine.net.service import NetworkService
from threads_desktop.engine.networking import NodeThreads, connect_network
from threads_desktop.engine.node import Node

LOOPBACK = "/ip4/127.0.0.1/tcp/0"


@asynccontextmanager
async def online(node: Node, *, reachable: bool, listen: str = LOOPBACK, limits: RelayLimits | None = None,
                 punch: bool = False, budgets: Limits | None = None) -> AsyncIterator[NetworkService]:
    """One peer online for the block, reachable from outside or not (on
    127.0.0.1 every hole punch succeeds: off unless asked for)."""
    async with trio.open_nursery() as nursery:
        service = connect_network(node, listen=[listen], pull_interval=3600.0, reachable=lambda: reachable,
                                  relay_limits=limits, hole_punching=punch, limits=budgets)
        await nursery.start(service.run)
        yield service
        nursery.cancel_scope.cancel()


def relayed(service: NetworkService) -> list[str]:
    return [a for a in service.listen_addresses() if is_relayed(a)]


async def a_reserves_on_r(a: Node, r: Node, a_net: NetworkService, r_net: NetworkService) -> object:
    """A shares a thread with R (R joined by link); A's reservation on R follows."""
    thread_id = a.create_thread(ThreadKind.CHAT, "Us").thread_id
    a.chat(thread_id).post("before you came")
    join_with(a, r, a.invite(thread_id, Role.WRITE))
    await wait_until(a, lambda: bool(relayed(a_net)))
    return thread_id


def test_a_friend_with_only_a_relayed_address_reaches_the_inviter_through_its_relay_and_syncs(
        open_node: Callable[[str], Node]) -> None:
    async def main() -> None:
        r, a, b = open_node("r"), open_node("a"), open_node("b")
        async with online(r, reachable=True) as r_net, online(a, reachable=False) as a_net, \
                online(b, reachable=False) as b_net:
            thread_id = await a_reserves_on_r(a, r, a_net, r_net)
            (through_r,) = relayed(a_net)
            r_direct = r_net.addresses()[0]
            assert through_r == f"{r_direct}/p2p-circuit/p2p/{a.identity.peer_id}"
            link = a.invite(thread_id, Role.WRITE)  # type: ignore[arg-type]
            assert through_r in link.addresses  # links carry the relayed address
            assert through_r in a_net.status().addresses  # and the network status shows it
            only_relayed = dataclasses.replace(link, addresses=(through_r,))
            join_with(a, b, only_relayed)  # type: ignore[arg-type]
            await wait_until(b, lambda: texts(b, thread_id) == ["before you came"])  # type: ignore[arg-type]
            assert b_net.relay_client is not None and b_net.relay_client.via_relay(a.identity.peer_id)
            await wait_until(a, lambda: peer(b) in {m.peer_id for m in a.membership.members(thread_id)})  # type: ignore[arg-type]
            await wait_until(b, lambda: b.membership.join_state(thread_id) is None)  # type: ignore[arg-type]
            b.chat(thread_id).post("hi from b")  # type: ignore[arg-type]
            await wait_until(a, lambda: "hi from b" in texts(a, thread_id))  # type: ignore[arg-type]

    trio.run(main)


# --- hostile peers ---------------------------------------------------------------------------------


def test_a_connection_a_relay_brings_goes_through_admission_like_one_over_tcp(
        open_node: Callable[[str], Node]) -> None:
    """Before, a relayed inbound connection was upgraded by py-libp2p
    directly: no place among handshakes, no handshake timeout of ours, not
    counted among strangers' connections (so never shed), strangers' reads
    never after members'. Here A lets strangers hold no connection: B, a
    stranger that reaches A through R, is counted, and shed at once."""
    async def main() -> None:
        r, a, b = open_node("r"), open_node("a"), open_node("b")
        async with online(r, reachable=True) as r_net, \
                online(a, reachable=False, budgets=Limits(stranger_connections=0)) as a_net, \
                online(b, reachable=False) as b_net:
            await a_reserves_on_r(a, r, a_net, r_net)
            (through_r,) = relayed(a_net)
            assert b_net.relay_client is not None
            with contextlib.suppress(PeerError):  # it may be closed before the dial returns
                await b_net.relay_client.dial_relayed(through_r)
            await wait_until(a, lambda: a_net.admission.shed >= 1)
            await wait_until(b, lambda: not b_net.relay_client.via_relay(a.identity.peer_id))  # type: ignore[union-attr]
            assert all(peer_id != b.identity.peer_id for peer_id, _ in a_net.admission.connected)
            assert relayed(a_net) == [through_r]  # A's own reservation on R is untouched

    trio.run(main)


async def ask(service: NetworkService, relay: NetworkService, message: HopMessage) -> int:
    """Send one raw hop message to the relay from `service`'s host; the status it answers."""
    host = service._host  # the test speaks the wire itself
    assert host is not None and relay._host is not None
    await host.connect(info_from_p2p_addr(multiaddr.Multiaddr(relay.addresses()[0])))
    stream = await host.new_stream(relay._host.get_id(), [HOP_PROTOCOL])
    await stream.write(encode_varint_prefixed(message.SerializeToString()))
    answer = HopMessage()
    answer.ParseFromString(await read_varint_prefixed_bytes_limited(stream, 4096))
    await stream.reset()
    return int(answer.status)


def test_a_stranger_can_neither_reserve_on_our_relay_nor_reach_a_peer_without_a_reservation(
        open_node: Callable[[str], Node]) -> None:
    async def main() -> None:
        r, a, c, s = open_node("r"), open_node("a"), open_node("c"), open_node("s")
        async with online(r, reachable=True) as r_net, online(a, reachable=False) as a_net, \
                online(c, reachable=True) as c_net, online(s, reachable=False) as s_net:
            await a_reserves_on_r(a, r, a_net, r_net)
            assert r_net.relay_service is not None and s_net.relay_client is not None
            r_address = r_net.addresses()[0]
            with pytest.raises(RelayRefused) as refused:
                await s_net.relay_client.reserve(r.identity.peer_id, [r_address])
            assert refused.value.status == StatusCode.PERMISSION_DENIED
            # Nor by naming A in the request (py-libp2p's handler reserves for the peer named).
            spoofed = HopMessage(type=HopMessage.RESERVE, peer=CircuitPeer(id=a.identity.peer_id.raw))
            assert await ask(s_net, r_net, spoofed) == StatusCode.PERMISSION_DENIED
            assert set(r_net.relay_service.reservations) == {a.identity.peer_id}
            # C is connected to R but holds no reservation there: no circuit to it.
            await c_net.relay_client.connect_directly(r.identity.peer_id, [r_address])  # type: ignore[union-attr]
            with pytest.raises(RelayRefused) as refused:
                await s_net.relay_client.dial_relayed(f"{r_address}/p2p-circuit/p2p/{c.identity.peer_id}")
            assert refused.value.status == StatusCode.NO_RESERVATION
            assert r_net.relay_service.open_circuits == 0
            # Bytes that are no relay message end the stream, and the relay goes on.
            with pytest.raises(Exception):  # noqa: B017 - the stream is reset: any read error
                await ask(s_net, r_net, HopMessage(type=HopMessage.STATUS))
            assert r_net.relay_service.reservations

    trio.run(main)


def test_a_peer_that_is_not_reachable_relays_for_nobody(open_node: Callable[[str], Node]) -> None:
    async def main() -> None:
        a, b = open_node("a"), open_node("b")
        async with online(a, reachable=False) as a_net, online(b, reachable=False) as b_net:
            thread_id = a.create_thread(ThreadKind.CHAT, "Us").thread_id
            join_with(a, b, a.invite(thread_id, Role.WRITE))
            await wait_until(a, lambda: peer(b) in {m.peer_id for m in a.membership.members(thread_id)})
            assert b_net.relay_client is not None
            with pytest.raises(PeerError):  # it does not even offer the protocol
                await b_net.relay_client.reserve(a.identity.peer_id, a_net.addresses())
            assert not relayed(a_net) and not relayed(b_net)

    trio.run(main)


# --- limits ---------------------------------------------------------------------------------------


def test_the_relay_refuses_a_reservation_beyond_its_limit_and_frees_the_slot_of_a_peer_that_left(
        open_node: Callable[[str], Node]) -> None:
    async def main() -> None:
        r, a, c = open_node("r"), open_node("a"), open_node("c")
        async with online(r, reachable=True, limits=RelayLimits(max_reservations=1)) as r_net:
            async with online(a, reachable=False) as a_net, online(c, reachable=False) as c_net:
                thread_id = await a_reserves_on_r(a, r, a_net, r_net)
                join_with(a, c, a.invite(thread_id, Role.WRITE))  # type: ignore[arg-type]
                await wait_until(c, lambda: texts(c, thread_id) == ["before you came"])  # type: ignore[arg-type]
                await wait_until(r, lambda: c.identity.peer_id in r_net._reach.proven)
                assert c_net.relay_client is not None
                with pytest.raises(RelayRefused) as refused:
                    await c_net.relay_client.reserve(r.identity.peer_id, r_net.addresses())
                assert refused.value.status == StatusCode.RESERVATION_REFUSED
                assert r_net.relay_service is not None
                assert set(r_net.relay_service.reservations) == {a.identity.peer_id}
            # A and C went offline; C comes back: A's slot is free again.
            async with online(c, reachable=False) as c_net:
                await wait_until(r, lambda: r_net.relay_service is not None and set(
                    r_net.relay_service.reservations) == {c.identity.peer_id})
                await wait_until(c, lambda: bool(relayed(c_net)))

    trio.run(main)


ECHO = "/threads-test/echo/1.0.0"


async def echo(stream: INetStream) -> None:
    with contextlib.suppress(Exception):
        while data := await stream.read(65536):
            await stream.write(data)


async def relayed_echo(a: Node, r: Node, b: Node, a_net: NetworkService, r_net: NetworkService,
                       b_net: NetworkService) -> INetStream:
    """B connects to A through R and opens an echo stream."""
    await a_reserves_on_r(a, r, a_net, r_net)
    assert a_net._host is not None and b_net._host is not None and b_net.relay_client is not None
    a_net._host.set_stream_handler(TProtocol(ECHO), echo)
    await b_net.relay_client.dial_relayed(relayed(a_net)[0])
    assert b_net.relay_client.via_relay(a.identity.peer_id)
    return await b_net._host.new_stream(ID(a.identity.peer_id.raw), [TProtocol(ECHO)])


def test_a_circuit_ends_at_its_byte_limit(open_node: Callable[[str], Node]) -> None:
    async def main() -> None:
        r, a, b = open_node("r"), open_node("a"), open_node("b")
        limits = RelayLimits(circuit_bytes=256 * 1024)
        async with online(r, reachable=True, limits=limits) as r_net, online(a, reachable=False) as a_net, \
                online(b, reachable=False) as b_net:
            stream = await relayed_echo(a, r, b, a_net, r_net, b_net)
            await stream.write(b"x" * 1000)
            assert await stream.read(1000) == b"x" * 1000  # within the limit: through
            echoed = 0
            with pytest.raises(Exception), trio.fail_after(20):  # noqa: B017 - the circuit is cut
                for _ in range(64):
                    await stream.write(b"y" * 16384)
                    echoed += len(await stream.read(16384))
                raise AssertionError("never cut")
            assert echoed < limits.circuit_bytes
            assert r_net.relay_service is not None
            await wait_until(b, lambda: r_net.relay_service.open_circuits == 0)  # type: ignore[union-attr]
            assert r_net.relay_service.relayed_bytes <= limits.circuit_bytes

    trio.run(main)


def test_a_circuit_ends_at_its_time_limit(open_node: Callable[[str], Node]) -> None:
    async def main() -> None:
        r, a, b = open_node("r"), open_node("a"), open_node("b")
        async with online(r, reachable=True, limits=RelayLimits(circuit_seconds=2)) as r_net, \
                online(a, reachable=False) as a_net, online(b, reachable=False) as b_net:
            await relayed_echo(a, r, b, a_net, r_net, b_net)
            started = trio.current_time()
            assert b_net.relay_client is not None
            await wait_until(b, lambda: not b_net.relay_client.via_relay(a.identity.peer_id))  # type: ignore[union-attr]
            assert 1.5 < trio.current_time() - started < 10

    trio.run(main)


# --- keeping the reservation ----------------------------------------------------------------------


def test_the_reservation_is_renewed_before_it_expires_and_made_again_after_the_relay_restarts(
        open_node: Callable[[str], Node]) -> None:
    async def main() -> None:
        r, a = open_node("r"), open_node("a")
        limits = RelayLimits(reservation_seconds=4)
        async with online(a, reachable=False) as a_net:
            async with online(r, reachable=True, limits=limits) as r_net:
                await a_reserves_on_r(a, r, a_net, r_net)
                listen = r_net.addresses()[0].rsplit("/p2p/", 1)[0]
                assert a_net.relay_client is not None
                first = a_net.relay_client.held[r.identity.peer_id].expires
                await wait_until(a, lambda: a_net.relay_client.held[  # type: ignore[union-attr]
                    r.identity.peer_id].expires > first, timeout=10)
                await trio.sleep(limits.reservation_seconds + 1)  # past the first expiry: still held
                assert relayed(a_net)
                assert r_net.relay_service is not None and a.identity.peer_id in r_net.relay_service.reservations
            await wait_until(a, lambda: not relayed(a_net))  # R went away: so did the relayed address
            async with online(r, reachable=True, limits=limits, listen=listen) as r_net:
                await wait_until(a, lambda: bool(relayed(a_net)), timeout=30)
                assert r_net.relay_service is not None
                assert a.identity.peer_id in r_net.relay_service.reservations

    trio.run(main)


async def restart_r_and_reconnect_at_once(a: Node, a_net: NetworkService, r: Node, address: str) -> None:
    """R restarts (same key, same port) and A connects to it again at once,
    as its sync loop would, before its reservation keeper has looked (it
    looks every few seconds). Returns once R holds A's reservation again."""
    client, r_id = a_net.relay_client, r.identity.peer_id
    assert client is not None
    network = client._host.get_network()
    old = [c.muxed_conn for c in network.get_connections(ID(r_id.raw))]

    def reconnected() -> bool:
        return any(c.muxed_conn not in old and not c.is_closed for c in network.get_connections(ID(r_id.raw)))

    async with online(r, reachable=True, listen=address.rsplit("/p2p/", 1)[0]) as r_net:
        with trio.fail_after(10):
            while not reconnected():
                with contextlib.suppress(PeerError):
                    await client.connect_directly(r_id, [address])
                await trio.sleep(0.02)  # bounded by fail_after above
        service = r_net.relay_service
        assert service is not None
        await wait_until(a, lambda: a.identity.peer_id in service.reservations, timeout=20)


def test_the_reservation_is_made_again_when_we_reconnect_to_a_restarted_relay_before_noticing_it_went_away(
        open_node: Callable[[str], Node]) -> None:
    """Issue 15 item 2 (the lab's symmetric-symmetric case): connected is
    not reserved. The restarted R knows nothing of A's reservation, and
    peers calling A through R get NO_RESERVATION until A reserves again."""
    async def main() -> None:
        r, a = open_node("r"), open_node("a")
        async with online(a, reachable=False) as a_net:
            async with online(r, reachable=True) as r_net:
                await a_reserves_on_r(a, r, a_net, r_net)
                address = r_net.addresses()[0]
            await restart_r_and_reconnect_at_once(a, a_net, r, address)
            await restart_r_and_reconnect_at_once(a, a_net, r, address)  # the keeper may have looked in between

    trio.run(main)


# --- hole punching ---------------------------------------------------------------------------------


def test_a_peer_that_is_not_reachable_dials_its_relay_from_its_listen_port_and_learns_where_it_is_seen(
        open_node: Callable[[str], Node]) -> None:
    """What hole punching tells the other side (the punch itself needs real
    routers: test_relay_lab.py; on one machine both sides' dials collide)."""
    async def main() -> None:
        r, a = open_node("r"), open_node("a")
        async with online(r, reachable=True) as r_net, online(a, reachable=False, punch=True) as a_net:
            await a_reserves_on_r(a, r, a_net, r_net)
            assert a_net.relay_client is not None and a_net.relay_client.puncher is not None
            a_listen = a_net.addresses()[0].rsplit("/p2p/", 1)[0]
            assert a_net.relay_client.observed == {r.identity.peer_id: a_listen}
            told = await a_net.relay_client.puncher._get_observed_addrs()
            assert [str(multiaddr.Multiaddr(x)) for x in told] == [a_listen]

    trio.run(main)


def test_a_relay_the_user_names_is_dialled_shown_our_proofs_and_reserved_on_when_the_setting_changes(
        open_node: Callable[[str], Node]) -> None:
    async def main() -> None:
        r, a = open_node("r"), open_node("a")
        thread_id = a.create_thread(ThreadKind.CHAT, "Us").thread_id
        join_with(a, r, a.invite(thread_id, Role.WRITE))  # offline: neither knows where the other is
        async with online(r, reachable=True) as r_net, online(a, reachable=False) as a_net:
            await trio.sleep(1)
            assert not relayed(a_net)
            local_settings.store_relay_addresses(a.database, [r_net.addresses()[0]])
            a_net.settings_changed()
            await wait_until(a, lambda: bool(relayed(a_net)))
            assert relayed(a_net) == [f"{r_net.addresses()[0]}/p2p-circuit/p2p/{a.identity.peer_id}"]

    trio.run(main)


def test_a_stranger_opening_many_silent_relay_requests_gets_only_a_few_waiting(
        open_node: Callable[[str], Node]) -> None:
    async def main() -> None:
        r, s = open_node("r"), open_node("s")
        async with online(r, reachable=True) as r_net, online(s, reachable=False) as s_net:
            host = s_net._host
            assert host is not None and r_net._host is not None
            await host.connect(info_from_p2p_addr(multiaddr.Multiaddr(r_net.addresses()[0])))
            streams, refused = [], 0
            for _ in range(MAX_READING_PER_PEER + 2):
                try:
                    stream = await host.new_stream(r_net._host.get_id(), [HOP_PROTOCOL])
                    await stream.write(b"\x05")  # a length prefix, and then nothing
                except Exception:  # noqa: BLE001 - refused at once: reset while opening or writing
                    refused += 1  # (the reset may come after the stream opened: counted once, here)
                    continue
                streams.append(stream)
            ended = 0
            for stream in streams:
                with trio.move_on_after(1.0):  # the extra ones end at once; the others wait 10 s
                    with contextlib.suppress(Exception):
                        await stream.read(1)
                    ended += 1
            assert refused + ended == 2 and len(streams) - ended == MAX_READING_PER_PEER
            for stream in streams:
                await stream.reset()

    trio.run(main)


def test_a_peer_that_becomes_reachable_starts_relaying_and_its_peers_reserve_there(
        open_node: Callable[[str], Node]) -> None:
    async def main() -> None:
        r, a = open_node("r"), open_node("a")
        r_reachable = [False]  # as a dial-back check would find, later
        async with trio.open_nursery() as nursery:
            r_net = connect_network(r, listen=[LOOPBACK], pull_interval=3600.0, reachable=lambda: r_reachable[0],
                                    hole_punching=False)
            await nursery.start(r_net.run)
            async with online(a, reachable=False) as a_net:
                thread_id = a.create_thread(ThreadKind.CHAT, "Us").thread_id
                join_with(a, r, a.invite(thread_id, Role.WRITE))
                await wait_until(a, lambda: peer(r) in {m.peer_id for m in a.membership.members(thread_id)})
                await trio.sleep(1)
                assert not relayed(a_net)  # R does not relay while it is not reachable
                r_reachable[0] = True
                await wait_until(a, lambda: bool(relayed(a_net)))
            nursery.cancel_scope.cancel()

    trio.run(main)


def test_strangers_get_one_brief_circuit_to_a_member_and_cannot_take_them_all(
        open_node: Callable[[str], Node]) -> None:
    """Review finding 2: four free identities could hold every circuit to A for an hour."""
    async def main() -> None:
        r, a, s1, s2 = open_node("r"), open_node("a"), open_node("s1"), open_node("s2")
        limits = RelayLimits(stranger_circuit_seconds=2)
        async with online(r, reachable=True, limits=limits) as r_net, online(a, reachable=False) as a_net, \
                online(s1, reachable=False) as s1_net, online(s2, reachable=False) as s2_net:
            await a_reserves_on_r(a, r, a_net, r_net)
            (through_r,) = relayed(a_net)
            assert s1_net.relay_client is not None and s2_net.relay_client is not None
            await s1_net.relay_client.dial_relayed(through_r)  # proved nothing: a stranger's circuit
            with pytest.raises(RelayRefused) as refused:
                await s2_net.relay_client.dial_relayed(through_r)
            assert refused.value.status == StatusCode.RESOURCE_LIMIT_EXCEEDED
            assert r_net.relay_service is not None
            assert r_net.relay_service.stranger_circuits == {a.identity.peer_id: 1}
            started = trio.current_time()
            await wait_until(a, lambda: r_net.relay_service.open_circuits == 0)  # type: ignore[union-attr]
            assert trio.current_time() - started < 10  # a stranger's circuit is brief
            assert not r_net.relay_service.stranger_circuits
            await s2_net.relay_client.dial_relayed(through_r)  # the slot is free again

    trio.run(main)


def test_a_relayed_dial_cancelled_midway_leaves_no_circuit_at_the_relay_nor_at_the_target(
        open_node: Callable[[str], Node]) -> None:
    """Review finding 9: the dialer's race cancels the losing dials."""
    async def main() -> None:
        r, a, b = open_node("r"), open_node("a"), open_node("b")
        async with online(r, reachable=True) as r_net, online(a, reachable=False) as a_net, \
                online(b, reachable=False) as b_net:
            await a_reserves_on_r(a, r, a_net, r_net)
            (through_r,) = relayed(a_net)
            answer, ended = trio.Event(), trio.Event()

            async def a_answers_late(stream: INetStream) -> None:  # A's side of the circuit, held open
                await read_varint_prefixed_bytes_limited(stream, 4096)
                await answer.wait()
                await stream.write(encode_varint_prefixed(
                    StopMessage(type=StopMessage.STATUS, status=int(StatusCode.OK)).SerializeToString()))
                with contextlib.suppress(Exception):
                    while await stream.read(4096):
                        pass
                ended.set()

            assert a_net._host is not None and b_net.relay_client is not None and r_net.relay_service is not None
            a_net._host.set_stream_handler(STOP_PROTOCOL, a_answers_late)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(b_net.relay_client.dial_relayed, through_r)
                await wait_until(b, lambda: r_net.relay_service.open_circuits == 1)  # type: ignore[union-attr]
                nursery.cancel_scope.cancel()  # B's dial loses the race while R waits for A
            answer.set()
            await wait_until(b, lambda: r_net.relay_service.open_circuits == 0, timeout=10)  # type: ignore[union-attr]
            with trio.fail_after(10):
                await ended.wait()  # A's end of the circuit was closed too

    trio.run(main)


def test_the_relay_gives_no_lan_address_for_relayed_addresses_only_public_ones_or_loopback_on_this_machine(
        open_node: Callable[[str], Node]) -> None:
    """Review finding 11: R's 192.168 address went into A's invite links."""
    async def main() -> None:
        r, a = open_node("r"), open_node("a")
        interfaces = [ipaddress.ip_interface("127.0.0.1/8"), ipaddress.ip_interface("192.168.77.5/24")]
        r_net = NetworkService(NodeThreads(r), listen=["/ip4/0.0.0.0/tcp/0"], pull_interval=3600.0,
                               reachable=lambda: True, hole_punching=False, read_interfaces=lambda: interfaces)
        r.attach_network(r_net)
        async with trio.open_nursery() as nursery, online(a, reachable=False) as a_net:
            await nursery.start(r_net.run)
            assert any("/ip4/192.168.77.5/" in x for x in r_net.addresses())  # R does listen there
            await a_reserves_on_r(a, r, a_net, r_net)
            (through_r,) = relayed(a_net)  # A reaches R over loopback: that address only
            assert through_r.startswith("/ip4/127.0.0.1/") and "192.168" not in through_r
            nursery.cancel_scope.cancel()

    trio.run(main)


def test_a_holder_that_misses_a_ping_when_the_relay_is_full_loses_its_slot_but_not_its_connections(
        open_node: Callable[[str], Node]) -> None:
    """Review finding 10: any admitted peer asking for a slot made the relay
    close every connection of a holder that missed one 3 s ping."""
    async def main() -> None:
        r, a, c = open_node("r"), open_node("a"), open_node("c")
        async with online(r, reachable=True, limits=RelayLimits(max_reservations=1)) as r_net, \
                online(a, reachable=False) as a_net, online(c, reachable=False) as c_net:
            thread_id = await a_reserves_on_r(a, r, a_net, r_net)
            join_with(a, c, a.invite(thread_id, Role.WRITE))  # type: ignore[arg-type]
            await wait_until(r, lambda: c.identity.peer_id in r_net._reach.proven)
            assert a_net._host is not None and c_net.relay_client is not None and r_net.relay_service is not None
            a_net._host.remove_stream_handler(PING_PROTOCOL)  # A is busy: no answer to R's ping
            await c_net.relay_client.reserve(r.identity.peer_id, r_net.addresses())
            assert set(r_net.relay_service.reservations) == {c.identity.peer_id}
            assert r_net.relay_service._connected(a.identity.peer_id)  # A's connections to R stay

    trio.run(main)


def test_only_relays_tell_where_our_listen_port_is_seen_not_any_peer_we_dial(
        open_node: Callable[[str], Node]) -> None:
    """Review finding 6: every peer dialled from the listen port was believed,
    and its report told to everyone we hole punch with."""
    async def main() -> None:
        r, a, c = open_node("r"), open_node("a"), open_node("c")
        async with online(r, reachable=True) as r_net, online(a, reachable=False, punch=True) as a_net, \
                online(c, reachable=False) as c_net:
            await a_reserves_on_r(a, r, a_net, r_net)
            assert a_net.relay_client is not None
            await a_net.relay_client.connect_directly(c.identity.peer_id, c_net.addresses(), from_listen_port=True)
            assert a_net.relay_client.directly(c.identity.peer_id)
            assert set(a_net.relay_client.observed) == {r.identity.peer_id}  # C's report is not taken
            a_net.relay_client.forget_observed()  # the network changed
            assert a_net.relay_client.observed_addresses() == []

    trio.run(main)
