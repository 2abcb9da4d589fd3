"""Helpers for album tests: image files on disk, drops as a file manager
makes them, and an album made through the window."""

from __future__ import annotations

import warnings
from pathlib import Path

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent

from tests.engine.modules.images import image_bytes
from threads_desktop.ui.views.main_window import MainWindow


def photo_files(folder: Path, count: int, *, first_seed: int = 0, size: tuple[int, int] = (96, 64)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        path = folder / f"IMG_{first_seed + n:04d}.jpg"
        path.write_bytes(image_bytes("JPEG", taken=f"2024:07:{1 + n % 28:02d} 10:{n % 60:02d}:00",
                                     size=size, seed=first_seed + n))
        paths.append(path)
    return paths


def drop_files(widget, paths: list[Path]) -> None:  # type: ignore[no-untyped-def]
    """Drop files on `widget` the way a file manager does (a text/uri-list).
    Handed to the widget's handlers directly: Qt delivers a drop only during
    a drag its platform plugin started, and offscreen has none."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    with warnings.catch_warnings():  # PySide marks its only constructor deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(QPoint(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier)
    widget.dragEnterEvent(enter)
    assert enter.isAccepted(), "the widget refused the drag"
    widget.dropEvent(event)


def new_thread(qtbot, window: MainWindow, name: str, *, chat: bool = False) -> str:  # type: ignore[no-untyped-def]
    """Make an album (or a chat) through the window's New dialog; its ID."""
    (window.new_chat_action if chat else window.new_album_action).trigger()
    dialog = window.new_thread_dialog
    assert dialog is not None
    qtbot.keyClicks(dialog.name_edit, name)
    with qtbot.waitSignal(window.thread_created, timeout=10_000) as created:
        dialog.create_button.click()
    return str(created.args[0])


def new_album(qtbot, window: MainWindow, name: str) -> str:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.album_view.photos_loaded, timeout=10_000):  # its (empty) order read
        thread_id = new_thread(qtbot, window, name)
    return thread_id
