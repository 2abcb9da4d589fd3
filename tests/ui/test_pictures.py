"""Phone photos (EXIF orientation 1, 3, 6, 8) show upright everywhere the
UI shows a picture: the decode path itself, the viewer (preview and
original, fitted and at 1:1) and a chat bubble, through a real engine."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import qasync
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps

from tests.ui.hostile_exif import (
    jpeg_with_exif,
    jpegs_with_any_exif_block,
    orientation_entry,
    tiff_block,
    turned_jpegs_with_any_second_tag,
    turned_with_a_badly_typed_tag,
)
from tests.ui.portraits import ORIENTATIONS, portrait_files, portrait_jpeg, upright_problem
from tests.ui.waiting import wait_for
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.pictures import MAX_SHOWN_EDGE, SquareThumbnails, fitted_thumbnail, shown_picture, to_qimage
from threads_desktop.ui.views.photo_viewer import PhotoViewer


def _call(qtbot, runtime: EngineRuntime, fn: Callable[..., Any], *args: Any) -> Any:  # type: ignore[no-untyped-def]
    return wait_for(qtbot, runtime.call(fn, *args), timeout=15_000)


@pytest.fixture
def decoder() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="decode")
    yield pool
    pool.shutdown(wait=True)


@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_the_decode_path_turns_a_phone_photo_upright(qapp, orientation: int) -> None:  # type: ignore[no-untyped-def]
    data = portrait_jpeg(orientation)
    assert upright_problem(shown_picture(data)) is None
    assert upright_problem(fitted_thumbnail(data, 120)) is None


def test_the_decode_path_refuses_what_is_not_a_picture_and_shrinks_a_huge_one(qapp) -> None:  # type: ignore[no-untyped-def]
    assert shown_picture(b"GIF89a not really").isNull()
    assert shown_picture(portrait_jpeg(6)[:200]).isNull()  # truncated before any pixels
    small = shown_picture(portrait_jpeg(6), edge=90)
    assert (small.width(), small.height()) == (60, 90) and upright_problem(small) is None


def test_a_peers_progressive_jpeg_is_held_to_the_lower_progressive_limit(  # type: ignore[no-untyped-def]
        qapp, monkeypatch: pytest.MonkeyPatch) -> None:
    # A progressive JPEG is decoded whole (draft() cannot shrink it): the
    # import's lower limit applies to what a peer sends too. Scaled down here.
    monkeypatch.setattr("threads_desktop.ui.pictures.MAX_PROGRESSIVE_JPEG_PIXELS", 100_000)
    picture = Image.new("RGB", (600, 400), (200, 40, 40))
    progressive, baseline = io.BytesIO(), io.BytesIO()
    picture.save(progressive, "JPEG", progressive=True)
    picture.save(baseline, "JPEG")
    assert shown_picture(progressive.getvalue()).isNull()
    assert not shown_picture(baseline.getvalue()).isNull()


def _album_of_portraits(qtbot, runtime: EngineRuntime, folder: Path) -> tuple[ThreadId, dict[str, int]]:  # type: ignore[no-untyped-def]
    paths = portrait_files(folder)

    def add(node: Node) -> tuple[ThreadId, dict[str, int]]:
        album = node.create_thread(ThreadKind.ALBUM, "Phone").thread_id
        photos = node.photos(album)
        photos.add_files(list(paths.values()))
        names = {doc.id: doc.data["name"] for doc in photos.page()}
        return album, {photo_id: int(name.split("-")[1][0]) for photo_id, name in names.items()}

    result: tuple[ThreadId, dict[str, int]] = _call(qtbot, runtime, add)
    return result


def test_the_viewer_shows_each_orientation_upright_in_preview_original_and_zoom(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, decoder: ThreadPoolExecutor,
        tmp_path: Path) -> None:
    album, orientation_of = _album_of_portraits(qtbot, runtime, tmp_path / "phone")
    viewer = PhotoViewer(EngineClient(runtime, qt_loop), decoder)
    qtbot.addWidget(viewer)
    viewer.resize(900, 700)
    viewer.show()
    ids = list(orientation_of)
    previews: list[str] = []
    viewer.shown.connect(lambda photo_id: previews.append(
        f"{orientation_of[photo_id]}: {upright_problem(viewer.picture.pixmap().toImage())}"))
    for row, photo_id in enumerate(ids):
        with qtbot.waitSignal(viewer.original_shown, timeout=15_000):
            viewer.show_photos(album, ids, row)
        fitted = viewer.picture.pixmap().toImage()
        assert upright_problem(fitted) is None, f"orientation {orientation_of[photo_id]}, fitted"
        viewer.toggle_zoom()
        actual = viewer.picture.pixmap().toImage()
        assert (actual.width(), actual.height()) == (300, 450), f"orientation {orientation_of[photo_id]}"
        assert upright_problem(actual) is None, f"orientation {orientation_of[photo_id]}, 1:1"
    assert sorted(previews) == [f"{o}: None" for o in ORIENTATIONS]  # the preview, before each original


def test_a_chat_bubble_shows_each_orientation_upright(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, tmp_path: Path) -> None:
    from tests.ui.test_chat_view import _view

    paths = portrait_files(tmp_path / "phone")
    client = EngineClient(runtime, qt_loop)
    summary = _call(qtbot, runtime, Node.create_thread, ThreadKind.CHAT, "Alice & Bob")
    for orientation in ORIENTATIONS:
        _call(qtbot, runtime, lambda node, o=orientation: node.chat(summary.thread_id).post_photos(
            node.photos(summary.thread_id), [paths[o]], f"orientation {o}"))
    view = _view(qtbot, client, summary)
    qtbot.waitUntil(lambda: all(row["thumbnails"] != [None] for row in view.message_rows()), timeout=15_000)
    for row in view.message_rows():
        [thumbnail] = row["thumbnails"]
        assert upright_problem(thumbnail) is None, row["text"]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048))
def test_any_bytes_from_a_peer_decode_to_a_picture_or_to_nothing_never_an_error(data: bytes) -> None:
    for image in (shown_picture(data), fitted_thumbnail(data, 64)):
        assert image.isNull() or max(image.width(), image.height()) <= MAX_SHOWN_EDGE


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=512),
                 st.builds(lambda big_endian, value: tiff_block([orientation_entry(value, big_endian=big_endian)],
                                                                 big_endian=big_endian),
                           st.booleans(), st.integers(0, 0xFFFF))))
def test_a_photo_with_any_exif_block_still_shows(payload: bytes) -> None:
    data = jpeg_with_exif(payload)
    image = shown_picture(data)
    assert not image.isNull() and {image.width(), image.height()} == {24, 16}
    assert not fitted_thumbnail(data, 64).isNull()


def test_a_turned_photo_with_a_badly_typed_tag_shows_turned_in_the_grid_the_chat_and_the_viewer() -> None:
    data = turned_with_a_badly_typed_tag()  # 24 x 16, orientation 6: shown 16 x 24
    shown = shown_picture(data)
    assert (shown.width(), shown.height()) == (16, 24)
    fitted = fitted_thumbnail(data, 64)
    assert (fitted.width(), fitted.height()) == (16, 24)
    [square] = SquareThumbnails(32, 0.04)([data])
    assert (square.width(), square.height()) == (32, 32)


def _a_picture_or_nothing(data: bytes) -> None:
    """What every view does with a peer's picture: never an error; when a
    picture, the 24 x 16 one (turned or not), or the grid's square."""
    for image in (shown_picture(data), fitted_thumbnail(data, 64)):
        assert image.isNull() or {image.width(), image.height()} == {24, 16}
    for square in SquareThumbnails(32, 0.04)([data, data]):
        assert square.isNull() or (square.width(), square.height()) == (32, 32)


