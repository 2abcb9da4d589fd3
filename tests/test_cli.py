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
    assert listed[0]["events"] == 2 and listed[0]["can_write"] is True

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


def test_a_locked_profile_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from threads_desktop import cli_control
    from threads_desktop.engine.node import Node

    monkeypatch.setattr(cli_control, "LOCK_WAIT_SECONDS", 0.2)  # held for good here: no need to wait long
    node = Node.open(tmp_path / "p")
    try:
        code, _, err = run(capsys, "--data-dir", str(tmp_path / "p"), "ls")
        assert code == 1 and "in use by process" in err
    finally:
        node.close()


def test_add_say_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.engine.modules.images import image_bytes

    profile = str(tmp_path / "p")
    _, album, _ = run(capsys, "--data-dir", profile, "create", "album", "Trip")
    _, chat, _ = run(capsys, "--data-dir", profile, "create", "chat", "Family")
    folder = tmp_path / "camera"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(image_bytes("JPEG", taken="2024:07:14 18:30:05"))
    (folder / "b.png").write_bytes(image_bytes("PNG", seed=5))
    (folder / "notes.txt").write_text("not a photo")
    code, out, err = run(capsys, "--data-dir", profile, "add", album.strip(), str(folder))
    assert code == 1 and len(out.split()) == 2 and "not added: notes.txt" in err

    code, message_id, _ = run(capsys, "--data-dir", profile, "say", chat.strip(), "Dinner at 8?")
    assert code == 0
    code, out, _ = run(capsys, "--data-dir", profile, "show", chat.strip(), "--json")
    assert [(m["id"], m["text"]) for m in json.loads(out)["items"]] == [(message_id.strip(), "Dinner at 8?")]
    code, out, _ = run(capsys, "--data-dir", profile, "show", album.strip(), "--json")
    shown = json.loads(out)
    assert [p["name"] for p in shown["items"]] == ["a.jpg", "b.png"]
    assert shown["thread"]["name"] == "Trip"
    code, out, _ = run(capsys, "--data-dir", profile, "show", album.strip())
    assert "a.jpg  2024-07-14 18:30" in out

    code, _, err = run(capsys, "--data-dir", profile, "say", album.strip(), "hi")
    assert code == 1 and "album" in err
    code, _, err = run(capsys, "--data-dir", profile, "show", "bnotathread")
    assert code == 1 and "thread ID" in err


def test_ctrl_c_on_add_stops_between_photos_and_says_how_many_were_added(tmp_path: Path) -> None:
    import os
    import signal

    from tests.engine.modules.images import image_bytes

    folder = tmp_path / "camera"
    folder.mkdir()
    for n in range(40):
        (folder / f"{n:02}.jpg").write_bytes(image_bytes("JPEG", seed=n, size=(640, 480)))
    profile = tmp_path / "p"
    album = subprocess.run([sys.executable, "-m", "threads_desktop", "--data-dir", str(profile), "create", "album",
                            "Trip"], capture_output=True, text=True, timeout=60).stdout.strip()
    adding = subprocess.Popen([sys.executable, "-m", "threads_desktop", "--data-dir", str(profile), "add", album,
                               str(folder)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert adding.stderr is not None
    progress = b""
    for _ in range(1000):  # the first progress count ("\r1/40"): the import is under way
        chunk = os.read(adding.stderr.fileno(), 64)
        progress += chunk
        if b"/40" in progress or not chunk:
            break
    adding.send_signal(signal.SIGINT)
    out, rest = adding.communicate(timeout=60)
    err = (progress + rest).decode()
    assert adding.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    added = out.decode().split()
    assert 1 <= len(added) < 40
    assert f"stopped: {len(added)} of 40 photos added; add the same photos again to add the rest" in err
    shown = subprocess.run([sys.executable, "-m", "threads_desktop", "--data-dir", str(profile), "show", album,
                            "--json"], capture_output=True, text=True, timeout=60)
    assert sorted(item["id"] for item in json.loads(shown.stdout)["items"]) == sorted(added)
