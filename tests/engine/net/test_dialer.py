"""The dialler with a real libp2p host on 127.0.0.1: the first connection
wins, relayed addresses go last and only to the relay part, failures are
named."""

from __future__ import annotations

import socket
from collections.abc import Callable

import multiaddr
import pytest
import trio

from threads_desktop.engine.core.errors import PeerError
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.net import host as hosting
from threads_desktop.engine.net.addresses import read_interfaces
from threads_desktop.engine.net.dialer import MAX_ATTEMPTS, Dialer
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]
LOCAL = "/ip4/127.0.0.1/tcp/0"


def _closed_port() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return f"/ip4/127.0.0.1/tcp/{probe.getsockname()[1]}"


def test_relayed_addresses_go_last_to_the_relay_part_and_are_skipped_without_one(open_node: OpenNode) -> None:
    async def main() -> None:
        a, b = open_node("a"), open_node("b")
        host = hosting.build_host(a.identity)
        peer: PeerId = b.identity.peer_id
        relayed = f"/ip4/127.0.0.1/tcp/9/p2p/{a.identity.peer_id}/p2p-circuit/p2p/{peer}"
        direct = [f"{_closed_port()}/p2p/{peer}", f"{_closed_port()}/p2p/{peer}"]
        asked: list[str] = []

        async def through_relay(address: str) -> None:  # what the relay part does: here, it connects
            asked.append(address)

        async def dial(to: PeerId, address: str) -> None:
            await hosting.dial_address(host, to, address)

        async with host.run(listen_addrs=[multiaddr.Multiaddr(LOCAL)]):
            try:
                with_relay = Dialer(dial, read_interfaces, dial_relayed=through_relay, head_start=0.05)
                assert with_relay.order([relayed, *direct])[-1] == relayed
                assert await with_relay.dial(peer, [relayed, *direct]) == relayed
                assert asked == [relayed]  # once, after both direct addresses failed

                without = Dialer(dial, read_interfaces, head_start=0.05)
                assert relayed not in without.order([relayed, *direct])
                with pytest.raises(PeerError) as refused:
                    await without.dial(peer, [relayed, *direct])
                assert all(address in str(refused.value) for address in direct)
                with pytest.raises(PeerError, match="no address"):
                    await without.dial(peer, [relayed, "/ip4/0.0.0.0/tcp/1"])
            finally:
                await host.close()

    trio.run(main)


def test_a_peer_with_more_direct_addresses_than_attempts_is_still_reached_through_its_relay(
        open_node: OpenNode) -> None:
    """Review finding 4: the cut to MAX_ATTEMPTS dropped relayed addresses
    (ranked last) of a peer listing many direct ones."""
    async def main() -> None:
        a, b = open_node("a"), open_node("b")
        host = hosting.build_host(a.identity)
        peer: PeerId = b.identity.peer_id
        relayed = f"/ip4/127.0.0.1/tcp/9/p2p/{a.identity.peer_id}/p2p-circuit/p2p/{peer}"
        direct = [f"{_closed_port()}/p2p/{peer}" for _ in range(MAX_ATTEMPTS + 4)]
        asked: list[str] = []

        async def through_relay(address: str) -> None:
            asked.append(address)

        async def dial(to: PeerId, address: str) -> None:
            await hosting.dial_address(host, to, address)

        async with host.run(listen_addrs=[multiaddr.Multiaddr(LOCAL)]):
            try:
                dialer = Dialer(dial, read_interfaces, dial_relayed=through_relay, head_start=0.01)
                order = dialer.order([*direct, relayed])
                assert len(order) == MAX_ATTEMPTS and order[-1] == relayed
                assert await dialer.dial(peer, [*direct, relayed]) == relayed
                assert asked == [relayed]
            finally:
                await host.close()

    trio.run(main)
