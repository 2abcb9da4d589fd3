"""An album opens at the cost of its first screen, not of its size: the grid
gets the album's count at once and its first page of photos by position,
and only then reads the whole order (every ID: 45 ms at 100,000 photos),
which fills the other rows in without moving the view. Rows scrolled to
before the order arrives fetch their own page by position."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import qasync

from tests.ui.counting_runtime import RecordingRuntime
from tests.ui.test_peer_data_in_views import _picture
from tests.ui.waiting import wait_for
from threads_desktop.engine.codec.cbor import Link
from threads_desktop.engine.codec.cid import cid_of_cbor
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.db.documents import db_event
from threads_desktop.engine.modules.photos import PhotoCard
from threads_desktop.engine.node import Node
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.models import photo_grid_model
from threads_desktop.ui.models.photo_grid_model import BATCH, PhotoGridModel, PhotoRole
from threads_desktop.ui.operations import photos as photo_ops
from threads_desktop.ui.settings import AppSettings
from threads_desktop.ui.views.main_window import MainWindow

PHOTOS = 2 * BATCH + 10  # three pages


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[RecordingRuntime]:
    runtime = RecordingRuntime(lambda: Node.open(tmp_path / "profile"))
    runtime.start()
    yield runtime
    runtime.stop()


def _album(node: Node) -> ThreadId:
    album = node.create_thread(ThreadKind.ALBUM, "Trip").thread_id
    thumbnail = _picture("JPEG", (32, 24))
    ref = {"manifest": Link(cid_of_cbor(b"placeholder")), "key": bytes(32), "size": 1, "mime": "image/jpeg"}
    for first in range(0, PHOTOS, 100):
        node.commit(album, [db_event({"op": "create", "c": "photo", "id": f"{i:064x}", "set": {
            "name": f"IMG_{i}.jpg", "thumbnail": thumbnail, "preview": ref, "original": ref,
            "width": 32, "height": 24, "taken_at": 1_700_000_000_000 + i * 60_000}})
            for i in range(first, min(PHOTOS, first + 100))])
    return album


def test_an_album_shows_its_first_screen_before_reading_its_whole_order(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, engine: RecordingRuntime, tmp_path: Path) -> None:
    album_id = wait_for(qtbot, engine.call(_album))
    every = wait_for(qtbot, engine.call(lambda node: node.photos(album_id).ordered_ids(newest_first=True)))
    window = MainWindow(EngineClient(engine, qt_loop), AppSettings.from_file(tmp_path / "settings.ini"))
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.threads_loaded, timeout=10_000):
        window.show()
    model = window.album_view.model
    at_first_screen: list[tuple[list[Callable[..., Any]], int, str]] = []
    resets: list[int] = []

    def first_screen() -> None:
        if not at_first_screen:
            at_first_screen.append((list(engine.operations), model.rowCount(), model.index(0).data(PhotoRole.NAME)))
            model.modelReset.connect(lambda: resets.append(1))

    model.cards_loaded.connect(first_screen)
    engine.operations.clear()
    with qtbot.waitSignal(window.album_view.photos_loaded, timeout=20_000):
        window.select_thread(str(album_id))
    (asked, rows, name), = at_first_screen
    assert photo_ops.page in asked and photo_ops.ordered_ids not in asked  # the album's size was not read yet
    assert rows == PHOTOS and name == f"IMG_{PHOTOS - 1}.jpg"  # every row there, the newest photo first
    assert model.complete() and model.ids() == every and resets == []  # filled in, the view not reset
    window.close()


def test_rows_scrolled_to_before_the_order_arrives_fetch_their_page_by_position(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, engine: RecordingRuntime) -> None:
    album_id = wait_for(qtbot, engine.call(_album))
    every = wait_for(qtbot, engine.call(lambda node: node.photos(album_id).ordered_ids(newest_first=False)))
    client = EngineClient(engine, qt_loop)

    async def fetch_page(offset: int, limit: int) -> tuple[list[str], list[PhotoCard]]:
        page = await client.run(photo_ops.page, album_id, False, offset, limit)
        return page.ids, page.cards

    async def fetch_cards(ids: list[str]) -> list[PhotoCard]:
        return await client.run(photo_ops.cards, album_id, ids)

    with ThreadPoolExecutor(1) as decoder:
        model = PhotoGridModel(fetch_cards, decoder, fetch_page=fetch_page)
        model.show_count(PHOTOS)
        deep = PHOTOS - 3
        assert model.index(deep).data(PhotoRole.PHOTO_ID) is None  # not known yet: its page is asked for
        qtbot.waitUntil(lambda: model.index(deep).data(PhotoRole.NAME) is not None, timeout=20_000)
        ids = model.ids()
        last_page = range(2 * BATCH, PHOTOS)
        assert [ids[row] for row in last_page] == every[2 * BATCH:]  # the rows of that page, by position
        assert set(ids[:2 * BATCH]) == {""} and not model.complete()  # nothing else was read
        model.set_ids(every)
        assert model.complete() and model.ids() == every
        model.cancel()


def test_an_album_scrolled_end_to_end_keeps_only_the_cells_of_its_cache(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, engine: RecordingRuntime, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(photo_grid_model, "CACHE_BYTES", 40 * 160 * 160 * 4)  # 40 cells of 160 px
    album_id = wait_for(qtbot, engine.call(_album))
    every = wait_for(qtbot, engine.call(lambda node: node.photos(album_id).ordered_ids(newest_first=True)))
    client = EngineClient(engine, qt_loop)

    async def fetch_cards(ids: list[str]) -> list[PhotoCard]:
        return await client.run(photo_ops.cards, album_id, ids)

    with ThreadPoolExecutor(1) as decoder:
        model = PhotoGridModel(fetch_cards, decoder)
        model.set_ids(every)
        for first in range(0, PHOTOS, 20):  # a screen of 20 cells at a time, as scrolling paints them
            rows = range(first, min(PHOTOS, first + 20))
            for row in rows:
                model.index(row).data(PhotoRole.NAME)
            qtbot.waitUntil(lambda rows=rows: all(model.index(r).data(PhotoRole.NAME) is not None for r in rows),
                            timeout=20_000)
        # The names and captions of cells scrolled past went with their pictures (34 MB at 100,000 photos).
        assert len(model._cards) <= 40 and model.index(PHOTOS - 1).data(PhotoRole.NAME) == "IMG_0.jpg"
        model.cancel()


def test_the_pictures_kept_while_scrolling_stay_within_their_bytes_at_any_pixel_ratio(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, engine: RecordingRuntime) -> None:
    """At twice the pixel ratio a cell's picture weighs four times as much:
    1,000 kept pictures were 400 MiB there (100 MiB at 1x, where scrolling
    100,000 photos ended at 401 MB resident)."""
    album_id = wait_for(qtbot, engine.call(_album))
    every = wait_for(qtbot, engine.call(lambda node: node.photos(album_id).ordered_ids(newest_first=True)))
    client = EngineClient(engine, qt_loop)

    async def fetch_cards(ids: list[str]) -> list[PhotoCard]:
        return await client.run(photo_ops.cards, album_id, ids)

    edge = 2 * 256  # a cell of 256 px on a 2x screen
    with ThreadPoolExecutor(1) as decoder:
        model = PhotoGridModel(fetch_cards, decoder, edge=edge)
        model.set_ids(every)
        for first in range(0, PHOTOS, 20):
            rows = range(first, min(PHOTOS, first + 20))
            for row in rows:
                model.index(row).data(PhotoRole.THUMBNAIL)
            qtbot.waitUntil(lambda rows=rows: all(model.index(r).data(PhotoRole.THUMBNAIL) is not None
                                                  for r in rows), timeout=20_000)
        held = sum(image.sizeInBytes() for image in model._images.values())
        assert held <= 64 * 2**20, f"{held / 2**20:.0f} MiB of pictures kept"
        assert model.index(PHOTOS - 1).data(PhotoRole.THUMBNAIL).width() == edge  # the last screen is kept
        model.cancel()


def _add_one_by_one(node: Node, album: ThreadId, count: int) -> None:
    """`count` photos, one change set each (as a peer's photos arrive)."""
    thumbnail = _picture("JPEG", (32, 24))
    ref = {"manifest": Link(cid_of_cbor(b"placeholder")), "key": bytes(32), "size": 1, "mime": "image/jpeg"}
    for i in range(PHOTOS, PHOTOS + count):
        node.commit(album, [db_event({"op": "create", "c": "photo", "id": f"{i:064x}", "set": {
            "name": f"IMG_{i}.jpg", "thumbnail": thumbnail, "preview": ref, "original": ref,
            "width": 32, "height": 24, "taken_at": 1_700_000_000_000 + i * 60_000}})])


def test_photos_arriving_one_by_one_read_the_albums_order_once_more_not_once_each(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, engine: RecordingRuntime, tmp_path: Path) -> None:
    album_id = wait_for(qtbot, engine.call(_album))
    window = MainWindow(EngineClient(engine, qt_loop), AppSettings.from_file(tmp_path / "settings.ini"))
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.threads_loaded, timeout=10_000):
        window.show()
    with qtbot.waitSignal(window.album_view.photos_loaded, timeout=20_000):
        window.select_thread(str(album_id))
    engine.operations.clear()
    wait_for(qtbot, engine.call(_add_one_by_one, album_id, 20))
    model = window.album_view.model
    every = wait_for(qtbot, engine.call(lambda node: node.photos(album_id).ordered_ids(newest_first=True)))
    qtbot.waitUntil(lambda: model.ids() == every, timeout=20_000)
    wait_for(qtbot, engine.call(Node.identity_card))  # every call the views started before this one is recorded
    # Each read takes 100-200 ms at 100,000 photos: one per arriving photo would never catch up.
    assert engine.operations.count(photo_ops.ordered_ids) <= 3, engine.operations.count(photo_ops.ordered_ids)
    window.close()
