"""What a peer puts in an event reaches the views: nonsense there must show
as nothing (or a placeholder), never crash the app or freeze it. PySide
aborts the process when data() or paint() raises."""

from __future__ import annotations

import asyncio
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import qasync
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QListView

from tests.ui.album import photo_files
from tests.ui.hostile_exif import turned_with_a_badly_typed_tag
from threads_desktop.engine.core.hlc import MAX_HLC, unpack
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.modules.photos import PhotoCard
from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.models.message_list_model import MessageListModel, MessageRole
from threads_desktop.ui.models.photo_grid_model import PhotoGridModel, PhotoRole
from threads_desktop.ui.operations.chat import ChatPage, MessageItem
from threads_desktop.ui.operations.photos import _location
from threads_desktop.ui.pictures import MAX_THUMBNAIL_EDGE, SquareThumbnails, fitted_thumbnail, open_thumbnail
from threads_desktop.ui.views.photo_viewer import _camera_time
from threads_desktop.ui.widgets.message_delegate import MessageDelegate


def _picture(fmt: str, size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("1" if fmt == "PNG" else "RGB", size).save(out, fmt)
    return out.getvalue()


def test_a_message_stamped_in_the_year_500000_shows_without_a_time(qtbot) -> None:  # type: ignore[no-untyped-def]
    far = unpack(MAX_HLC)[0]
    model = MessageListModel()
    model.set_page(ChatPage((MessageItem("m1", "author", "hello", b"\x01", far, False, False),), 1, None, b"", 0,
                            {}, {}))
    assert model.index(0).data(Qt.ItemDataRole.ToolTipRole) is None
    assert model.index(0).data(MessageRole.TEXT) == "hello"
    view = QListView()
    view.setItemDelegate(MessageDelegate(view))
    view.setModel(model)
    qtbot.addWidget(view)
    view.resize(400, 300)
    assert not view.grab().isNull()  # painted: the delegate asked for the time too


def test_thumbnails_that_claim_a_huge_size_or_another_format_are_refused_before_decoding() -> None:
    assert open_thumbnail(_picture("PNG", (12000, 12000)), 160) is None  # a 1-bit PNG bomb: not a JPEG
    assert open_thumbnail(_picture("JPEG", (MAX_THUMBNAIL_EDGE + 1, 8)), 160) is None
    assert open_thumbnail(b"\xff\xd8 not really", 160) is None
    assert SquareThumbnails(160, 0.04).decode(_picture("PNG", (12000, 12000))).isNull()
    fitted = fitted_thumbnail(_picture("JPEG", (256, 128)), 120)
    assert (fitted.width(), fitted.height()) == (120, 60)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048))
def test_any_bytes_as_a_thumbnail_give_an_image_or_nothing(data: bytes) -> None:
    square = SquareThumbnails(32, 0.04).decode(data)
    assert square.isNull() or (square.width(), square.height()) == (32, 32)
    fitted = fitted_thumbnail(data, 32)
    assert fitted.isNull() or max(fitted.width(), fitted.height()) <= 32


@given(st.one_of(st.none(), st.integers(), st.text(), st.lists(st.integers()),
                 st.dictionaries(st.sampled_from(["lat", "lon", "x"]),
                                 st.one_of(st.floats(), st.integers(), st.text(), st.booleans(), st.none()))))
def test_a_peers_gps_and_time_fields_are_shown_only_when_they_make_sense(value: object) -> None:
    location = _location(value)
    assert location is None or set(location) == {"lat", "lon"}
    _camera_time(value)  # type: ignore[arg-type]  # never raises


def test_cells_fetched_for_the_album_shown_before_never_land_in_the_next(qtbot, qt_loop: qasync.QEventLoop) -> None:  # type: ignore[no-untyped-def]
    release = asyncio.Event()
    jpeg = _picture("JPEG", (64, 64))

    async def fetch(ids: list[str]) -> list[PhotoCard]:
        await release.wait()
        return [PhotoCard(i, f"from the old album {i}", jpeg, None, None, 64, 64) for i in ids]

    with ThreadPoolExecutor(1) as decoder:
        model = PhotoGridModel(fetch, decoder)
        model.set_ids(["same-photo"])
        assert model.index(0).data(PhotoRole.NAME) is None  # asks for it
        qtbot.waitUntil(lambda: "same-photo" in model._in_flight, timeout=5_000)
        model.set_ids([])  # another album is opened: the same photo (same hash) is in it
        model.set_ids(["same-photo"])
        release.set()
        qtbot.waitUntil(lambda: not model._in_flight, timeout=5_000)
        assert model.index(0).data(PhotoRole.NAME) is None  # the old album's card was dropped
        with qtbot.waitSignal(model.cards_loaded, timeout=5_000):  # and it is asked for afresh
            pass
        assert model.index(0).data(PhotoRole.NAME) == "from the old album same-photo"  # (same fetch here)


def _album_with_a_hostile_thumbnail(node: Node, folder: Path) -> tuple[ThreadId, list[str], str]:
    """Five photos, one of whose thumbnails was rewritten as a modified
    client could (the engine checks only that it is bytes of a bounded size)."""
    album = node.create_thread(ThreadKind.ALBUM, "Trip").thread_id
    node.photos(album).add_files(photo_files(folder, 5))
    ids = node.photos(album).ordered_ids()
    hostile = ids[2]
    node.collections(album)["photo"].update(hostile, {"thumbnail": turned_with_a_badly_typed_tag()})
    return album, ids, hostile


def test_one_hostile_thumbnail_in_a_batch_leaves_the_other_cells_filled(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, tmp_path: Path) -> None:
    made = asyncio.ensure_future(runtime.call(_album_with_a_hostile_thumbnail, tmp_path / "photos"))
    qtbot.waitUntil(made.done, timeout=15_000)
    album, ids, hostile = made.result()
    client = EngineClient(runtime, qt_loop)

    async def fetch(batch: list[str]) -> list[PhotoCard]:
        return await client.run(lambda node: node.photos(album).cards(batch))

    with ThreadPoolExecutor(1) as decoder:
        model = PhotoGridModel(fetch, decoder, edge=48)
        model.set_ids(ids)
        with qtbot.waitSignal(model.cards_loaded, timeout=15_000):
            for row in range(len(ids)):
                model.index(row).data(PhotoRole.NAME)  # the view asks for every cell
        thumbnails = {photo_id: model.index(row).data(PhotoRole.THUMBNAIL) for row, photo_id in enumerate(ids)}
        model.cancel()
    good = {photo_id: image for photo_id, image in thumbnails.items() if photo_id != hostile}
    assert all(image is not None and (image.width(), image.height()) == (48, 48) for image in good.values())
    assert isinstance(thumbnails[hostile], QImage)  # loaded: a picture or the placeholder, not asked for forever
    assert sorted(model.index(row).data(PhotoRole.NAME) for row in range(len(ids))) == [
        f"IMG_{n:04d}.jpg" for n in range(len(ids))]
