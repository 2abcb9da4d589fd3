"""Issue 17's hostile load in CI: `serve` on 127.0.0.1 under stalled
sessions of fresh identities and idle sockets re-opened as fast as they are
dropped, against its own figures without the attack, in the same run.

Scale: half the full bench's identities (50 x 8 stalled 8 MiB sessions;
the full `threads-desktop bench hostile` runs 100 x 8) and all its 500
idle sockets, with a 300-message chat to join (the full bench: 1000), so
that it takes well under a minute on 2 cores; the targets are the full
ones."""

from __future__ import annotations

import json

import pytest

from threads_desktop.bench import hostile
from threads_desktop.cli.main import main

CI_SCALE = hostile.Scale(events=300, rounds=3, identities=50, sessions=8, sockets=500)


@pytest.mark.slow
@pytest.mark.alone
@pytest.mark.timeout(240)
def test_serve_under_hostile_load_keeps_its_memory_and_serves_honest_peers_in_time() -> None:
    result = hostile.run(CI_SCALE)
    print(hostile.summary(result))
    memory, quiet, attacked, attack = result["memory"], result["quiet"], result["attacked"], result["attack"]
    # The attack ran at the asked strength, and serve kept ending it.
    assert attack["identities_connected"] == CI_SCALE.identities
    assert attack["sessions_tried"] >= CI_SCALE.identities * CI_SCALE.sessions  # (held off, the rest go unanswered)
    # (Idle sockets are held in places of their own now, not dropped: admission.py.)
    assert attack["sessions_ended_by_node"] > 0
    assert quiet["join_seconds"] is not None and quiet["message_seconds"] is not None
    assert memory["growth_mb"] <= hostile.MEMORY_TARGET_MB, memory
    assert attacked["join_seconds"] is not None and attacked["join_seconds"] <= hostile.JOIN_TARGET_SECONDS, result
    assert attacked["message_seconds"] is not None, result
    assert attacked["message_seconds"] <= hostile.MESSAGE_TARGET_SECONDS, result
    assert all(result["targets_met"].values())


def test_bench_hostile_is_a_command_that_reports_both_runs_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    """The command at the smallest scale: the report's shape, not its figures."""
    code = main(["bench", "hostile", "--events", "20", "--rounds", "1", "--identities", "2", "--sessions", "2",
                 "--sockets", "4", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == (0 if all(result["targets_met"].values()) else 1)
    for run in ("quiet", "attacked"):
        assert set(result[run]) == {"join_seconds", "message_seconds"}
    assert result["memory"]["idle_mb"] > 0 and result["attack"]["sessions_tried"] >= 4
    assert result["scale"] == {"events": 20, "rounds": 1, "identities": 2, "sessions": 2, "sockets": 4}
