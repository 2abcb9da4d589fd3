"""The album grid and viewer against a real engine: photos dropped from the
file manager, thumbnails loaded on demand, the viewer's keys, caption,
comments and reactions, delete and export."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QMessageBox, QWidget

from tests.ui.album import drop_files, new_album, photo_files
from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.models.photo_grid_model import PhotoRole
from threads_desktop.ui.operations import photos as photo_ops
from threads_desktop.ui.views.main_window import MainWindow
from threads_desktop.ui.views.photo_import import ImportSummary


def _drop_and_wait(qtbot, window: MainWindow, paths: list[Path]) -> ImportSummary:  # type: ignore[no-untyped-def]
    album = window.album_view
    with qtbot.waitSignal(album.import_finished, timeout=30_000) as finished:
        drop_files(album.grid, paths)
    summary = finished.args[0]
    assert isinstance(summary, ImportSummary)
    qtbot.waitUntil(lambda: album.model.rowCount() == len(summary.added) + len(summary.duplicates) or
                    album.model.rowCount() >= len(summary.added), timeout=10_000)
    return summary


def test_dropped_photos_and_folders_fill_the_grid_with_thumbnails(qtbot, window: MainWindow,  # type: ignore[no-untyped-def]
                                                                   tmp_path: Path) -> None:
    new_album(qtbot, window, "Lisbon")
    photo_files(tmp_path / "trip", 10)
    (tmp_path / "trip" / "notes.txt").write_text("not a picture")
    summary = _drop_and_wait(qtbot, window, [tmp_path / "trip"])  # a whole folder
    assert len(summary.added) == 10 and summary.failed[0][0] == "notes.txt"
    album = window.album_view
    qtbot.waitUntil(lambda: album.model.rowCount() == 10, timeout=10_000)
    # The count follows the album's order, read once more after the rows (photo_grid_model.py).
    qtbot.waitUntil(lambda: album.subtitle.text() == "10 photos", timeout=10_000)
    assert "Added 10 photos" in window.statusBar().currentMessage()
    assert "notes.txt" in window.statusBar().currentMessage()
    # Newest first (taken 2024-07-10 ... 07-01): the first cell is IMG_0009.
    qtbot.waitUntil(lambda: isinstance(album.model.index(0).data(PhotoRole.THUMBNAIL), QImage), timeout=10_000)
    assert album.model.index(0).data(PhotoRole.NAME) == "IMG_0009.jpg"
    album.sort.setCurrentIndex(1)  # oldest first
    qtbot.waitUntil(lambda: album.model.index(0).data(PhotoRole.NAME) == "IMG_0000.jpg", timeout=10_000)
    again = _drop_and_wait(qtbot, window, photo_files(tmp_path / "trip", 2))
    assert again.added == [] and len(again.duplicates) == 2 and album.model.rowCount() == 10


def test_an_import_can_be_cancelled_and_keeps_what_was_added(qtbot, window: MainWindow,  # type: ignore[no-untyped-def]
                                                             tmp_path: Path) -> None:
    new_album(qtbot, window, "Big")
    paths = photo_files(tmp_path / "many", 40)
    album = window.album_view
    with qtbot.waitSignal(album.import_finished, timeout=30_000) as finished:
        drop_files(album.grid, paths)
        importer = album.current_import
        assert importer is not None
        importer.progressed.connect(lambda done, total: album.import_progress.stop_button.click() if done else None)
    summary = finished.args[0]
    assert summary.cancelled and 0 < len(summary.added) < 40
    qtbot.waitUntil(lambda: album.model.rowCount() == len(summary.added), timeout=10_000)
    assert f"stopped before the other {40 - len(summary.added)}" in window.statusBar().currentMessage()
    assert album.import_progress.isHidden()
    again = _drop_and_wait(qtbot, window, paths)  # the same photos again finish it
    assert len(again.added) == 40 - len(summary.added) and len(again.duplicates) == len(summary.added)
    qtbot.waitUntil(lambda: album.model.rowCount() == 40, timeout=10_000)


def test_the_viewer_walks_the_album_and_keeps_captions_comments_and_reactions(  # type: ignore[no-untyped-def]
        qtbot, window: MainWindow, tmp_path: Path) -> None:
    new_album(qtbot, window, "Dogs")
    _drop_and_wait(qtbot, window, photo_files(tmp_path, 3))
    album = window.album_view
    qtbot.waitUntil(lambda: album.model.rowCount() == 3, timeout=10_000)
    viewer = album.viewer
    errors: list[str] = []
    viewer.failed.connect(errors.append)
    with qtbot.waitSignal(viewer.shown, timeout=10_000):
        album.grid.open_requested.emit(0)
    assert errors == []
    assert album.pages.currentWidget() is viewer and viewer.position.text() == "1 of 3"
    assert "original is on this device" in viewer.original_state.text()
    with qtbot.waitSignal(viewer.shown, timeout=10_000) as shown:
        qtbot.keyClick(viewer, Qt.Key.Key_Right)
    assert shown.args[0] == album.model.ids()[1] and viewer.position.text() == "2 of 3"
    assert "96 \u00d7 64 pixels" in viewer.facts.text()
    viewer.caption.setFocus()
    qtbot.keyClicks(viewer.caption, "Max at the beach")
    with qtbot.waitSignal(window._client.changed, timeout=10_000):
        qtbot.keyClick(viewer.caption, Qt.Key.Key_Return)
    qtbot.keyClicks(viewer.comment_edit, "Good boy")
    qtbot.keyClick(viewer.comment_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: viewer.comments.rowCount() == 1, timeout=10_000)
    assert re.fullmatch(r"You · \d{1,2}[:.]\d{2}(\s?[AP]M)?\nGood boy", viewer.comments.index(0).data())
    viewer.reaction_buttons["❤️"].click()
    qtbot.waitUntil(lambda: viewer.reaction_buttons["❤️"].text() == "❤️ 1", timeout=10_000)
    qtbot.keyClick(viewer, Qt.Key.Key_Z)
    assert viewer.zoom_button.text() == "Fit"
    qtbot.keyClick(viewer, Qt.Key.Key_Escape)
    assert album.pages.currentIndex() == 0
    qtbot.waitUntil(lambda: album.model.index(1).data(PhotoRole.CAPTION) == "Max at the beach", timeout=10_000)


def test_selected_photos_are_deleted_after_confirming_and_exported_as_originals(  # type: ignore[no-untyped-def]
        qtbot, window: MainWindow, tmp_path: Path) -> None:
    new_album(qtbot, window, "Cleanup")
    paths = photo_files(tmp_path / "in", 4)
    _drop_and_wait(qtbot, window, paths)
    album = window.album_view
    qtbot.waitUntil(lambda: album.model.rowCount() == 4, timeout=10_000)
    with qtbot.waitSignal(album.actions_checked, timeout=10_000, check_params_cb=lambda ids: len(ids) == 2):
        album.select_rows([0, 1])
    assert album.export_button.isEnabled() and album.delete_button.isEnabled()
    out = tmp_path / "out"
    out.mkdir()
    with qtbot.waitSignal(album.export_finished, timeout=10_000) as exported:
        album.export_to(album.selected_ids(), out)
    assert sorted(p.name for p in out.iterdir()) == ["IMG_0002.jpg", "IMG_0003.jpg"]
    assert (out / "IMG_0003.jpg").read_bytes() == paths[3].read_bytes() and exported.args[0].missing == []
    box = album.ask_delete()
    assert box is not None and "Delete 2 photos" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert album.model.rowCount() == 4  # cancelled: nothing happens
    box = album.ask_delete()
    assert box is not None
    delete = next(b for b in box.buttons() if b.text() == "Delete")
    with qtbot.waitSignal(album.deleted, timeout=10_000):
        delete.click()
    qtbot.waitUntil(lambda: album.model.rowCount() == 2, timeout=10_000)
    assert [album.model.index(r).data(PhotoRole.PHOTO_ID) for r in range(2)] == album.model.ids()


def test_a_long_import_in_the_window_fills_the_grid_without_stepping_tasks_inside_each_other(  # type: ignore[no-untyped-def]
        qtbot, window: MainWindow, tmp_path: Path) -> None:
    # Long enough for a progress display to come up and be updated while the
    # engine's change sets make the window reload its list (the qt_loop
    # fixture fails the test if one task is stepped inside another).
    new_album(qtbot, window, "Summer")
    summary = _drop_and_wait(qtbot, window, photo_files(tmp_path / "summer", 48, size=(1600, 1200)))
    assert len(summary.added) == 48
    album = window.album_view
    qtbot.waitUntil(lambda: album.model.rowCount() == 48, timeout=10_000)
    qtbot.waitUntil(lambda: all(isinstance(album.model.index(row).data(PhotoRole.THUMBNAIL), QImage)
                                for row in range(6)), timeout=10_000)


class _EnabledChanges(QObject):
    """Records each time a widget turns enabled or disabled."""

    def __init__(self, widget: QWidget) -> None:
        super().__init__(widget)
        self.states: list[bool] = []
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.EnabledChange and isinstance(watched, QWidget):
            self.states.append(watched.isEnabled())
        return False


def test_an_incoming_comment_keeps_delete_offered_while_it_is_asked_again(  # type: ignore[no-untyped-def]
        qtbot, window: MainWindow, runtime: EngineRuntime, tmp_path: Path) -> None:
    new_album(qtbot, window, "Busy")
    _drop_and_wait(qtbot, window, photo_files(tmp_path / "in", 2))
    album = window.album_view
    qtbot.waitUntil(lambda: album.model.rowCount() == 2, timeout=10_000)
    with qtbot.waitSignal(album.actions_checked, timeout=10_000, check_params_cb=lambda ids: len(ids) == 2):
        album.select_rows([0, 1])
    assert album.delete_button.isEnabled()
    changes = _EnabledChanges(album.delete_button)
    summary = album._summary
    assert summary is not None
    with qtbot.waitSignal(album.actions_checked, timeout=10_000, check_params_cb=lambda ids: len(ids) == 2):
        commented = asyncio.ensure_future(
            runtime.call(photo_ops.comment, summary.thread_id, album.selected_ids()[0], "Nice"))
    # The change set can reach the view before the call's own answer does.
    qtbot.waitUntil(commented.done, timeout=10_000)
    assert commented.exception() is None
    assert album.delete_button.isEnabled() and changes.states == []  # never greyed out meanwhile
