"""A photo in a chat opens large (double-click on it, or Enter on its
message), upright, and "Save As…" writes its original under a safe name."""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import qasync
from hypothesis import given
from hypothesis import strategies as st
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from tests.ui.counting_runtime import RecordingRuntime
from tests.ui.portraits import portrait_files, upright_problem
from tests.ui.test_chat_view import _view
from tests.ui.waiting import wait_for
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import FetchOriginals, ThreadKind
from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.dialogs.photo_dialog import PhotoDialog, safe_file_name
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.operations import chat as chat_ops
from threads_desktop.ui.operations import photos as photo_ops
from threads_desktop.ui.views.chat_view import ChatView
from threads_desktop.ui.widgets.message_delegate import layout_message


def _call(qtbot, runtime: EngineRuntime, fn: Callable[..., Any], *args: Any) -> Any:  # type: ignore[no-untyped-def]
    return wait_for(qtbot, runtime.call(fn, *args), timeout=15_000)


def _chat_with_photos(qtbot, runtime: EngineRuntime, qt_loop: qasync.QEventLoop, tmp_path: Path,  # type: ignore[no-untyped-def]
                      orientations: list[int]) -> tuple[ChatView, list[str]]:
    paths = portrait_files(tmp_path / "phone")
    summary = _call(qtbot, runtime, Node.create_thread, ThreadKind.CHAT, "Alice & Bob")

    def post(node: Node) -> list[str]:
        chat, photos = node.chat(summary.thread_id), node.photos(summary.thread_id)
        message_id = chat.post_photos(photos, [paths[o] for o in orientations], "from my phone")
        return list(chat.messages.get(message_id).data["photos"])

    photo_ids = _call(qtbot, runtime, post)
    view = _view(qtbot, EngineClient(runtime, qt_loop), summary)
    view.resize(700, 600)
    qtbot.waitUntil(lambda: None not in view.message_rows()[0]["thumbnails"], timeout=15_000)
    return view, photo_ids


def _thumbnail_centre(view: ChatView, row: int, photo: int) -> QPoint:
    index = view.model.index(row)
    cell = view.list.visualRect(index)
    rect = layout_message(index, view.list.font(), cell.width(), "edited").photos[photo]
    return rect.translated(cell.topLeft()).center()


def _double_click(widget: QWidget, point: QPoint) -> None:
    """Press, release, double-click, release, as the window system delivers
    them (QTest's double click reaches an offscreen view as presses only)."""
    position = QPointF(point)
    global_position = QPointF(widget.mapToGlobal(point))
    for kind in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease,
                 QEvent.Type.MouseButtonDblClick, QEvent.Type.MouseButtonRelease):
        pressed = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseButtonRelease else Qt.MouseButton.LeftButton
        QApplication.sendEvent(widget, QMouseEvent(kind, position, global_position, Qt.MouseButton.LeftButton,
                                                   pressed, Qt.KeyboardModifier.NoModifier))


def test_double_clicking_a_photo_opens_that_photo_upright(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, tmp_path: Path) -> None:
    view, photo_ids = _chat_with_photos(qtbot, runtime, qt_loop, tmp_path, [6, 8])
    _double_click(view.list.viewport(), _thumbnail_centre(view, 0, 1))
    dialog = view.photo_dialog
    assert dialog is not None and dialog.isVisible() and dialog.current_photo() == photo_ids[1]
    qtbot.waitUntil(lambda: not dialog.displayed_pixmap().isNull(), timeout=15_000)
    assert upright_problem(dialog.displayed_pixmap().toImage()) is None
    assert (dialog.displayed_pixmap().width(), dialog.displayed_pixmap().height()) == (300, 450)  # the original
    assert upright_problem(dialog.picture.pixmap().toImage()) is None  # as fitted on screen
    assert "2 of 2" in dialog.caption.text()
    with qtbot.waitSignal(dialog.shown, timeout=15_000) as shown:
        qtbot.keyClick(dialog, Qt.Key.Key_Left)
    assert shown.args == [photo_ids[0]] and upright_problem(dialog.displayed_pixmap().toImage()) is None


