"""`bench gui` runs the app on a generated album and reports its figures
against the targets. (The figures are for people; this checks the command
measures what it says on a small album.)"""

from __future__ import annotations

import json

import pytest

from threads_desktop.cli.main import main


def test_bench_gui_measures_start_up_first_paint_frames_and_memory(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "gui", "--photos", "400", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["photos"] == 400
    assert result["floor_empty_qt_window_ms"] > 0 and result["startup_ratio_to_floor"] > 0
    assert 0 < result["first_paint_ms"] <= result["thumbnails_ms"]
    assert result["frames"] > 5 and 0 < result["median_frame_ms"] <= result["worst_frame_ms"]
    assert result["rss_mb"] >= result["rss_mb_at_start"] > 0
    assert set(result["met"]) == {"startup_ms", "first_paint_ms", "worst_frame_ms", "rss_mb"}


def test_bench_gui_scrolls_to_the_last_row_of_an_album_still_being_laid_out(qapp) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    import qasync

    from threads_desktop.engine.modules.photos import PhotoCard
    from threads_desktop.ui.bench_gui import _scroll_end_to_end
    from threads_desktop.ui.models.photo_grid_model import PhotoGridModel
    from threads_desktop.ui.widgets.photo_grid_view import PhotoGridView

    async def no_cards(_ids: list[str]) -> list[PhotoCard]:
        return []  # empty cells: the layout, not the pictures, is what this checks

    # The model's fetches are asyncio tasks, on Qt's loop as in the app (with
    # none set, this test failed after any test that ran asyncio.run).
    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    try:
        with ThreadPoolExecutor(1) as decoder:
            model = PhotoGridModel(no_cards, decoder)
            grid = PhotoGridView()
            grid.setModel(model)
            grid.resize(1280, 800)
            grid.show()
            model.set_ids([f"{i:064x}" for i in range(20_000)])  # laid out 400 rows at a time while it scrolls
            _scroll_end_to_end(qapp, grid)
            last = grid.visualRect(model.index(model.rowCount() - 1))
            assert not last.isEmpty() and grid.viewport().rect().intersects(last)
            model.cancel()
            grid.close()
    finally:
        # As tests/ui/conftest.py's qt_loop ends: a loop left marked running
        # made every later asyncio.run() in the process fail (tests/engine/test_runtime.py).
        loop._QEventLoop__is_running = False  # type: ignore[attr-defined]
        loop.close()
        asyncio.events._set_running_loop(None)
        asyncio.set_event_loop(None)


def test_bench_gui_keeps_its_profile_for_the_next_run(capsys: pytest.CaptureFixture[str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    assert main(["bench", "gui", "--photos", "60", "--keep", str(tmp_path), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(["bench", "gui", "--photos", "60", "--keep", str(tmp_path), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    # Not built again: the same build time is reported, and the profile holds one album of 60, not two.
    assert again["setup_s"] == first["setup_s"]
    profile = sqlite3.connect(tmp_path / "profile-60" / "profile.sqlite3")
    try:
        assert profile.execute("SELECT count(*) FROM documents WHERE collection = 'photo'").fetchone() == (60,)
    finally:
        profile.close()
