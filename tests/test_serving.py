"""The served profile (serving.py): what the app, `serve`, `sync` and the
benchmarks run beside a node, on a real node over 127.0.0.1."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator

import pytest
import trio

from threads_desktop.cli.commands import forwarding_handler
from threads_desktop.control_socket import CONTROL_SOCKET_NAME, ControlReply, call_control_socket
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node
from threads_desktop.serving import ServedProfile

ANY_PORT = ["/ip4/127.0.0.1/tcp/0"]


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def _ask(node: Node, *argv: str) -> ControlReply:
    return call_control_socket(node.profile.directory / CONTROL_SOCKET_NAME, list(argv), timeout=30)


def test_a_served_profile_listens_elsewhere_when_its_port_is_taken_and_takes_commands(node: Node,
                                                                                      taken_port: int) -> None:
    node.create_thread(ThreadKind.CHAT, "Family")
    served = ServedProfile(listen=[f"/ip4/127.0.0.1/tcp/{taken_port}"], if_taken=ANY_PORT, lan_discovery=False,
                           commands=forwarding_handler)

    async def main() -> tuple[list[str], ControlReply]:
        async with trio.open_nursery() as nursery:
            service = await nursery.start(served.run, node)
            addresses = service.addresses()
            reply = await trio.to_thread.run_sync(_ask, node, "ls", "--json")
            nursery.cancel_scope.cancel()
        return addresses, reply

    addresses, reply = trio.run(main)
    assert addresses and all(a.startswith("/ip4/127.0.0.1/tcp/") for a in addresses)
    assert f"/tcp/{taken_port}/" not in " ".join(addresses) + "/"
    assert reply.exit_code == 0, reply.stderr
    assert [t["name"] for t in json.loads(reply.stdout)] == ["Family"]
    assert not (node.profile.directory / CONTROL_SOCKET_NAME).exists()  # removed as it stopped


def test_a_served_profile_with_nowhere_else_to_listen_fails_with_the_port_taken(node: Node, taken_port: int) -> None:
    served = ServedProfile(listen=[f"/ip4/127.0.0.1/tcp/{taken_port}"], lan_discovery=False)

    async def main() -> None:
        await served.network(node)()

    with pytest.raises(OSError):
        trio.run(main)


def test_a_served_profile_without_commands_opens_no_control_socket(node: Node) -> None:
    served = ServedProfile(listen=ANY_PORT, lan_discovery=False, gossip=False)

    async def main() -> bool:
        async with trio.open_nursery() as nursery:
            service = await nursery.start(served.run, node)
            online = node.network is service
            nursery.cancel_scope.cancel()
        return online

    assert trio.run(main)
    assert not (node.profile.directory / CONTROL_SOCKET_NAME).exists()
    assert len(served.services()) == 1  # the app's runtime gets the network alone


def test_starting_the_network_leaves_py_libp2p_saying_only_critical_things_into_our_log(
        node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    from libp2p.utils.logging import setup_logging as libp2p_import_time_setup

    monkeypatch.delenv("LIBP2P_DEBUG", raising=False)
    libp2p_logger = logging.getLogger("libp2p")
    before = libp2p_logger.level, libp2p_logger.propagate
    libp2p_import_time_setup()  # as a first import of libp2p leaves it, whatever ran in this process before
    served = ServedProfile(listen=ANY_PORT, lan_discovery=False, gossip=False)

    async def main() -> tuple[int, bool]:
        async with trio.open_nursery() as nursery:
            await nursery.start(served.run, node)
            seen = libp2p_logger.level, libp2p_logger.propagate
            nursery.cancel_scope.cancel()
        return seen

    try:
        assert trio.run(main) == (logging.CRITICAL, True)
    finally:
        libp2p_logger.setLevel(before[0])
        libp2p_logger.propagate = before[1]