@settings(max_examples=300, deadline=None)
@given(turned_jpegs_with_any_second_tag())
def test_a_turned_photo_beside_any_other_exif_tag_decodes_to_a_picture_or_nothing(data: bytes) -> None:
    _a_picture_or_nothing(data)


@settings(max_examples=200, deadline=None)
@given(jpegs_with_any_exif_block())
def test_a_photo_with_random_exif_bytes_decodes_to_a_picture_or_nothing(data: bytes) -> None:
    _a_picture_or_nothing(data)



@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_is_turned_as_pillows_own_exif_transpose_turns_it(qapp, orientation: int) -> None:  # type: ignore[no-untyped-def]
    # A lossless picture with no two quarters alike, so any wrong turn or flip shows.
    picture = Image.new("RGB", (6, 4), (0, 0, 0))
    picture.putpixel((0, 0), (255, 0, 0))
    picture.putpixel((5, 0), (0, 255, 0))
    picture.putpixel((0, 3), (0, 0, 255))
    out = io.BytesIO()
    picture.save(out, "PNG", exif=tiff_block([orientation_entry(orientation)]))
    with Image.open(io.BytesIO(out.getvalue())) as expected:
        assert shown_picture(out.getvalue()) == to_qimage(ImageOps.exif_transpose(expected).convert("RGB"))


def test_a_chat_message_with_one_hostile_thumbnail_shows_every_thumbnail_and_no_error(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, tmp_path: Path) -> None:
    from tests.ui.test_chat_view import _view

    paths = portrait_files(tmp_path / "phone")
    summary = _call(qtbot, runtime, Node.create_thread, ThreadKind.CHAT, "Alice & Bob")

    def post_then_spoil(node: Node) -> None:
        chat, photos = node.chat(summary.thread_id), node.photos(summary.thread_id)
        message_id = chat.post_photos(photos, [paths[o] for o in ORIENTATIONS], "from my phone")
        hostile = chat.messages.get(message_id).data["photos"][1]
        # What a modified client could write: the engine checks only that it is bytes of a bounded size.
        node.collections(summary.thread_id)["photo"].update(hostile, {"thumbnail": turned_with_a_badly_typed_tag()})

    _call(qtbot, runtime, post_then_spoil)
    view = _view(qtbot, EngineClient(runtime, qt_loop), summary)
    qtbot.waitUntil(lambda: None not in view.message_rows()[0]["thumbnails"], timeout=15_000)
    assert all(not image.isNull() for image in view.message_rows()[0]["thumbnails"])
    assert not view.error.isVisible()
