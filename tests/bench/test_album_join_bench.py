"""`bench album-join` times a new member joining an album over 127.0.0.1
against the same records received locally. (The figures are for people;
this checks the command measures what it says on a small album.)"""

from __future__ import annotations

import json

import pytest

from threads_desktop.cli.main import main


def test_bench_album_join_times_a_new_member_against_the_local_floor(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "album-join", "--photos", "60", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["photos"] == 60 and result["build_s"] >= 0
    assert result["seconds"] > 0 and result["floor_seconds"] > 0
    # Each figure is rounded to 10 ms: on a small album the floor is a few
    # hundredths, so the ratio is checked within what that rounding allows.
    seconds, floor = result["seconds"], result["floor_seconds"]
    low, high = (seconds - 0.005) / (floor + 0.005), (seconds + 0.005) / max(floor - 0.005, 1e-9)
    assert low - 0.01 <= result["ratio_to_floor"] <= high + 0.01
