"""Reachability of running peers on 127.0.0.1: once two peers share a
thread, each asks the other to dial it back; a peer that reaches us at a
private address (loopback here) does not make us reachable from outside."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import multiaddr
import pytest
import trio

from tests.engine.eventstore.peers import join_with
from tests.engine.net.running import running_peers, wait_until
from threads_desktop.engine.core.errors import PeerError
from threads_desktop.engine.core.keys import Identity
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.net import addresses as addressing
from threads_desktop.engine.net import dialback
from threads_desktop.engine.net import host as hosting
from threads_desktop.engine.net.service import NetworkService
from threads_desktop.engine.networking import NodeThreads, connect_network
from threads_desktop.engine.node import Node


def test_peers_that_share_a_thread_dial_each_other_back_and_a_private_network_is_not_outside(
        tmp_path: Path) -> None:
    async def main() -> None:
        async with running_peers(tmp_path, "a", "b") as peers:
            a, b = peers["a"], peers["b"]
            for running in (a, b):
                assert running.service.reachability().observed is None  # nobody asked yet
                assert running.node.network_status().reachability is None
            thread_id = a.node.create_thread(ThreadKind.CHAT, "Us").thread_id
            join_with(a.node, b.node, a.node.invite(thread_id, Role.WRITE))
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
            join_with(a.node, b.node, a.node.invite(thread_id, Role.WRITE))
            await wait_until(b.node, lambda: b.service.reachability().observed is not None)
            stream = await hosting.open_stream(b.service._host, a.node.identity.peer_id,
                                               a.service.addresses(), dialback.PROTOCOL_ID)
            answer = await dialback.ask(stream, [dialback.parse_address(b.listen)])
            assert answer.results == (dialback.REACHED,)
            nursery.cancel_scope.cancel()

    trio.run(main)


def test_a_peer_whose_network_changes_forgets_its_reachability_and_asks_again_at_once(tmp_path: Path) -> None:
    """Review finding 8: a laptop moving from a reachable home to a NATed
    cafe kept the old answer (and mapping, and agreed public address) for
    up to 30 min. Here the machine gains an address (read_interfaces is
    the service's own reader plus one more loopback address, so nothing is
    dialled beyond this machine): the answer is dropped and asked anew."""
    moved = trio.Event()

    def interfaces() -> list[addressing.Interface]:
        found = addressing.read_interfaces()
        return [*found, ipaddress.ip_interface("127.0.0.77/32")] if moved.is_set() else found

    async def main() -> None:
        a, b = Node.open(tmp_path / "a"), Node.open(tmp_path / "b")
        try:
            async with trio.open_nursery() as nursery:
                a_net = NetworkService(NodeThreads(a), listen=["/ip4/127.0.0.1/tcp/0"], pull_interval=3600.0,
                                       read_interfaces=interfaces)
                a.attach_network(a_net)
                await nursery.start(a_net.run)
                await nursery.start(connect_network(b, listen=["/ip4/127.0.0.1/tcp/0"], pull_interval=3600.0).run)
                thread_id = a.create_thread(ThreadKind.CHAT, "Us").thread_id
                join_with(a, b, a.invite(thread_id, Role.WRITE))
                await wait_until(a, lambda: a_net.reachability().observed is not None)
                first = a_net.reachability().since
                assert first is not None
                moved.set()
                # the interfaces are read every 5 s; the next answer then comes at once (not in 30 min)
                await wait_until(a, lambda: (a_net.reachability().since or first) > first, timeout=30.0)
                assert a_net.reachability().observed is not None
                nursery.cancel_scope.cancel()
        finally:
            a.close()
            b.close()

    trio.run(main)


def test_the_interfaces_are_never_read_on_the_engine_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Review finding 12: ifaddr blocks (it walks every interface); the
    dial-back answer and the Devices view read the interfaces the watch
    keeps, read on a worker thread. The real ifaddr runs, noted where."""
    import ifaddr

    real = ifaddr.get_adapters
    on_trio_thread: list[bool] = []

    def noted(*args: Any, **kwargs: Any) -> Any:
        try:
            trio.lowlevel.current_task()
            on_trio_thread.append(True)
        except RuntimeError:  # a worker thread: no trio task here
            on_trio_thread.append(False)
        return real(*args, **kwargs)

    monkeypatch.setattr(ifaddr, "get_adapters", noted)

    async def main() -> None:
        async with running_peers(tmp_path, "a", "b") as peers:
            a, b = peers["a"], peers["b"]
            thread_id = a.node.create_thread(ThreadKind.CHAT, "Us").thread_id
            join_with(a.node, b.node, a.node.invite(thread_id, Role.WRITE))
            for running in (a, b):
                await wait_until(running.node, lambda r=running: r.service.reachability().observed is not None)
                running.node.network_status()  # the Devices view's status, with its connections
        assert on_trio_thread and not any(on_trio_thread)

    trio.run(main)
