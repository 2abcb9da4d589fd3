"""Hole punching (DCUtR) is only for members, and a peer's addresses are
cut to a few that can be ours to dial: a stranger who reached a NATed peer
through its relay cannot make it dial hundreds of addresses (review
finding 1). Real peers on 127.0.0.1."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import multiaddr
import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st
from libp2p.abc import INetStream
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from libp2p.relay.circuit_v2.dcutr import PROTOCOL_ID as DCUTR_PROTOCOL
from libp2p.relay.circuit_v2.dcutr import DCUtRProtocol
from libp2p.relay.circuit_v2.pb.dcutr_pb2 import HolePunch
from libp2p.utils.varint import encode_varint_prefixed, read_varint_prefixed_bytes_limited

from tests.engine.eventstore.peers import join_with
from tests.engine.net.test_relay import a_reserves_on_r, online
from threads_desktop.engine.core.errors import PeerError
from threads_desktop.engine.core.keys import Identity
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.net import addresses as addressing
from threads_desktop.engine.net.holepunch import MAX_PUNCH_ADDRESSES, TAKE_OVER_AFTER_SECONDS, HolePuncher
from threads_desktop.engine.net.host import NETWORK_ERRORS, build_host
from threads_desktop.engine.node import Node

MANY = 300


def loopback_addresses(port: int) -> list[bytes]:
    return [multiaddr.Multiaddr(f"/ip4/127.0.{i // 250}.{i % 250 + 2}/tcp/{port}").to_bytes() for i in range(MANY)]


async def count_connections(listener: trio.SocketListener, seen: set[str]) -> None:
    """Every connection to `listener` (on 0.0.0.0: any 127.x.y.z reaches it), by the IP dialled."""
    while True:
        stream = await listener.accept()
        seen.add(stream.socket.getsockname()[0])
        await stream.aclose()


def test_a_stranger_that_reached_us_through_our_relay_cannot_make_us_dial_its_hundreds_of_addresses(
        open_node: Callable[[str], Node]) -> None:
    async def main() -> None:
        r, t, s = open_node("r"), open_node("t"), open_node("s")
        dialled: set[str] = set()
        async with online(r, reachable=True) as r_net, online(t, reachable=False, punch=True) as t_net, \
                online(s, reachable=False) as s_net, trio.open_nursery() as nursery:
            (listener,) = await trio.open_tcp_listeners(0, host="0.0.0.0")
            port = listener.socket.getsockname()[1]
            nursery.start_soon(count_connections, listener, dialled)
            asked: list[int] = []

            async def answer_with_many(stream: INetStream) -> None:  # T's own punch towards S
                asked.append(1)
                await read_varint_prefixed_bytes_limited(stream, 4096)
                await stream.write(encode_varint_prefixed(
                    HolePunch(type=HolePunch.CONNECT, ObsAddrs=loopback_addresses(port)).SerializeToString()))
                await read_varint_prefixed_bytes_limited(stream, 4096)

            assert s_net._host is not None
            s_net._host.set_stream_handler(DCUTR_PROTOCOL, answer_with_many)
            await a_reserves_on_r(t, r, t_net, r_net)
            (through_r,) = [a for a in t_net.listen_addresses() if "/p2p-circuit" in a]
            assert s_net.relay_client is not None
            await s_net.relay_client.dial_relayed(through_r)  # S proved nothing to anyone
            # S starts a hole punch itself, offering 300 addresses: T does not take part.
            stream = await s_net._host.new_stream(ID(t.identity.peer_id.raw), [DCUTR_PROTOCOL])
            with pytest.raises((*NETWORK_ERRORS, ValueError)):  # reset (py-libp2p raises several types)
                with trio.fail_after(10):
                    await stream.write(encode_varint_prefixed(
                        HolePunch(type=HolePunch.CONNECT, ObsAddrs=loopback_addresses(port)).SerializeToString()))
                    answer = await read_varint_prefixed_bytes_limited(stream, 4096)
                    if not answer:
                        raise ValueError("closed")
            assert not asked  # nor did T start one with S
            assert not dialled
            nursery.cancel_scope.cancel()

    trio.run(main)


ADDRESS = st.one_of(
    st.tuples(st.sampled_from(["1.2.3.4", "8.8.8.8", "203.0.113.9", "127.0.0.5", "10.1.2.3",
                               "192.168.5.9", "192.168.7.7", "169.254.1.1", "0.0.0.0"]),
              st.integers(1, 65535)).map(lambda a: multiaddr.Multiaddr(f"/ip4/{a[0]}/tcp/{a[1]}").to_bytes()),
    st.binary(max_size=40))


@settings(max_examples=200, deadline=None)
@given(st.lists(ADDRESS, max_size=500))
def test_of_the_addresses_a_peer_sends_for_a_hole_punch_at_most_a_few_public_or_on_our_network_are_kept(
        sent: list[bytes]) -> None:
    ours = [ipaddress.ip_interface("192.168.7.2/24")]
    puncher = HolePuncher(build_host(Identity.generate()), observed=list, source=lambda: None,
                          member=lambda _: True, interfaces=lambda: ours)
    try:
        kept = [str(a) for a in puncher._decode_observed_addrs(sent)]
    except PeerError:  # none kept: the session ends before anyone dials
        return
    assert 0 < len(kept) <= MAX_PUNCH_ADDRESSES
    assert len(set(kept)) == len(kept)
    for address in kept:
        scope = addressing.classify(address)
        found = addressing.endpoint(address)
        assert scope is addressing.Scope.PUBLIC or (found is not None and found.ip in ours[0].network)


def test_a_hole_punch_never_dials_an_endpoint_where_another_connected_peer_is(
        open_node: Callable[[str], Node], monkeypatch: pytest.MonkeyPatch) -> None:
    """After a relay restart a peer was offered the relay's own address for
    a punch (docs/LIBP2P-NOTES.md, relay-restart); the library's guard reads
    the wrong ID out of our circuit addresses and filters nothing."""
    dialled: list[str] = []
    library_dial = DCUtRProtocol._dial_peer

    async def recording_dial(self: DCUtRProtocol, peer_id: ID, addr: multiaddr.Multiaddr, *args: object,
                             **kwargs: object) -> None:
        dialled.append(str(addr))
        await library_dial(self, peer_id, addr, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(DCUtRProtocol, "_dial_peer", recording_dial)

    async def main() -> None:
        a, f = open_node("a"), open_node("f")
        async with online(a, reachable=False, punch=True) as a_net, online(f, reachable=True) as f_net:
            assert a_net._host is not None and a_net.relay_client is not None
            f_address = f_net.addresses()[0]
            await a_net._host.connect(PeerInfo(ID(f.identity.peer_id.raw), [multiaddr.Multiaddr(f_address)]))
            other = ID(Identity.generate().peer_id.raw)  # the peer we punch towards
            with trio.move_on_after(3):  # the dials start at once; then it waits for a connection
                await a_net.relay_client.puncher._perform_hole_punch(other, [multiaddr.Multiaddr(f_address)])
            assert dialled == []

    trio.run(main)


# An address T may dial (public), never dialled here: T dials only after a SYNC, which no test sends it.
SOMEWHERE = multiaddr.Multiaddr("/ip4/203.0.113.9/tcp/4141").to_bytes()  # documentation: routed nowhere


def test_a_member_that_tries_again_is_answered_though_its_last_try_is_still_open_here(
        open_node: Callable[[str], Node]) -> None:
    """py-libp2p's answering side keeps a session going ~21 s after the other
    side gave up (docs/LIBP2P-NOTES.md, punch-retry): a member's new try ends
    it (and its stream) and is answered, where it was refused as busy; but
    not sooner than TAKE_OVER_AFTER_SECONDS, so no member makes us dial at will."""
    async def main() -> None:
        r, t, s = open_node("r"), open_node("t"), open_node("s")
        async with online(r, reachable=True) as r_net, online(t, reachable=False, punch=True) as t_net, \
                online(s, reachable=False) as s_net:
            # S reserves on R and T calls it there: S, called, would punch (it has no puncher); T answers.
            thread_id = await a_reserves_on_r(s, r, s_net, r_net)
            join_with(s, t, s.invite(thread_id, Role.WRITE))  # type: ignore[arg-type]
            (through_r,) = [a for a in s_net.listen_addresses() if "/p2p-circuit" in a]
            assert t_net.relay_client is not None and s_net._host is not None
            await t_net.relay_client.dial_relayed(through_r)
            host = s_net._host

            async def try_once(addresses: tuple[bytes, ...] = (SOMEWHERE,)) -> tuple[INetStream, int | None]:
                """A try left open after T's answer, as a side that gave up at once leaves it: (stream,
                the answer's type; None if T reset the stream)."""
                with trio.fail_after(10):
                    stream = await host.new_stream(ID(t.identity.peer_id.raw), [DCUTR_PROTOCOL])
                    try:
                        await stream.write(encode_varint_prefixed(
                            HolePunch(type=HolePunch.CONNECT, ObsAddrs=addresses).SerializeToString()))
                        data = await read_varint_prefixed_bytes_limited(stream, 4096)
                        if not data:
                            return stream, None  # closed
                    except NETWORK_ERRORS:
                        return stream, None
                answer = HolePunch()
                answer.ParseFromString(data)
                return stream, answer.type

            _, to_nowhere = await try_once(())
            assert to_nowhere is None  # nothing T could dial: it ends the session rather than answer
            first, answer = await try_once()
            assert answer == HolePunch.CONNECT
            _, too_soon = await try_once()
            assert too_soon is None  # refused: the first has not run TAKE_OVER_AFTER_SECONDS
            await trio.sleep(TAKE_OVER_AFTER_SECONDS)
            _, again = await try_once()
            assert again == HolePunch.CONNECT
            with trio.fail_after(5), pytest.raises(NETWORK_ERRORS):  # the first try's stream was ended
                await read_varint_prefixed_bytes_limited(first, 4096)

    trio.run(main)


