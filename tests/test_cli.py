from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from threads_desktop.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_id_create_and_ls(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile = str(tmp_path / "p")
    code, out, _ = run(capsys, "--data-dir", profile, "id")
    assert code == 0 and out.strip().startswith("12D3KooW")
    peer_id = out.strip()
    code, out, _ = run(capsys, "--data-dir", profile, "id", "--json")
    assert json.loads(out)["peer_id"] == peer_id

    code, album_id, _ = run(capsys, "--data-dir", profile, "create", "album", "Summer 2026")
    assert code == 0 and album_id.strip().startswith("b")
    code, _, _ = run(capsys, "--data-dir", profile, "create", "chat", "Family")
    code, out, _ = run(capsys, "--data-dir", profile, "ls", "--json")
    listed = json.loads(out)
    assert [(t["kind"], t["name"]) for t in listed] == [("album", "Summer 2026"), ("chat", "Family")]
    assert listed[0]["id"] == album_id.strip()
    assert listed[0]["events"] == 1 and listed[0]["can_write"] is True

    code, out, _ = run(capsys, "--data-dir", profile, "ls")
    assert "Summer 2026" in out and "Family" in out


def test_bad_input_is_a_clear_error_and_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--data-dir", str(tmp_path / "p"), "create", "album", " ")
    assert code == 1 and "cannot be empty" in err and out == ""


def test_the_console_script_runs_as_a_module(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "threads_desktop", "--data-dir", str(tmp_path), "ls", "--json"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_a_locked_profile_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from threads_desktop.engine.node import Node

    node = Node.open(tmp_path / "p")
    try:
        code, _, err = run(capsys, "--data-dir", str(tmp_path / "p"), "ls")
        assert code == 1 and "in use by process" in err
    finally:
        node.close()
