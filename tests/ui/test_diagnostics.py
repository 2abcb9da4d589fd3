"""Copy Diagnostics: the report on the clipboard says which versions run and
how the network is, and never holds keys, invite link fragments, thread
names or message text, even when the log does."""

from __future__ import annotations

import logging
import platform
from collections.abc import Iterator
from pathlib import Path

import PySide6
import pytest
import qasync
from PySide6.QtCore import qVersion
from PySide6.QtGui import QGuiApplication

from tests.ui.waiting import wait_for
from threads_desktop import __version__
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.logs import LoggingSetup, setup_logging
from threads_desktop.ui.diagnostics import CopyDiagnosticsAction
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.operations.diagnostics import scrub

log = logging.getLogger("threads_desktop.tests.diagnostics")


@pytest.fixture
def profile_logging(tmp_path: Path) -> Iterator[LoggingSetup]:
    """The profile's log file, as the app sets it up; loggers put back after."""
    levels = {name: logging.getLogger(name).level for name in ("", "threads_desktop", "libp2p")}
    setup = setup_logging(tmp_path / "profile")
    yield setup
    setup.close()
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def _call(qtbot, runtime: EngineRuntime, fn, *args):  # type: ignore[no-untyped-def]
    return wait_for(qtbot, runtime.call(fn, *args), timeout=10_000)


def _secrets(node: Node) -> tuple[str, str, str]:
    """An album, a chat with a message and a display name; returns the
    album's invite link, the message text and the names joined."""
    node.set_display_name("Marguerite Q")
    album = node.create_thread(ThreadKind.ALBUM, "Lisbon honeymoon").thread_id
    chat = node.create_thread(ThreadKind.CHAT, "Family Secrets").thread_id
    node.chat(chat).post("the safe code is 4471")
    return node.invite(album, Role.WRITE).to_uri(), "the safe code is 4471", "Lisbon honeymoon|Family Secrets"


def _copy(qtbot, action: CopyDiagnosticsAction) -> str:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(action.copied, timeout=10_000) as copied:
        action.trigger()
    text = copied.args[0]
    assert QGuiApplication.clipboard().text() == text
    return str(text)


def test_diagnostics_hold_versions_and_the_profile_but_no_keys_links_names_or_messages(
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, tmp_path: Path,  # type: ignore[no-untyped-def]
        profile_logging: LoggingSetup) -> None:
    link, message, names = _call(qtbot, runtime, _secrets)
    # A careless log line with every secret in it: the report must still hold none.
    log.warning("joined %s; album %s, chat %s said %r", link, *names.split("|"), message)
    master_key = (tmp_path / "profile" / "master.key").read_bytes()
    peer_id = _call(qtbot, runtime, lambda node: str(node.identity.peer_id))

    action = CopyDiagnosticsAction(EngineClient(runtime, qt_loop))
    text = _copy(qtbot, action)

    assert f"Version: threads-desktop {__version__}" in text
    assert f"Python: {platform.python_version()}" in text
    assert f"Qt: {qVersion()}" in text and f"PySide6: {PySide6.__version__}" in text
    assert f"Data folder: {tmp_path / 'profile'}" in text
    assert f"Peer ID: {peer_id}" in text
    assert "Network: offline" in text  # this engine runs no network
    assert "Threads: 2 (2 readable" in text
    assert "threads-desktop 0.1.0 started" in text  # the log's lines are there...
    assert "joined threads://join/" in text and "<name>" in text and "<text>" in text  # ...this one, cleaned

    fragment = link.split("#", 1)[1]
    for secret in (master_key.hex(), master_key.hex()[:32], fragment, fragment[:20], message, "4471",
                   "Lisbon", "honeymoon", "Family Secrets", "Marguerite"):
        assert secret.lower() not in text.lower(), secret


def test_diagnostics_show_the_network_when_online(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, two_app_engines: tuple[EngineRuntime, EngineRuntime]) -> None:
    a, _b = two_app_engines
    text = _copy(qtbot, CopyDiagnosticsAction(EngineClient(a, qt_loop)))
    assert "Network: online, " in text
    assert "Listening on: /ip4/127.0.0.1/tcp/" in text


def test_a_failed_report_says_why_and_copies_nothing(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime) -> None:
    QGuiApplication.clipboard().setText("before")
    action = CopyDiagnosticsAction(EngineClient(runtime, qt_loop))
    runtime.stop()  # the engine is gone (the app is closing)
    with qtbot.waitSignal(action.failed, timeout=10_000) as failed:
        action.trigger()
    assert failed.args[0].startswith("Could not gather diagnostics: ")
    assert QGuiApplication.clipboard().text() == "before"


def test_names_are_scrubbed_as_whole_words_in_any_case() -> None:
    lines = ["Alert: al joined AL's album Al", "the album (Summer 2024) synced"]
    assert scrub(lines, ["Al", "(Summer 2024)", "x"]) == [
        "Alert: <name> joined <name>'s album <name>", "the album <name> synced"]
