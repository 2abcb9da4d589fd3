"""`bench reach` (bench/reach.py): friends behind home routers in the lab.
Its figures are for people; this checks one pair end to end at a small
size, and that a bad pair is refused before anything is built."""

from __future__ import annotations

import json

import pytest

from threads_desktop.cli.main import main


def test_bench_reach_refuses_a_pair_of_unknown_routers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "reach", "--pairs", "port_preserving/fibre", "--json"]) == 2
    assert "--pairs takes A/B pairs of port_preserving" in capsys.readouterr().err


def test_bench_reach_punches_through_two_port_preserving_routers_and_reports_the_figures(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "reach", "--pairs", "port_preserving/port_preserving", "--photos", "2",
                 "--photo-bytes", "200000", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    [pair] = result["pairs"]
    assert "failed" not in pair, pair.get("failed")
    assert pair["routers"] == ["port_preserving", "port_preserving"]
    assert pair["connection"] == "punched"  # both behind NAT: direct only by a punch
    assert 0 < pair["join_to_first_thumbnail_s"] < 30 and pair["originals_mb_per_s"] > 0
    assert pair["relay_cpu_ms_per_mb"] is None  # nothing went through the relay to measure
    assert result["targets"]["direct_share_of_independent_pairs"] == 1.0