def test_enter_on_a_message_opens_its_first_photo(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, tmp_path: Path) -> None:
    view, photo_ids = _chat_with_photos(qtbot, runtime, qt_loop, tmp_path, [3])
    view.list.setFocus()
    view.list.setCurrentIndex(view.model.index(0))
    qtbot.keyClick(view.list, Qt.Key.Key_Return)
    dialog = view.photo_dialog
    assert dialog is not None and dialog.current_photo() == photo_ids[0]
    qtbot.waitUntil(lambda: not dialog.displayed_pixmap().isNull(), timeout=15_000)
    assert upright_problem(dialog.displayed_pixmap().toImage()) is None


def test_a_name_a_modified_client_wrote_is_shown_cleaned(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, tmp_path: Path) -> None:
    view, [photo_id] = _chat_with_photos(qtbot, runtime, qt_loop, tmp_path, [1])
    assert view.current_thread is not None
    thread_id = view.current_thread.thread_id
    # The reducer checks only that it is text of a bounded length.
    _call(qtbot, runtime, lambda node: node.collections(thread_id)["photo"].update(
        photo_id, {"name": "Beach\u202e\u200b\n  day\x1b]0;x\x07.jpg"}))
    view.list.setFocus()
    view.list.setCurrentIndex(view.model.index(0))
    qtbot.keyClick(view.list, Qt.Key.Key_Return)
    dialog = view.photo_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.caption.text() != "", timeout=15_000)
    assert dialog.caption.text() == "Beach day ]0;x .jpg"


def test_save_as_writes_the_original_under_its_safe_name(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, tmp_path: Path) -> None:
    view, photo_ids = _chat_with_photos(qtbot, runtime, qt_loop, tmp_path, [6])
    dialog = view.open_photo(view.model.item(0).id, 0)
    assert dialog is not None
    qtbot.waitUntil(dialog.save_button.isEnabled, timeout=15_000)  # the original is here
    dialog.save_button.click()
    files = dialog.save_dialog
    assert files is not None and files.isVisible()
    assert Path(files.selectedFiles()[0]).name == "phone-6.jpg"  # the photo's own name is offered
    target = tmp_path / "saved" / "mine.jpg"
    target.parent.mkdir()
    files.selectFile(str(target))
    with qtbot.waitSignal(dialog.saved, timeout=10_000) as saved:
        files.accept()
    assert saved.args == [str(target)]
    shown = view.current_thread
    assert shown is not None
    original = _call(qtbot, runtime, lambda node: node.photos(shown.thread_id).original(photo_ids[0]))
    assert target.read_bytes() == original
    assert sorted(p.name for p in target.parent.iterdir()) == ["mine.jpg"]  # no temporary file left


def test_a_peers_photo_name_becomes_one_plain_file_name() -> None:
    jpeg = b"\xff\xd8\xff\xe0"
    assert safe_file_name("../../.bashrc", jpeg) == "_.._.bashrc"
    assert safe_file_name("", jpeg) == "photo.jpg"
    assert safe_file_name("holiday\x1b]0;owned\x07", b"\x89PNG\r\n\x1a\nrest") == "holiday_]0;owned_.png"
    assert safe_file_name("...", b"RIFF\0\0\0\0WEBPVP8 ") == "photo.webp"


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=400), st.binary(max_size=16))
def test_any_name_and_bytes_give_a_name_that_stays_in_the_folder(name: str, data: bytes) -> None:
    safe = safe_file_name(name, data)
    assert safe and Path(safe).name == safe and not safe.startswith(".")
    assert not set(safe) & set("/\\:") and not any(unicodedata.category(ch)[0] == "C" for ch in safe)
    assert len(safe) <= 130


