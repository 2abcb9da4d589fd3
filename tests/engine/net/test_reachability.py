"""Reachability of running peers on 127.0.0.1: once two peers share a
thread, each asks the other to dial it back; a peer that reaches us at a
private address (loopback here) does not make us reachable from outside."""

from __future__ import annotations

from pathlib import Path

import multiaddr
import pytest
import trio

from tests.engine.net.running import running_peers, wait_until
from threads_desktop.engine.core.errors import PeerError
from threads_desktop.engine.core.keys import Identity
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.net import dialback
from threads_desktop.engine.net import host as hosting


def test_peers_that_share_a_thread_dial_each_other_back_and_a_private_network_is_not_outside(
        tmp_path: Path) -> None:
    async def main() -> None:
        async with running_peers(tmp_path, "a", "b") as peers:
            a, b = peers["a"], peers["b"]
            for running in (a, b):
                assert running.service.reachability().observed is None  # nobody asked yet
                assert running.node.network_status().reachability is None
            thread_id = a.node.create_thread(ThreadKind.CHAT, "Us").thread_id
            b.node.join(a.node.invite(thread_id, Role.WRITE))
            for running in (a, b):
                await wait_until(running.node, lambda r=running: r.service.reachability().observed is not None)
                state = running.service.reachability()
                # Dialled back at loopback: that says nothing of the outside.
                assert state.observed is not None and state.observed.startswith("/ip4/127.0.0.1/tcp/")
                assert state.reachable is None and state.address is None and state.behind_nat is False
                assert running.node.network_status().reachability is None  # nothing to show
            assert len(a.service.addresses()) == 1

    trio.run(main)


def test_a_running_peer_dials_back_only_peers_that_proved_a_shared_thread(tmp_path: Path) -> None:
    async def main() -> None:
        async with running_peers(tmp_path, "a", "b") as peers, trio.open_nursery() as nursery:
            a, b = peers["a"], peers["b"]
            identity = Identity.generate()
            stranger = hosting.build_host(identity)
            listening = trio.Event()

            async def serve_stranger() -> None:
                async with stranger.run(listen_addrs=[multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]):
                    listening.set()
                    await trio.sleep_forever()

            nursery.start_soon(serve_stranger)
            await listening.wait()
            at = dialback.parse_address(hosting.listen_addresses(stranger)[0].split("/p2p/", 1)[0])
            stream = await hosting.open_stream(stranger, a.node.identity.peer_id, a.service.addresses(),
                                               dialback.PROTOCOL_ID)
            with pytest.raises(PeerError, match="share a thread"):
                await dialback.ask(stream, [at])
            # b proves a shared thread by syncing it; then a dials b back when b asks.
            thread_id = a.node.create_thread(ThreadKind.CHAT, "Us").thread_id
            b.node.join(a.node.invite(thread_id, Role.WRITE))
            await wait_until(b.node, lambda: b.service.reachability().observed is not None)
            stream = await hosting.open_stream(b.service._host, a.node.identity.peer_id,
                                               a.service.addresses(), dialback.PROTOCOL_ID)
            answer = await dialback.ask(stream, [dialback.parse_address(b.listen)])
            assert answer.results == (dialback.REACHED,)
            nursery.cancel_scope.cancel()

    trio.run(main)
