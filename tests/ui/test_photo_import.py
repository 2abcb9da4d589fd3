"""The window's import against a real engine whose profile is on a small
disk: a full disk ends the import with what was saved, in a person's words."""

from __future__ import annotations

from pathlib import Path

import qasync

from tests.disk import small_disk
from tests.engine.modules.images import noise_jpeg
from tests.ui.album import drop_files, new_album, photo_files
from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.settings import AppSettings
from threads_desktop.ui.views.main_window import MainWindow
from threads_desktop.ui.views.photo_import import ImportSummary


def test_a_full_disk_ends_the_import_saying_how_many_photos_were_saved(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, tmp_path: Path) -> None:
    folder = tmp_path / "camera"
    folder.mkdir()
    paths = []
    for i in range(20):
        paths.append(folder / f"IMG_{i:04d}.jpg")
        paths[-1].write_bytes(noise_jpeg(i))
    with small_disk(tmp_path / "disk", 4608) as disk:
        runtime = EngineRuntime(lambda: Node.open(disk / "profile"))
        runtime.start()
        try:
            window = MainWindow(EngineClient(runtime, qt_loop), AppSettings.from_file(tmp_path / "settings.ini"))
            qtbot.addWidget(window)
            with qtbot.waitSignal(window.threads_loaded, timeout=10_000):
                window.show()
            new_album(qtbot, window, "Holiday")
            with qtbot.waitSignal(window.album_view.import_finished, timeout=60_000) as finished:
                drop_files(window.album_view.grid, [folder])
            summary = finished.args[0]
            assert isinstance(summary, ImportSummary)
            saved = len(summary.added)
            assert 0 < saved < 20 and summary.stopped == "the disk is full"
            assert summary.message() == f"Saved {saved} of 20 photos; the disk is full."
            qtbot.waitUntil(lambda: window.statusBar().currentMessage() == summary.message(), timeout=10_000)
            qtbot.waitUntil(lambda: window.album_view.model.rowCount() == saved, timeout=10_000)
            window.close()
        finally:
            runtime.stop()


def test_the_progress_strip_moves_photo_by_photo(qtbot, window: MainWindow,  # type: ignore[no-untyped-def]
                                                 tmp_path: Path) -> None:
    new_album(qtbot, window, "Steps")
    album = window.album_view
    seen: list[tuple[int, int]] = []
    with qtbot.waitSignal(album.import_finished, timeout=30_000) as finished:
        drop_files(album.grid, photo_files(tmp_path, 10))
        importer = album.current_import
        assert importer is not None
        importer.progressed.connect(lambda done, total: seen.append((done, total)))
    assert seen == [(n, 10) for n in range(11)]
    assert len(finished.args[0].added) == 10
