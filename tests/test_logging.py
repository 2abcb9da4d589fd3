"""The log file in the data folder: private modes, rotation, and no secrets
(link fragments, keys) in what is written; `serve` keeps one too."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from threads_desktop import logs
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node
from threads_desktop.logs import LoggingSetup, log_path, recent_log_lines, redact, setup_logging

log = logging.getLogger("threads_desktop.tests.logging")


@pytest.fixture
def restore_logging() -> Iterator[list[LoggingSetup]]:
    """setup_logging changes process-wide loggers: put them back after."""
    names = ("", "threads_desktop", "libp2p")
    levels = {name: (logging.getLogger(name).level, logging.getLogger(name).propagate) for name in names}
    setups: list[LoggingSetup] = []
    yield setups
    for setup in setups:
        setup.close()
    for name, (level, propagate) in levels.items():
        logging.getLogger(name).setLevel(level)
        logging.getLogger(name).propagate = propagate


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_log_is_a_0600_file_in_a_0700_folder_of_the_data_folder(
        tmp_path: Path, restore_logging: list[LoggingSetup]) -> None:
    old_umask = os.umask(0o022)  # the usual one: files would be world-readable
    try:
        restore_logging.append(setup_logging(tmp_path / "profile"))
        log.info("hello from the test")
    finally:
        os.umask(old_umask)
    path = tmp_path / "profile" / "logs" / "threads-desktop.log"
    assert log_path(tmp_path / "profile") == path
    assert _mode(path.parent) == 0o700 and _mode(path) == 0o600 and _mode(tmp_path / "profile") == 0o700
    text = path.read_text()
    assert "INFO threads_desktop.logs: threads-desktop 0.1.0 started" in text
    assert "INFO threads_desktop.tests.logging: hello from the test" in text


def test_a_loose_log_file_is_tightened_to_0600(tmp_path: Path, restore_logging: list[LoggingSetup]) -> None:
    path = log_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("older line\n")
    path.chmod(0o644)
    restore_logging.append(setup_logging(tmp_path))
    assert _mode(path) == 0o600 and path.read_text().startswith("older line\n")


def test_the_log_rotates_keeping_five_older_files_all_0600(
        tmp_path: Path, restore_logging: list[LoggingSetup], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "MAX_BYTES", 2_000)
    restore_logging.append(setup_logging(tmp_path))
    for n in range(400):
        log.info("line %d %s", n, "x" * 40)
    path = log_path(tmp_path)
    rotated = sorted(path.parent.iterdir())
    assert [p.name for p in rotated] == ["threads-desktop.log"] + [f"threads-desktop.log.{i}" for i in range(1, 6)]
    assert all(_mode(p) == 0o600 and p.stat().st_size <= 2_000 for p in rotated)
    assert "line 399 " in path.read_text()
    # The newest lines, across the last rotation, in order.
    lines = recent_log_lines(tmp_path, 50)
    assert len(lines) == 50 and lines[-1].endswith("line 399 " + "x" * 40)
    numbers = [int(line.split("line ")[1].split()[0]) for line in lines]
    assert numbers == list(range(350, 400))


def test_invite_links_and_keys_never_reach_the_file(
        tmp_path: Path, restore_logging: list[LoggingSetup], open_node) -> None:  # type: ignore[no-untyped-def]
    node: Node = open_node("profile")
    album = node.create_thread(ThreadKind.ALBUM, "Lisbon").thread_id
    link = node.invite(album, Role.WRITE).to_uri()
    fragment = link.split("#", 1)[1]
    master_key = (tmp_path / "profile" / "master.key").read_bytes()
    restore_logging.append(setup_logging(tmp_path / "logged"))

    log.info("joining %s", link)                                    # as an argument
    log.warning(f"bad link {link!r} in argv ['join', '{link}']")    # in the message itself
    log.info("key %s and seed %r", master_key.hex(), master_key)   # hex and a bytes repr
    log.info("fragment alone: %s", fragment)
    try:
        raise ValueError(f"cannot join {link}")
    except ValueError:
        log.exception("join failed")                                # in a traceback
    log.info("peer %s thread %s", node.identity.peer_id, album)

    text = log_path(tmp_path / "logged").read_text()
    for secret in (fragment, master_key.hex(), fragment[:24], master_key.hex()[:32]):
        assert secret not in text
    assert str(master_key)[2:20] not in text
    assert "Lisbon" not in text  # the link's query names the thread
    assert text.count(f"threads://join/{album}?<redacted>#<redacted>") == 4  # the ID says which link it was
    assert "ValueError: cannot join threads://join/" in text
    # What is public stays readable: peer IDs and thread IDs say who and what.
    assert f"peer {node.identity.peer_id} thread {album}" in text


def test_py_libp2p_churn_stays_out_of_stderr_after_its_import_resets_its_logger_and_critical_reaches_the_file(
        tmp_path: Path, restore_logging: list[LoggingSetup], capfd: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from libp2p.utils.logging import setup_logging as libp2p_import_time_setup

    monkeypatch.delenv("LIBP2P_DEBUG", raising=False)
    restore_logging.append(setup_logging(tmp_path))
    libp2p_import_time_setup()  # what importing libp2p does (libp2p/__init__.py:141), after ours as in the app
    logs.quiet_libp2p()  # where the network starts (serving.py)
    logging.getLogger("libp2p.network.swarm").error("fail to upgrade mux for peer 12D3KooWChurn")
    logging.getLogger("libp2p.network.swarm").critical("the swarm cannot go on")

    assert "fail to upgrade mux" not in capfd.readouterr().err
    text = log_path(tmp_path).read_text()
    assert "fail to upgrade mux" not in text
    assert "the swarm cannot go on" in text  # what py-libp2p calls critical is kept, in our log


def test_libp2p_debug_keeps_py_libp2ps_own_logging(
        restore_logging: list[LoggingSetup], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIBP2P_DEBUG", "DEBUG")  # someone debugging the network asked for it
    logging.getLogger("libp2p").setLevel(logging.DEBUG)
    logs.quiet_libp2p()
    assert logging.getLogger("libp2p").level == logging.DEBUG


def test_redact_keeps_public_ids_and_addresses() -> None:
    peer = "12D3KooWDpJ7As7BWAwRMfu1VU2WQ8QxSZdzBh2zrKq6mLbZ9NbR"
    line = (f"sync with {peer} at /ip4/127.0.0.1/tcp/4141/p2p/{peer} failed: "
            "thread bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku in /home/someone/.local/share")
    assert redact(line) == line
    assert redact("key " + "ab" * 16 + " end") == "key <redacted> end"
    assert redact("x pWJ2AWRyb2xlZXdyaXRlZmludml0ZVggAAAA_-zz y") == "x <redacted> y"
    once = redact("see threads://join/bafyabc?name=Trip#pWJ2AWRy and " + "cd" * 20)
    assert once == "see threads://join/bafyabc?<redacted>#<redacted> and <redacted>"
    assert redact(once) == once  # the diagnostics redact the file's lines again


def test_serve_writes_its_log_in_the_data_folder(tmp_path: Path) -> None:
    data_dir = tmp_path / "follower"
    process = subprocess.Popen(
        [sys.executable, "-m", "threads_desktop", "--data-dir", str(data_dir), "serve",
         "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        serving = json.loads(process.stdout.readline())  # the line serve prints once it listens
        assert serving["serving"].startswith("12D3KooW")
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    path = log_path(data_dir)
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    assert "threads-desktop 0.1.0 started" in path.read_text()
    assert "threads-desktop 0.1.0 started" in stderr  # and the journal still gets everything


def test_an_error_inside_a_nursery_reaches_the_user_as_its_one_plain_message(tmp_path: Path) -> None:
    """serve's control socket fails inside a trio nursery (a file is in its
    way): one line on stderr, the traceback only in the log."""
    data_dir = tmp_path / "p"
    data_dir.mkdir()
    (data_dir / "control.sock").write_text("not a socket")
    result = subprocess.run([sys.executable, "-m", "threads_desktop", "--data-dir", str(data_dir), "serve",
                             "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "ExceptionGroup" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"threads-desktop: {data_dir / 'control.sock'} is in the way of the control socket (it is not a socket)")
    logged = log_path(data_dir).read_text()
    assert "Traceback" in logged and "is in the way of the control socket" in logged


TEARDOWN_SCRIPT = """
import gc, logging, sys
from pathlib import Path
from threads_desktop.logs import setup_logging

