"""`threads-desktop bench album-join`: a new member joins a large album.

A `serve` process holds an album of N photos as an import makes them (eight
photos an event, each with its thumbnail inline; previews and originals are
fetched on demand, so none is here to fetch); this process is a fresh
profile that joins by link, timed from the join to every photo applied
(records and thumbnails). Its floor, measured in the same run: the same
records received locally (verify, decrypt, store, apply) with no network."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

from threads_desktop.bench.sync import WAIT_SECONDS, _receive_floor, _Served
from threads_desktop.bench.waiting import until_or_fail
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.codec.cbor import Link
from threads_desktop.engine.codec.cid import cid_of_cbor
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.db.documents import db_event
from threads_desktop.engine.modules.photos import PHOTOS_PER_EVENT
from threads_desktop.engine.node import Node
from threads_desktop.serving import ServedProfile

TARGET_RATIO = 1.5
THUMBNAIL_BYTES = 6_000  # a 256 px JPEG, as `bench store` uses


def run(photos: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="threads-bench-album-join-") as tmp:
        root = Path(tmp)
        made = time.perf_counter()
        album = _album(root / "source", photos)
        build_s = time.perf_counter() - made
        floor_s = _receive_floor(root / "source", album, root / "floor")
        server = _Served(root / "source")
        try:
            join_s = trio.run(_join, server, root / "member", album, photos)
        finally:
            server.stop()
    return {"photos": photos, "build_s": round(build_s, 1), "seconds": round(join_s, 2),
            "floor_seconds": round(floor_s, 2), "ratio_to_floor": round(join_s / floor_s, 2),
            "photos_per_second": round(photos / join_s), "target_ratio": TARGET_RATIO,
            "how": f"{PHOTOS_PER_EVENT} photos an event, {THUMBNAIL_BYTES} B thumbnails; from the join to every"
                   " photo applied; floor = the same records received locally"}


def summary(result: dict[str, Any]) -> str:
    return (f"join a {result['photos']}-photo album   {result['seconds']:>7} s ({result['photos_per_second']} photos/s)"
            f"   local floor {result['floor_seconds']} s   ratio {result['ratio_to_floor']}"
            f"   (target <= {result['target_ratio']})")


def _album(source: Path, count: int) -> ThreadId:
    node = Node.open(source)
    try:
        album = node.create_thread(ThreadKind.ALBUM, "album").thread_id
        thumbnail = os.urandom(THUMBNAIL_BYTES)
        ref = {"manifest": Link(cid_of_cbor(b"placeholder")), "key": bytes(32), "size": 1, "mime": "image/jpeg"}
        for start in range(0, count, PHOTOS_PER_EVENT):
            node.commit(album, [db_event(*({"op": "create", "c": "photo", "id": f"{i:064x}", "set": {
                "name": f"IMG_{i}.jpg", "thumbnail": thumbnail, "preview": ref, "original": ref,
                "width": 4000, "height": 3000, "taken_at": 1_700_000_000_000 + i * 60_000}}
                for i in range(start, min(count, start + PHOTOS_PER_EVENT))))])
        return album
    finally:
        node.close()


async def _join(server: _Served, member_dir: Path, album: ThreadId, photos: int) -> float:
    member = Node.open(member_dir)
    try:
        link = InviteLink.parse(server.command("invite", str(album), "--role", "write").strip())
        async with trio.open_nursery() as nursery:
            served = ServedProfile(listen=["/ip4/127.0.0.1/tcp/0"], lan_discovery=False, pull_interval=3600.0)
            await nursery.start(served.run, member)
            started = time.perf_counter()
            member.join(link)
            await until_or_fail(member, lambda: _photos(member, album) >= photos, WAIT_SECONDS)
            seconds = time.perf_counter() - started
            nursery.cancel_scope.cancel()
        return seconds
    finally:
        member.close()


def _photos(node: Node, album: ThreadId) -> int:
    """Photos applied (the index's kept count: cheap at each change)."""
    if not node.directory.holds(album):
        return 0  # not joined yet
    return node.get_thread(album).photo_count
