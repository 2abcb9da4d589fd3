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
