"""Circuit relay v2 between real peers on 127.0.0.1: R relays (it is
reachable), A is not and reserves a slot on R, B holds only A's relayed
address (an invite link) and reaches A through R. Strangers get nothing from
R; R's limits hold; A's reservation is renewed and made again after R
restarts."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import trio

from tests.engine.eventstore.peers import peer, texts
from tests.engine.net.running import wait_until
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.net.relay import RelayLimits, is_relayed
from threads_desktop.engine.net.service import NetworkService
from threads_desktop.engine.networking import connect_network
from threads_desktop.engine.node import Node

LOOPBACK = "/ip4/127.0.0.1/tcp/0"


@asynccontextmanager
async def online(node: Node, *, reachable: bool, listen: str = LOOPBACK,
                 limits: RelayLimits | None = None) -> AsyncIterator[NetworkService]:
    """One peer online for the block, reachable from outside or not."""
    async with trio.open_nursery() as nursery:
        service = connect_network(node, listen=[listen], pull_interval=3600.0, reachable=lambda: reachable,
                                  relay_limits=limits)
        await nursery.start(service.run)
        yield service
        nursery.cancel_scope.cancel()


def relayed(service: NetworkService) -> list[str]:
    return [a for a in service.listen_addresses() if is_relayed(a)]


async def a_reserves_on_r(a: Node, r: Node, a_net: NetworkService, r_net: NetworkService) -> object:
    """A shares a thread with R (R joined by link); A's reservation on R follows."""
    thread_id = a.create_thread(ThreadKind.CHAT, "Us").thread_id
    a.chat(thread_id).post("before you came")
    r.join(a.invite(thread_id, Role.WRITE))
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
            only_relayed = dataclasses.replace(link, addresses=(through_r,))
            b.join(only_relayed)
            await wait_until(b, lambda: texts(b, thread_id) == ["before you came"])  # type: ignore[arg-type]
            assert b_net.relay_client is not None and b_net.relay_client.via_relay(a.identity.peer_id)
            await wait_until(a, lambda: peer(b) in {m.peer_id for m in a.membership.members(thread_id)})  # type: ignore[arg-type]
            b.chat(thread_id).post("hi from b")  # type: ignore[arg-type]
            await wait_until(a, lambda: "hi from b" in texts(a, thread_id))  # type: ignore[arg-type]

    trio.run(main)
