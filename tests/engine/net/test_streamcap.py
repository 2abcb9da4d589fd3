"""The cap on inbound streams of every protocol (engine/net/streamcap.py),
crossed by a hostile peer holding streams open on one connection."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from libp2p.custom_types import TProtocol
from libp2p.host.exceptions import StreamFailure
from libp2p.host.ping import ID as PING
from libp2p.peer.id import ID

from tests.engine.net.hostile import connect, hostile_host, scene, still_serves
from threads_desktop.engine.core.keys import Identity
from threads_desktop.engine.net import wire
from threads_desktop.engine.net.budgets import Limits


def test_streams_beyond_the_cap_on_one_connection_are_refused_whatever_their_protocol(tmp_path: Path) -> None:
    """Before, a peer could open streams on one connection without end (our
    sync sessions have their own cap, identify, ping, gossip and dial-back
    none); py-libp2p's own cap was 10,000 for everyone together, and went
    with its resource manager. Here: 1 sync session + 2 pings + 1 sync
    session reach a cap of 4, and a fifth stream of either is reset before
    its protocol is even negotiated."""
    limits = Limits(streams_per_connection=4)

    async def main() -> None:
        async with scene(tmp_path, limits=limits) as s, hostile_host(Identity.generate()) as host:
            honest = ID(s.node.identity.peer_id.raw)
            threads = TProtocol(wire.PROTOCOL_ID)
            await connect(host, s)
            await trio.sleep(0.5)  # identify, which the hostile host opened on connecting, is over
            with trio.fail_after(30):
                held = [await host.new_stream(honest, [TProtocol(PING)]) for _ in range(2)]
                held.append(await host.new_stream(honest, [threads]))
                for protocol in (threads, TProtocol(PING)):
                    with pytest.raises(StreamFailure):
                        await host.new_stream(honest, [protocol])
                await held.pop().reset()
                for _ in range(50):  # bounded: until the node has counted that one out
                    try:
                        held.append(await host.new_stream(honest, [threads]))
                        break
                    except StreamFailure:
                        await trio.sleep(0.05)
                assert len(held) == 3
            await still_serves(s)  # another peer's connection has its own streams

    trio.run(main)
