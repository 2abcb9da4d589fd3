"""Reaching peers (issue 15, items 1, 2 and 7), with real peers on 127.0.0.1:
a peer whose first address does not answer, a peer restarted again and
again, and a peer nobody can dial that still gives its originals."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import trio

from tests.engine.eventstore.peers import join_with, texts
from tests.engine.modules.images import image_bytes
from tests.engine.net.running import serving, wait_until
from threads_desktop.engine.core.errors import NotFoundError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]


@contextmanager
def _silent_listener() -> Iterator[str]:
    """A local port that accepts TCP connections and never says a word (a
    port another program holds, or a black hole after the handshake): the
    worst kind of wrong address, the dialler learns nothing until it gives up."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield f"/ip4/127.0.0.1/tcp/{server.getsockname()[1]}"


def _closed_port() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return f"/ip4/127.0.0.1/tcp/{probe.getsockname()[1]}"  # closed once we return


def _listen_of(addresses: list[str]) -> str:
    return addresses[0].rsplit("/p2p/", 1)[0]


def test_a_peer_whose_first_address_never_answers_is_reached_at_its_second_at_once(open_node: OpenNode) -> None:
    async def main() -> None:
        a, b = open_node("a"), open_node("b")
        thread_id = a.create_thread(ThreadKind.CHAT, "Us").thread_id
        a.chat(thread_id).post("hello")
        # a on 127.0.0.2: the address book lists a's addresses in text
        # order, so the silent 127.0.0.1 port comes first.
        async with serving(a, "/ip4/127.0.0.2/tcp/0") as service_a, serving(b):
            link = a.invite(thread_id, Role.WRITE)
            with _silent_listener() as silent:
                peer_a = str(a.identity.peer_id)
                b.addresses.add(a.identity.peer_id, [f"{silent}/p2p/{peer_a}", *service_a.addresses()], 600)
                assert b.addresses.addresses(a.identity.peer_id)[0].startswith(silent + "/")
                started = time.monotonic()
                join_with(a, b, link)
                await wait_until(b, lambda: texts(b, thread_id) == ["hello"], timeout=30)
                took = time.monotonic() - started
        assert took < 3.0, f"took {took:.1f} s"

    trio.run(main)


def test_a_long_running_peer_syncs_with_a_peer_restarted_again_and_again(tmp_path: Path) -> None:
    """b restarts on its port with its identity; it cannot dial a (a is
    behind a router, say), so a must reconnect by itself each time."""
    rounds = 4

    async def main() -> None:
        a = Node.open(tmp_path / "a")
        b = Node.open(tmp_path / "b")
        thread_id = a.create_thread(ThreadKind.CHAT, "Us").thread_id
        async with serving(a):
            async with serving(b) as service_b:
                join_with(a, b, a.invite(thread_id, Role.WRITE))
                await wait_until(b, lambda: b.get_thread(thread_id).name == "Us")
                listen = _listen_of(service_b.addresses())
            b.close()
            for n in range(rounds):
                text = f"while b was away {n}"
                a.chat(thread_id).post(text)  # a tries b, which is down
                b = Node.open(tmp_path / "b")
                b.addresses.forget(a.identity.peer_id)
                try:
                    async with serving(b, listen):
                        started = time.monotonic()
                        await wait_until(b, lambda node=b, text=text: text in texts(node, thread_id), timeout=60)
                        took = time.monotonic() - started
                        assert took < 8.0, f"round {n}: a reached b after {took:.1f} s"
                        print(f"round {n}: a reached b after {took:.1f} s")
                finally:
                    b.close()
        a.close()

    trio.run(main)


def _photo_album(node: Node, folder: Path) -> tuple[ThreadId, str]:
    thread_id = node.create_thread(ThreadKind.ALBUM, "Trip").thread_id
    path = folder / "p.jpg"
    path.write_bytes(image_bytes("JPEG", size=(640, 480), seed=7))
    assert len(node.photos(thread_id).add_files([path]).added) == 1
    [doc] = node.photos(thread_id).page()
    return thread_id, doc.id


def test_a_peer_nobody_can_dial_gives_its_originals_over_the_connection_it_opens(
        open_node: OpenNode, tmp_path: Path) -> None:
    async def main() -> None:
        a, b = open_node("a"), open_node("b")
        async with serving(a) as service_a, serving(b) as service_b:
            listen_b = _listen_of(service_b.addresses())
            thread_id = a.create_thread(ThreadKind.CHAT, "Start").thread_id
            join_with(a, b, a.invite(thread_id, Role.WRITE))
            await wait_until(b, lambda: b.membership.join_state(thread_id) is None)  # synced: its bind written
            await wait_until(a, lambda: b.store.own_log(thread_id) in {h.log_id for h in a.store.logs(thread_id)
                                                                       if h.seq})
            # From now on b cannot dial a: a is behind a router.
            await service_a.stop()
        a_id = a.identity.peer_id
        b.addresses.forget(a_id)
        b.addresses.add(a_id, [f"{_closed_port()}/p2p/{a_id}"], 3600)
        album, photo_id = _photo_album(a, tmp_path)
        async with serving(b, listen_b) as service_b:
            join_with(a, b, a.invite(album, Role.WRITE))  # offline: b holds the invite, not the photo yet
            # b keeps failing to dial a, and backs off longer each time
            # (after the 4th failure, 8-16 s).
            await wait_until(b, lambda: any(s.failures >= 4 for s in service_b.peer_status()), timeout=40)
            async with serving(a):  # a comes online and dials out to b
                started = time.monotonic()
                await wait_until(b, lambda: _has_original(b, album, photo_id), timeout=60)
                took = time.monotonic() - started
        assert took < 4.0, f"took {took:.1f} s"

    trio.run(main)


def _has_original(node: Node, thread_id: ThreadId, photo_id: str) -> bool:
    try:
        node.photos(thread_id).original(photo_id)
    except NotFoundError:  # the photo, or its original, has not arrived yet
        return False
    return True