def test_a_punch_with_no_address_to_dial_ends_before_the_other_side_is_told_to_dial(
        open_node: Callable[[str], Node]) -> None:
    """The other side would dial alone: its SYNs, lost at our router, leave
    NAT state at its own that can stop the next try (LIBP2P-NOTES, punch-retry)."""
    async def main() -> None:
        r, t, s = open_node("r"), open_node("t"), open_node("s")
        async with online(r, reachable=True) as r_net, online(t, reachable=False, punch=True) as t_net, \
                online(s, reachable=False) as s_net:
            told: list[str] = []
            ended = trio.Event()

            async def answer_with_nothing_to_dial(stream: INetStream) -> None:  # T's punch towards S
                try:
                    await read_varint_prefixed_bytes_limited(stream, 4096)
                    await stream.write(encode_varint_prefixed(
                        HolePunch(type=HolePunch.CONNECT, ObsAddrs=[]).SerializeToString()))
                    with trio.fail_after(10):
                        data = await read_varint_prefixed_bytes_limited(stream, 4096)
                    sync = HolePunch()
                    sync.ParseFromString(data)
                    told.append(HolePunch.Type.Name(sync.type) if data else "ended")
                except NETWORK_ERRORS:
                    told.append("ended")
                finally:
                    ended.set()

            assert s_net._host is not None and s_net.relay_client is not None
            s_net._host.set_stream_handler(DCUTR_PROTOCOL, answer_with_nothing_to_dial)
            thread_id = await a_reserves_on_r(t, r, t_net, r_net)
            join_with(t, s, t.invite(thread_id, Role.WRITE))  # type: ignore[arg-type]
            (through_r,) = [a for a in t_net.listen_addresses() if "/p2p-circuit" in a]
            await s_net.relay_client.dial_relayed(through_r)  # T, called, punches S
            with trio.fail_after(30):
                await ended.wait()
            assert told == ["ended"]

    trio.run(main)
