"""The dial-back protocol (dialback.py) between real libp2p hosts on
127.0.0.1: the answering peer dials the asker over a fresh connection and
tells what it reached; it refuses strangers, other IPs, and too many
requests."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import multiaddr
import pytest
import trio
from libp2p.abc import IHost

from threads_desktop.engine.core.errors import PeerError
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.core.keys import Identity
from threads_desktop.engine.net import dialback
from threads_desktop.engine.net import host as hosting
from threads_desktop.engine.net.dialback import (
    NOT_REACHED,
    REACHED,
    REFUSED,
    DialBackAnswer,
    DialBackLimits,
    DialBackServer,
    TcpAddress,
    parse_address,
)

TIMEOUT = 30.0


@dataclass
class Peer:
    host: IHost
    peer_id: PeerId

    @property
    def address(self) -> TcpAddress:
        """Where it listens (loopback)."""
        text = hosting.listen_addresses(self.host)[0].split("/p2p/", 1)[0]
        return parse_address(text)


@asynccontextmanager
async def peers(count: int) -> AsyncIterator[list[Peer]]:
    async with trio.open_nursery() as nursery:
        started: list[Peer] = []

        async def one(task_status: trio.TaskStatus[None]) -> None:
            identity = Identity.generate()
            host = hosting.build_host(identity)
            async with host.run(listen_addrs=[multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]):
                started.append(Peer(host, identity.peer_id))
                task_status.started()
                await trio.sleep_forever()

        for _ in range(count):
            await nursery.start(one)
        yield started
        nursery.cancel_scope.cancel()


def answering(peer: Peer, server: DialBackServer) -> None:
    hosting.set_handler(peer.host, dialback.PROTOCOL_ID, server.serve)


async def ask(asker: Peer, answerer: Peer, addresses: list[TcpAddress]) -> DialBackAnswer:
    stream = await hosting.open_stream(asker.host, answerer.peer_id,
                                       hosting.listen_addresses(answerer.host), dialback.PROTOCOL_ID)
    try:
        return await dialback.ask(stream, addresses)
    finally:
        await stream.close()


def free_port() -> int:
    """A port nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def counting(dial: dialback.Dial) -> tuple[dialback.Dial, list[TcpAddress]]:
    """The real dial, noting each address it is asked to dial."""
    dialled: list[TcpAddress] = []

    async def dial_and_note(target: TcpAddress, peer: PeerId) -> bool:
        dialled.append(target)
        return await dial(target, peer)

    return dial_and_note, dialled


def run(test: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        with trio.fail_after(TIMEOUT):
            await test()
    trio.run(bounded)


def test_a_listening_peer_is_reached_over_a_fresh_connection_and_told_its_observed_address() -> None:
    async def main() -> None:
        async with peers(2) as (asker, answerer):
            answering(answerer, DialBackServer(proven=lambda p: p == asker.peer_id, dial=dialback.noise_dial))
            answer = await ask(asker, answerer, [asker.address])
            assert answer.results == (REACHED,)
            assert str(answer.observed.ip) == "127.0.0.1" and answer.observed.port != asker.address.port
    run(main)


def test_an_address_nobody_listens_on_is_not_reached() -> None:
    async def main() -> None:
        async with peers(2) as (asker, answerer):
            answering(answerer, DialBackServer(proven=lambda p: p == asker.peer_id, dial=dialback.noise_dial))
            nobody = TcpAddress(asker.address.ip, free_port())
            answer = await ask(asker, answerer, [nobody, asker.address])
            assert answer.results == (NOT_REACHED, REACHED)
    run(main)


def test_another_peer_listening_at_the_address_is_not_taken_for_the_asker() -> None:
    async def main() -> None:
        async with peers(3) as (asker, answerer, other):
            answering(answerer, DialBackServer(proven=lambda p: p == asker.peer_id, dial=dialback.noise_dial))
            answer = await ask(asker, answerer, [other.address])
            assert answer.results == (NOT_REACHED,)  # the Noise handshake names another peer
    run(main)


def test_an_address_of_another_ip_is_refused_without_being_dialled() -> None:
    async def main() -> None:
        async with peers(2) as (asker, answerer):
            dial, dialled = counting(dialback.noise_dial)
            answering(answerer, DialBackServer(proven=lambda p: p == asker.peer_id, dial=dial))
            elsewhere = parse_address("/ip4/192.0.2.7/tcp/4141")
            answer = await ask(asker, answerer, [elsewhere, asker.address])
            assert answer.results == (REFUSED, REACHED)
            assert dialled == [asker.address]
    run(main)


def test_a_peer_that_proved_no_shared_thread_is_refused() -> None:
    async def main() -> None:
        async with peers(2) as (stranger, answerer):
            dial, dialled = counting(dialback.noise_dial)
            answering(answerer, DialBackServer(proven=lambda p: False, dial=dial))
            with pytest.raises(PeerError, match="share a thread"):
                await ask(stranger, answerer, [stranger.address])
            assert dialled == []
    run(main)


def test_requests_beyond_the_per_peer_limit_are_refused_until_the_window_passes() -> None:
    now = [1000.0]

    async def main() -> None:
        async with peers(2) as (asker, answerer):
            limits = DialBackLimits(requests_per_peer=2, window=600.0)
            answering(answerer, DialBackServer(proven=lambda p: p == asker.peer_id, dial=dialback.noise_dial,
                                               limits=limits, clock=lambda: now[0]))
            for _ in range(2):
                assert (await ask(asker, answerer, [asker.address])).results == (REACHED,)
            with pytest.raises(PeerError, match="too many"):
                await ask(asker, answerer, [asker.address])
            now[0] += 601.0
            assert (await ask(asker, answerer, [asker.address])).results == (REACHED,)
    run(main)


def test_requests_of_all_peers_together_are_bounded() -> None:
    async def main() -> None:
        async with peers(3) as (first, second, answerer):
            limits = DialBackLimits(requests_per_peer=4, requests_in_total=3)
            answering(answerer, DialBackServer(proven=lambda p: p in (first.peer_id, second.peer_id),
                                               dial=dialback.noise_dial, limits=limits))
            for asker in (first, first, second):
                assert (await ask(asker, answerer, [asker.address])).results == (REACHED,)
            with pytest.raises(PeerError, match="busy"):
                await ask(second, answerer, [second.address])
    run(main)


def test_a_request_is_bounded_in_addresses_and_dials_in_flight() -> None:
    async def main() -> None:
        async with peers(2) as (asker, answerer):
            release = trio.Event()
            dialling = [0]

            async def slow_dial(target: TcpAddress, peer: PeerId) -> bool:
                dialling[0] += 1
                await release.wait()
                return await dialback.noise_dial(target, peer)

            limits = DialBackLimits(dials_in_flight=2)
            answering(answerer, DialBackServer(proven=lambda p: p == asker.peer_id, dial=slow_dial,
                                               limits=limits))
            async with trio.open_nursery() as nursery:
                answers: list[DialBackAnswer] = []

                async def first() -> None:
                    answers.append(await ask(asker, answerer, [asker.address, asker.address]))

                nursery.start_soon(first)
                while dialling[0] < 2:  # bounded by the test's fail_after
                    await trio.sleep(0.01)
                with pytest.raises(PeerError, match="busy"):  # two dials in flight already
                    await ask(asker, answerer, [asker.address])
                release.set()
            assert answers[0].results == (REACHED, REACHED)
            with pytest.raises(ValueError):
                await ask(asker, answerer, [asker.address] * (dialback.MAX_ADDRESSES + 1))
    run(main)
