from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from threads_desktop.cli.main import main


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
    assert json.loads(out)["addresses"] == []  # nobody serves the profile: no address to give out

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
    from threads_desktop.cli import control as cli_control
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


ADD_MEMORY_LIMIT = 1 << 30  # address space: several times what `add` of one photo needs


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADD_MEMORY_LIMIT, ADD_MEMORY_LIMIT))


def test_adding_dev_zero_under_a_memory_limit_is_refused_by_name(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from tests.engine.modules.images import image_bytes

    profile = str(tmp_path / "p")
    _, album, _ = run(capsys, "--data-dir", profile, "create", "album", "Zeros")
    photo = tmp_path / "good.jpg"
    photo.write_bytes(image_bytes("JPEG"))
    result = subprocess.run([sys.executable, "-m", "threads_desktop", "--data-dir", profile, "add", album.strip(),
                             "/dev/zero", str(photo)],
                            capture_output=True, text=True, timeout=60, preexec_fn=_limit_memory,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert result.returncode == 1
    assert "not added: zero: not a regular file (a device)" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stdout.split()) == 1  # the good photo went in


def test_a_full_disk_import_says_how_many_photos_were_saved(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from tests.disk import small_disk
    from tests.engine.modules.images import noise_jpeg

    folder = tmp_path / "camera"
    folder.mkdir()
    for i in range(20):
        (folder / f"{i:02}.jpg").write_bytes(noise_jpeg(i))
    with small_disk(tmp_path / "disk", 4608) as disk:
        profile = str(disk / "p")
        _, album, _ = run(capsys, "--data-dir", profile, "create", "album", "Holiday")
        code, out, err = run(capsys, "--data-dir", profile, "add", album.strip(), str(folder))
        saved = len(out.split())
        assert code == 1 and 0 < saved < 20
        assert err.rstrip().endswith(f"Saved {saved} of 20 photos; the disk is full.")
        assert "database" not in err


def test_show_prints_no_terminal_escapes_from_photo_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.engine.modules.images import image_bytes

    profile = str(tmp_path / "p")
    _, album, _ = run(capsys, "--data-dir", profile, "create", "album", "Escapes")
    hostile = tmp_path / "\x1b]0;owned\x07beach\x1b[2J\nnight.jpg"
    hostile.write_bytes(image_bytes("JPEG"))
    code, _, err = run(capsys, "--data-dir", profile, "add", album.strip(), str(hostile))
    assert code == 0 and "\x1b" not in err
    code, out, _ = run(capsys, "--data-dir", profile, "show", album.strip())
    assert code == 0 and "\x1b" not in out and "\x07" not in out
    assert "]0;owned beach [2J night.jpg" in out


HOSTILE = "nice\x1b]0;PWNED\x07\x1b[2J"  # a terminal title, then clear-screen
SHOWN = "nice]0;PWNED[2J"


def test_show_prints_no_terminal_escapes_from_what_peers_wrote(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from tests.engine.modules.images import image_bytes
    from threads_desktop.engine.core.ids import ThreadId
    from threads_desktop.engine.node import Node

    profile = tmp_path / "p"
    _, album, _ = run(capsys, "--data-dir", str(profile), "create", "album", "Escapes")
    _, chat, _ = run(capsys, "--data-dir", str(profile), "create", "chat", "Escapes too")
    (tmp_path / "p.jpg").write_bytes(image_bytes("JPEG"))
    _, photo_id, _ = run(capsys, "--data-dir", str(profile), "add", album.strip(), str(tmp_path / "p.jpg"))
    # What a modified client can write: the reducer checks only type and length.
    node = Node.open(profile)
    try:
        photos = node.photos(ThreadId.parse(album.strip()))
        photos.photos.update(photo_id.strip(), {"caption": HOSTILE, "camera": HOSTILE})
        photos.comments.create({"target": f"photo/{photo_id.strip()}", "text": HOSTILE})
        node.chat(ThreadId.parse(chat.strip())).messages.create({"text": HOSTILE + "\u202e\nsecond line"})
    finally:
        node.close()
    for thread in (album, chat):
        code, out, _ = run(capsys, "--data-dir", str(profile), "show", thread.strip())
        assert code == 0 and SHOWN in out
        assert not {"\x1b", "\x07", "\u202e"} & set(out)
    code, out, _ = run(capsys, "--data-dir", str(profile), "show", chat.strip())
    assert f": {SHOWN}\n      second line\n" in out  # a later line cannot pass for another message
    code, out, _ = run(capsys, "--data-dir", str(profile), "show", album.strip(), "--json")
    [photo] = json.loads(out)["items"]
    assert (photo["caption"], photo["comments"][0]["text"]) == (SHOWN, SHOWN)
    assert photo["camera"] == "nice ]0;PWNED [2J"  # cleaned as a name: hidden characters become spaces
    code, out, _ = run(capsys, "--data-dir", str(profile), "show", chat.strip(), "--json")
    assert [m["text"] for m in json.loads(out)["items"]] == [SHOWN + "\nsecond line"]


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


def _console_script(args: list[str], config_home: Path) -> subprocess.CompletedProcess[str]:
    """The installed `threads-desktop` script on this checkout's code, with
    Python reporting every module it imports (PYTHONPROFILEIMPORTTIME); the
    user's config and data folders under the test's own."""
    script = Path(sys.executable).parent / "threads-desktop"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "threads_desktop"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "PYTHONPROFILEIMPORTTIME": "1",
           "XDG_CONFIG_HOME": str(config_home), "XDG_DATA_HOME": str(config_home.parent / "data")}
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=60, env=env)


def _qt_modules(stderr: str) -> list[str]:
    imported = [line.rsplit("|", 1)[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")]
    assert "threads_desktop.cli" in imported  # the report is there: an empty list means something
    return [name for name in imported if name.split(".")[0] in ("PySide6", "shiboken6", "qasync")]


@pytest.mark.parametrize("args", [["--version"], ["id"], ["ls"], ["ls", "--json"]])
def test_commands_import_no_qt(tmp_path: Path, args: list[str]) -> None:
    """Without --data-dir, the folder is looked up in the app's settings:
    that look-up once imported PySide6.QtCore for every command."""
    result = _console_script(args, tmp_path / "config")
    assert result.returncode == 0, result.stderr[-2000:]
    assert _qt_modules(result.stderr) == []


def test_the_data_folder_chosen_in_the_app_is_used_by_commands_without_qt(tmp_path: Path) -> None:
    from threads_desktop.engine.node import Node
    from threads_desktop.ui.settings import AppSettings

    chosen = tmp_path / "Zoë's photos, 2026"
    config_home = tmp_path / "config"
    settings = AppSettings.from_file(config_home / "Threads" / "Threads Desktop.conf")  # where the app keeps it
    settings.data_dir = chosen
    settings.sync()
    created = _console_script(["create", "album", "Lisbon"], config_home)
    assert created.returncode == 0, created.stderr[-2000:]
    listed = _console_script(["ls", "--json"], config_home)
    assert [t["name"] for t in json.loads(listed.stdout)] == ["Lisbon"]
    assert _qt_modules(listed.stderr) == []
    node = Node.open(chosen)
    try:
        assert [t.name for t in node.list_threads()] == ["Lisbon"]
    finally:
        node.close()