@pytest.mark.parametrize("replace", [False, True])
def test_a_file_already_there_is_replaced_only_when_the_user_says_so(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, tmp_path: Path, replace: bool) -> None:
    view, _photo_ids = _chat_with_photos(qtbot, runtime, qt_loop, tmp_path, [1])
    dialog = view.open_photo(view.model.item(0).id, 0)
    assert dialog is not None
    qtbot.waitUntil(dialog.save_button.isEnabled, timeout=15_000)
    target = tmp_path / "mine.jpg"
    target.write_bytes(b"someone else's file")
    files = dialog.ask_save()
    assert files is not None
    files.selectFile(str(target))
    asked: list[str] = []

    def answer() -> None:  # the file dialog's own question, shown modally inside accept()
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        asked.append(box.text())
        box.button(QMessageBox.StandardButton.Yes if replace else QMessageBox.StandardButton.No).click()

    QTimer.singleShot(0, answer)
    if replace:
        with qtbot.waitSignal(dialog.saved, timeout=10_000):
            files.accept()
        assert target.read_bytes() != b"someone else's file" and target.read_bytes()[:2] == b"\xff\xd8"
    else:
        with qtbot.assertNotEmitted(dialog.saved, wait=200):
            files.accept()
        assert target.read_bytes() == b"someone else's file"
    assert len(asked) == 1 and "already exists" in asked[0]


async def _let_in(engine: EngineRuntime, thread_id: ThreadId) -> None:
    for _ in range(300):  # bounded: 30 s
        state = await engine.call(lambda node: node.join_state(thread_id))
        if state is None or state.status == "admitted":
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not let in: {state}")


def _join_on_demand(node: Node, link: str) -> ThreadId:
    # One engine call: the policy is set before any sync can fetch an original
    # (the profile's: the album is not ours before an admin admits us).
    node.set_fetch_originals(FetchOriginals.ON_DEMAND)
    return node.join(InviteLink.parse(link))


def test_a_missing_original_is_asked_for_once_not_on_every_network_change(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, tmp_path: Path) -> None:
    """Transfers publish the network's status 4 times a second: a photo
    waiting for its original must not be read again nor asked for again on
    each, only when its thread's transfer ends or its document changes."""
    from threads_desktop.app import background_services
    from threads_desktop.cli.commands import forwarding_handler

    def services() -> Any:
        return background_services(["/ip4/127.0.0.1/tcp/0"], lan_discovery=False, commands=forwarding_handler)

    a = EngineRuntime(lambda: Node.open(tmp_path / "a"), services())
    b = RecordingRuntime(lambda: Node.open(tmp_path / "b"), services())
    decoder = ThreadPoolExecutor(max_workers=1)
    a.start()
    b.start()
    try:
        summary = _call(qtbot, a, Node.create_thread, ThreadKind.CHAT, "Trip")
        photo_path = portrait_files(tmp_path / "phone")[1]

        def post(node: Node) -> list[str]:
            chat, photos = node.chat(summary.thread_id), node.photos(summary.thread_id)
            return list(chat.messages.get(chat.post_photos(photos, [photo_path], "")).data["photos"])

        photo_ids = _call(qtbot, a, post)
        link = _call(qtbot, a, lambda node: node.invite(summary.thread_id, Role.WRITE).to_uri())
        thread_id = _call(qtbot, b, _join_on_demand, link)
        admitted = asyncio.ensure_future(_let_in(b, thread_id))  # the network's join loop admits us
        qtbot.waitUntil(admitted.done, timeout=40_000)
        admitted.result()
        client_b = EngineClient(b, qt_loop)
        view_b = _view(qtbot, client_b, _call(qtbot, b, chat_ops.thread_summary, thread_id))
        qtbot.waitUntil(lambda: len(view_b.message_rows()) == 1 and
                        None not in view_b.message_rows()[0]["thumbnails"], timeout=30_000)
        a.stop()  # the original stays where it is: B waits for it
        b.operations.clear()
        dialog = PhotoDialog(client_b, decoder, thread_id, photo_ids)
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitUntil(lambda: dialog.picture.text() != "Loading…" or not dialog.displayed_pixmap().isNull(),
                        timeout=15_000)  # the preview, or word that the photo is on its way
        assert not dialog.save_button.isEnabled()
        notifications = 20
        seen: list[bool] = []
        client_b.changed.connect(lambda changes: seen.append(changes.network is not None))

        def publish(node: Node) -> None:
            for _ in range(notifications):
                node.network_changed()  # as a transfer's progress does

        _call(qtbot, b, publish)
        qtbot.waitUntil(lambda: seen.count(True) >= notifications, timeout=10_000)
        assert b.operations.count(photo_ops.chat_photo) == 1
    finally:
        b.stop()
        a.stop()
        decoder.shutdown()
