"""Reachability of running peers on 127.0.0.1: once two peers share a
thread, each asks the other to dial it back; a peer that reaches us at a
private address (loopback here) does not make us reachable from outside."""

from __future__ import annotations

from pathlib import Path

import trio

from tests.engine.net.running import running_peers, wait_until
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind


def test_peers_that_share_a_thread_dial_each_other_back_and_a_private_network_is_not_outside(
        tmp_path: Path) -> None:
    async def main() -> None:
        async with running_peers(tmp_path, "a", "b") as peers:
            a, b = peers["a"], peers["b"]
            for running in (a, b):
                assert running.service.reachability().reachable is None  # nobody asked yet
                assert running.node.network_status().reachable is None
            thread_id = a.node.create_thread(ThreadKind.CHAT, "Us").thread_id
            b.node.join(a.node.invite(thread_id, Role.WRITE))
            for running in (a, b):
                await wait_until(running.node, lambda r=running: r.service.reachability().reachable is not None)
                state = running.service.reachability()
                assert state.reachable is False and state.address is None and state.behind_nat is False
                assert running.node.network_status().reachable is False
                assert state.observed is not None and state.observed.startswith("/ip4/127.0.0.1/tcp/")
            assert len(a.service.addresses()) == 1

    trio.run(main)
