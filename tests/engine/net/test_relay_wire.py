"""The relay's parsers of bytes from a peer: anything either parses to a
well-formed request or answer, or is refused with ProtocolError."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from libp2p.relay.circuit_v2.pb.circuit_pb2 import HopMessage, Reservation, StopMessage
from libp2p.relay.circuit_v2.pb.circuit_pb2 import PeerId as CircuitPeer

from threads_desktop.engine.core.errors import ProtocolError
from threads_desktop.engine.core.keys import Identity
from threads_desktop.engine.net.relay import (
    MAX_RESERVATION_ADDRESSES,
    has_public_address,
    parse_hop_request,
    parse_hop_status,
    parse_stop_connect,
)

RELAY = Identity.generate().peer_id
OTHER = Identity.generate().peer_id


@given(st.binary(max_size=512))
def test_any_bytes_are_a_hop_request_or_refused(data: bytes) -> None:
    try:
        request = parse_hop_request(data)
    except ProtocolError:
        return
    assert request.reserve or request.target is not None


@given(st.binary(max_size=512))
def test_any_bytes_are_a_relay_answer_or_refused(data: bytes) -> None:
    try:
        answer = parse_hop_status(data, RELAY)
    except ProtocolError:
        return
    assert len(answer.relay_addresses) <= MAX_RESERVATION_ADDRESSES
    assert all(a.endswith(f"/p2p/{RELAY}") for a in answer.relay_addresses)


@given(st.binary(max_size=512))
def test_any_bytes_are_a_relayed_call_or_refused(data: bytes) -> None:
    try:
        parse_stop_connect(data)
    except ProtocolError:
        pass


def test_a_connect_names_its_target_and_one_without_a_valid_peer_is_refused() -> None:
    good = HopMessage(type=HopMessage.CONNECT, peer=CircuitPeer(id=OTHER.raw)).SerializeToString()
    assert parse_hop_request(good).target == OTHER
    bad = HopMessage(type=HopMessage.CONNECT, peer=CircuitPeer(id=b"\x00\x01")).SerializeToString()
    try:
        parse_hop_request(bad)
    except ProtocolError:
        return
    raise AssertionError("a CONNECT without a valid peer was accepted")


@given(st.lists(st.sampled_from([
    f"/ip4/203.0.113.1/tcp/4141/p2p/{RELAY}",  # kept
    f"/ip4/203.0.113.1/tcp/4141/p2p/{OTHER}",  # another peer's: dropped
    f"/ip4/203.0.113.1/tcp/4141/p2p/{RELAY}/p2p-circuit/p2p/{OTHER}",  # relayed: dropped
]), max_size=20))
def test_a_reservation_keeps_only_the_relays_own_plain_addresses(addresses: list[str]) -> None:
    import multiaddr

    answer = HopMessage(type=HopMessage.STATUS, status=100, reservation=Reservation(
        expire=10, addrs=[multiaddr.Multiaddr(a).to_bytes() for a in addresses]))
    kept = parse_hop_status(answer.SerializeToString(), RELAY).relay_addresses
    expected = [a for a in addresses[:MAX_RESERVATION_ADDRESSES] if a.endswith(f"/p2p/{RELAY}") and "circuit" not in a]
    assert list(kept) == expected


def test_a_stop_message_must_be_a_connect_with_a_peer() -> None:
    assert parse_stop_connect(StopMessage(type=StopMessage.CONNECT, peer=CircuitPeer(id=OTHER.raw))
                              .SerializeToString()) == OTHER
    for message in (StopMessage(type=StopMessage.STATUS), StopMessage(type=StopMessage.CONNECT)):
        try:
            parse_stop_connect(message.SerializeToString())
        except ProtocolError:
            continue
        raise AssertionError("accepted a stop message that is no call")


def test_only_a_listen_address_on_a_global_ip_counts_as_reachable_until_a_check_says_better() -> None:
    assert has_public_address([f"/ip4/192.168.1.2/tcp/4141/p2p/{RELAY}", f"/ip4/11.0.113.1/tcp/4141/p2p/{RELAY}"])
    assert has_public_address(["/ip6/2a00:1450::1/tcp/4141"])
    assert not has_public_address([f"/ip4/127.0.0.1/tcp/4141/p2p/{RELAY}", "/ip4/10.0.0.2/tcp/4141",
                                   "/ip6/fe80::1/tcp/4141", "/ip4/203.0.113.1/tcp/4141",  # documentation range
                                   f"/ip4/11.0.113.1/tcp/4141/p2p/{RELAY}/p2p-circuit/p2p/{OTHER}"])