class LogsWhenDestroyed:  # as an asyncio task whose error nobody read
    def __del__(self):
        logging.getLogger("asyncio").error("Task exception was never retrieved")

setup_logging(Path(sys.argv[1]))
gc.disable()  # as the app's collector leaves it: the cycle lives until teardown
cycle = LogsWhenDestroyed()
cycle.me = cycle
del cycle
"""


def test_a_record_logged_during_interpreter_teardown_is_no_logging_error(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-c", TEARDOWN_SCRIPT, str(tmp_path / "p")], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0
    assert "Logging error" not in result.stderr and "NameError" not in result.stderr, result.stderr
    assert result.stderr.count("Task exception was never retrieved") == 1  # the console still says it


DISK_FULL_SCRIPT = """
import logging, resource, signal, sys
from pathlib import Path
from threads_desktop.logs import log_path, setup_logging

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
setup_logging(Path(sys.argv[1]))
log = logging.getLogger("threads_desktop.test")
path = log_path(Path(sys.argv[1]))
_, hard = resource.getrlimit(resource.RLIMIT_FSIZE)

def no_room() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (path.stat().st_size, hard))

no_room()
for n in range(20):
    log.warning("cannot be written %d", n)
resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))  # room again
log.warning("written again")
no_room()
for n in range(20):
    log.warning("cannot be written either %d", n)
"""


def test_a_log_that_cannot_be_written_says_so_once_until_it_can_again(tmp_path: Path) -> None:
    """A full disk (here: a file size limit, EFBIG) must not turn every log
    line into a traceback on stderr."""
    result = subprocess.run([sys.executable, "-c", DISK_FULL_SCRIPT, str(tmp_path / "p")], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Logging error" not in result.stderr
    said = [line for line in result.stderr.splitlines() if "cannot write the log" in line]
    assert said == [f"threads-desktop: cannot write the log {log_path(tmp_path / 'p')} (File too large); "
                    "it is not written until that works again"] * 2
    assert "written again" in log_path(tmp_path / "p").read_text()
