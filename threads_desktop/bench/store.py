"""`threads-desktop bench store`: events through the dispatcher and reducers
against the log's own ingest in the same run; photo import of 12-megapixel
JPEGs on every core against one; the first page of a 10,000-photo album,
and imports into it against imports into an empty one, in turns."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PIL import Image

from threads_desktop.engine.codec.cbor import Link
from threads_desktop.engine.codec.cid import cid_of_cbor
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.db.documents import db_event
from threads_desktop.engine.db.models import bound_id
from threads_desktop.engine.logstore.blobs import BlobStore
from threads_desktop.engine.logstore.envelopes import Envelope
from threads_desktop.engine.modules.photos import Photos
from threads_desktop.engine.node import Node

PAGE = 100
WINDOW = 1_000  # photos per timed import (a snapshot point falls in each)
ROUNDS = 3


def run(events: int, photos: int, album: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="threads-bench-store-") as tmp:
        root = Path(tmp)
        return {
            "events": _events(root, events),
            "photos": _photos(root, photos),
            "album": _album(root, album),
            "cores": os.cpu_count(),
        }


def summary(result: dict[str, Any]) -> str:
    e, p, a = result["events"], result["photos"], result["album"]
    return "\n".join([
        f"events through dispatcher + reducers  {e['dispatcher_events_per_second']:>8} /s"
        f"   log ingest alone {e['log_ingest_events_per_second']:>8} /s   ratio {e['ratio']}",
        f"12 MP JPEG import                     {p['photos_per_second_all_cores']:>8} /s"
        f"   one core {p['photos_per_second_one_core']:>8} /s   speed-up {p['speedup']}",
        f"first page of a {a['photos']}-photo album     {a['first_page_ms']:>8} ms (median of 5);"
        f" the grid's, newest first {a['grid_first_page_ms']} ms, its whole order {a['grid_order_ms']} ms",
        f"built in {a['build_s']} s; photos/s into an empty album {a['photos_per_second_into_empty']},"
        f" into the full one {a['photos_per_second_into_full']} (alternated: ratio {a['full_to_empty_ratio']},"
        f" of CPU {a['full_to_empty_cpu_ratio']}); {a['profile_bytes_per_photo']} bytes of profile per photo",
    ])


def _events(root: Path, count: int) -> dict[str, Any]:
    writer = Node.open(root / "writer")
    log_reader, reader = Node.open(root / "log-reader"), Node.open(root / "reader")
    try:
        thread = writer.create_thread(ThreadKind.CHAT, "bench").thread_id
        own_log = writer.store.own_log(thread)
        assert own_log is not None
        for start in range(0, count, PAGE):
            writer.commit(thread, [db_event({"op": "create", "c": "message", "id": bound_id(own_log, i.to_bytes(8)),
                                             "set": {"text": f"message number {i}, hello there"}})
                                   for i in range(start, min(count, start + PAGE))])
        log_id = writer.store.own_log(thread)
        assert log_id is not None
        envelopes = [r.envelope for r in writer.store.records_after(thread, log_id, 0, limit=count + 10)]
        key = writer.store.thread_keys(thread)[0]
        for node in (log_reader, reader):
            node.store.create_thread(thread, key)

        started = time.perf_counter()
        for page in _pages(envelopes):
            log_reader.store.ingest_many(thread, page)
            for envelope in page:
                log_reader.store.read_event(thread, envelope)
        log_seconds = time.perf_counter() - started

        started = time.perf_counter()
        for page in _pages(envelopes):
            reader.receive(thread, page)
        dispatcher_seconds = time.perf_counter() - started
        assert reader.collections(thread)["message"].count() == count
    finally:
        for node in (writer, log_reader, reader):
            node.close()
    return {
        "events": len(envelopes),
        "dispatcher_events_per_second": round(len(envelopes) / dispatcher_seconds),
        "log_ingest_events_per_second": round(len(envelopes) / log_seconds),
        "ratio": round(dispatcher_seconds / log_seconds, 2),
        "how": "pages of 100 chat messages; log ingest = decode, verify, decrypt, store",
    }


def _pages(envelopes: list[Envelope]) -> list[list[Envelope]]:
    return [envelopes[i:i + PAGE] for i in range(0, len(envelopes), PAGE)]


def _photos(root: Path, count: int) -> dict[str, Any]:
    folder = root / "camera"
    folder.mkdir()
    # Texture at camera-like detail: noise drawn small and scaled up compresses
    # to a few MB at 12 MP, as real photos do (full-resolution noise would not).
    base = Image.merge("RGB", [Image.effect_noise((1000, 750), sigma).resize((4000, 3000), Image.Resampling.BICUBIC)
                               for sigma in (40, 60, 80)])
    paths = []
    for i in range(count):
        base.paste((i * 37 % 256, i * 91 % 256, i * 13 % 256), (0, 0, 64, 64))  # distinct pictures
        path = folder / f"IMG_{i:04}.jpg"
        base.save(path, "JPEG", quality=92)
        paths.append(path)
    megabytes = sum(p.stat().st_size for p in paths) / 2**20
    rates = {}
    for workers in (1, os.cpu_count() or 2):
        node = Node.open(root / f"photographer-{workers}")
        try:
            album = node.create_thread(ThreadKind.ALBUM, "bench").thread_id
            with ThreadPoolExecutor(max_workers=workers) as pool:
                photos = Photos(node.collections(album), node.store.own_log(album),  # type: ignore[arg-type]
                                BlobStore(node.database.connection, os.urandom), node.database, pool)
                started = time.perf_counter()
                result = photos.add_files(paths)
                rates[workers] = count / (time.perf_counter() - started)
            assert len(result.added) == count, result
        finally:
            node.close()
    one, many = rates[1], rates[max(rates)]
    return {
        "photos": count, "megabytes": round(megabytes, 1),
        "photos_per_second_all_cores": round(many, 2),
        "photos_per_second_one_core": round(one, 2),
        "speedup": round(many / one, 2),
        "how": "4000x3000 JPEGs: decode, orient, thumbnail, preview, encrypt blobs, log, apply",
    }


def _bytes_by_table(node: Node) -> dict[str, int]:
    """The pages each table and index takes (SQLite's dbstat), largest first:
    where a photo's bytes are."""
    rows = node.database.connection.execute(
        "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall()
    return {str(name): int(size) for name, size in rows}


def _album(root: Path, count: int) -> dict[str, Any]:
    node = Node.open(root / "album")
    try:
        album = node.create_thread(ThreadKind.ALBUM, "big").thread_id
        thumbnail = os.urandom(6_000)  # the size of a real 256 px JPEG
        page_seconds = []  # each page of PAGE photos, snapshots every SNAPSHOT_EVERY events included
        building = time.perf_counter()
        for start in range(0, count, PAGE):
            started = time.perf_counter()
            _add_photos(node, album, start, min(count, start + PAGE), thumbnail)
            page_seconds.append(time.perf_counter() - started)
        build_s = time.perf_counter() - building
        started = time.perf_counter()
        node.events.snapshot(album)  # what the last photos changed, saved on demand
        snapshot_ms = (time.perf_counter() - started) * 1000
        used = _bytes_by_table(node)
        photos = node.photos(album)
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            page = photos.page(limit=PAGE)
            timings.append(time.perf_counter() - started)
            assert len(page) == min(PAGE, count)
        grid_page, grid_order = [], []  # what the album's grid reads first (one screen), and after it (every ID)
        for _ in range(5):
            started = time.perf_counter()
            cards = photos.cards(photos.ordered_ids(newest_first=True, limit=PAGE))
            grid_page.append(time.perf_counter() - started)
            started = time.perf_counter()
            ids = photos.ordered_ids(newest_first=True)
            grid_order.append(time.perf_counter() - started)
            assert len(cards) == min(PAGE, count) and len(ids) == count
        rounds = _into_empty_and_full(root, node, album, count, thumbnail)
    finally:
        node.close()
    # The build's first and last 1,000 photos, minutes apart: on a shared
    # machine these differ by its load as much as by the album's size.
    window = max(1, min(len(page_seconds) // 2, WINDOW // PAGE))
    first, last = sum(page_seconds[:window]), sum(page_seconds[-window:])
    empty = statistics.median(r["photos_per_second_into_empty"] for r in rounds)
    full = statistics.median(r["photos_per_second_into_full"] for r in rounds)
    return {"photos": count, "first_page_ms": round(statistics.median(timings) * 1000, 2),
            "grid_first_page_ms": round(statistics.median(grid_page) * 1000, 2),
            "grid_order_ms": round(statistics.median(grid_order) * 1000, 1),
            "build_s": round(build_s, 2),
            "photos_per_second_into_empty": round(empty, 1),
            "photos_per_second_into_full": round(full, 1),
            "full_to_empty_ratio": round(statistics.median(r["full_to_empty"] for r in rounds), 2),
            "full_to_empty_cpu_ratio": round(statistics.median(r["full_to_empty_cpu"] for r in rounds), 2),
            "rounds": rounds,
            "during_build": {"photos_per_second_first": round(window * PAGE / first, 1),
                             "photos_per_second_last": round(window * PAGE / last, 1),
                             "last_to_first_ratio": round(first / last, 2)},
            "snapshot_on_demand_ms": round(snapshot_ms, 1),
            "profile_bytes_per_photo": round(sum(used.values()) / count),
            "bytes_per_photo_by_table": {name: round(size / count) for name, size in used.items() if size >= count},
            "how": "Photos.page(limit=100) ordered by taken time, thumbnails included; build = one event per"
                   f" photo committed 100 at a time, 6 KB thumbnails; rates: {WINDOW} photos into the full album"
                   f" and into an empty one in a new profile, alternated, {ROUNDS} rounds (median; ratio ="
                   " median of each round's)"}


def _add_photos(node: Node, album: ThreadId, first: int, end: int, thumbnail: bytes) -> None:
    ref = {"manifest": Link(cid_of_cbor(b"placeholder")), "key": bytes(32), "size": 1, "mime": "image/jpeg"}
    node.commit(album, [db_event({"op": "create", "c": "photo", "id": f"{i:064x}", "set": {
        "name": f"IMG_{i}.jpg", "thumbnail": thumbnail, "preview": ref, "original": ref,
        "width": 4000, "height": 3000, "taken_at": 1_700_000_000_000 + i * 60_000}})
        for i in range(first, end)])


def _into_empty_and_full(root: Path, node: Node, album: ThreadId, count: int,
                         thumbnail: bytes) -> list[dict[str, Any]]:
    """WINDOW photos into the full album and WINDOW into an empty one (a new
    profile each round), back to back and in turns (full first in odd
    rounds), so that both see the machine as it is at that moment."""
    window = max(PAGE, min(WINDOW, count) // PAGE * PAGE)
    rounds = []
    added = count
    for round_ in range(ROUNDS):
        seconds: dict[str, tuple[float, float]] = {}
        empty_node = Node.open(root / f"empty-{round_}")
        try:
            empty_album = empty_node.create_thread(ThreadKind.ALBUM, "empty").thread_id
            order = ("full", "empty") if round_ % 2 else ("empty", "full")
            for which in order:
                into, thread, first = (node, album, added) if which == "full" else (empty_node, empty_album, 0)
                wall, cpu = time.perf_counter(), time.process_time()
                for start in range(first, first + window, PAGE):
                    _add_photos(into, thread, start, start + PAGE, thumbnail)
                seconds[which] = (time.perf_counter() - wall, time.process_time() - cpu)
            added += window
        finally:
            empty_node.close()
        rounds.append({"first": order[0],
                       "photos_per_second_into_empty": round(window / seconds["empty"][0], 1),
                       "photos_per_second_into_full": round(window / seconds["full"][0], 1),
                       "full_to_empty": round(seconds["empty"][0] / seconds["full"][0], 3),
                       "full_to_empty_cpu": round(seconds["empty"][1] / seconds["full"][1], 3)})
    return rounds
