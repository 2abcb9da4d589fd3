"""Photo previews and originals between real peers: previews first, originals
always or on demand, progress, and a follower that keeps blocks it cannot
open."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import trio

from tests.engine.eventstore.peers import join_with
from tests.engine.modules.images import image_bytes
from tests.engine.net.running import serving, wait_until
from threads_desktop.engine.core.errors import NotFoundError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import FetchOriginals, ThreadKind
from threads_desktop.engine.logstore.blobs import BlobRef
from threads_desktop.engine.net.client import Progress
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]


def _album(node: Node, folder: Path, count: int) -> ThreadId:
    thread_id = node.create_thread(ThreadKind.ALBUM, "Trip").thread_id
    folder.mkdir()
    paths = []
    for i in range(count):
        path = folder / f"p{i}.jpg"
        path.write_bytes(image_bytes("JPEG", size=(640, 480), seed=40 * i + 10))
        paths.append(path)
    assert len(node.photos(thread_id).add_files(paths).added) == count
    return thread_id


def _has(node: Node, thread_id: ThreadId, which: str) -> bool:
    photos = node.photos(thread_id)
    try:
        for doc in photos.page():
            photos.preview(doc.id) if which == "preview" else photos.original(doc.id)
    except NotFoundError:
        return False
    return bool(photos.page())


def test_a_reader_gets_previews_and_originals_byte_for_byte(open_node: OpenNode, tmp_path: Path) -> None:
    async def main() -> None:
        a, b = open_node("a"), open_node("b")
        thread_id = _album(a, tmp_path / "pics", 3)
        reports: list[Progress] = []
        async with serving(a), serving(b, on_progress=reports.append):
            join_with(a, b, a.invite(thread_id, Role.READ))
            await wait_until(b, lambda: _has(b, thread_id, "original"))
        for doc in a.photos(thread_id).page():
            assert b.photos(thread_id).preview(doc.id) == a.photos(thread_id).preview(doc.id)
            assert b.photos(thread_id).original(doc.id) == a.photos(thread_id).original(doc.id)
        assert reports and reports[-1].done == reports[-1].total > 0

    trio.run(main)


def test_originals_on_demand_wait_until_asked_for(open_node: OpenNode, tmp_path: Path) -> None:
    async def main() -> None:
        a, b = open_node("a"), open_node("b")
        thread_id = _album(a, tmp_path / "pics", 2)
        async with serving(a), serving(b) as service_b:
            join_with(a, b, a.invite(thread_id, Role.READ))
            b.peers.set_fetch_originals(thread_id, False)
            await wait_until(b, lambda: _has(b, thread_id, "preview"))
            first, second = b.photos(thread_id).page()
            with pytest.raises(NotFoundError):
                b.photos(thread_id).original(first.id)
            service_b.want_original(thread_id, BlobRef.from_value(first.data["original"]).manifest)
            await wait_until(b, lambda: _can_open_original(b, thread_id, first.id))
            with pytest.raises(NotFoundError):
                b.photos(thread_id).original(second.id)
            assert b.peers.wanted_blobs(thread_id) == set()

    trio.run(main)


def test_a_profile_that_chose_originals_on_demand_joins_without_fetching_them(
        open_node: OpenNode, tmp_path: Path) -> None:
    """The choice belongs to the profile: made in another process (the app),
    it holds for an album joined later by `serve` or a CLI command, with no
    one pushing it into the new thread."""
    chooser = open_node("b")
    chooser.set_fetch_originals(FetchOriginals.ON_DEMAND)
    chooser.close()

    async def main() -> None:
        a, b = open_node("a"), open_node("b")
        thread_id = _album(a, tmp_path / "pics", 2)
        async with serving(a), serving(b):
            join_with(a, b, a.invite(thread_id, Role.READ))
            await wait_until(b, lambda: _has(b, thread_id, "preview"))
        assert not any(_can_open_original(b, thread_id, doc.id) for doc in b.photos(thread_id).page())

    trio.run(main)


def _can_open_original(node: Node, thread_id: ThreadId, photo_id: str) -> bool:
    try:
        node.photos(thread_id).original(photo_id)
    except NotFoundError:
        return False
    return True


def test_a_follower_keeps_every_block_and_serves_them_to_a_reader(open_node: OpenNode, tmp_path: Path) -> None:
    async def main() -> None:
        a, f, r = (open_node(n) for n in "afr")
        thread_id = a.create_thread(ThreadKind.ALBUM, "Trip").thread_id
        async with serving(a) as service_a, serving(f):
            join_with(a, f, a.invite(thread_id, Role.FOLLOW))
            async with serving(r):
                join_with(a, r, a.invite(thread_id, Role.READ))
                await wait_until(r, lambda: r.membership.join_state(thread_id) is None)  # synced: its bind written
            # r offline: a adds photos; f fetches every block without reading any.
            folder = tmp_path / "pics"
            folder.mkdir()
            paths = []
            for i in range(4):
                (folder / f"p{i}.jpg").write_bytes(image_bytes("JPEG", size=(640, 480), seed=40 * i + 10))
                paths.append(folder / f"p{i}.jpg")
            a.photos(thread_id).add_files(paths)
            held = {e.cid for _, e in a.blobs(thread_id).inventory(0, 10_000)}
            await wait_until(f, lambda: f.blobs(thread_id).held(list(held)) == held)
            await service_a.stop()
            async with serving(r):
                await wait_until(r, lambda: _has(r, thread_id, "original"))
            assert len(r.photos(thread_id).page()) == 4

    trio.run(main)
