"""One app per profile: a second launch hands its link to the running app
over a local socket and exits; the running app takes only well-formed,
bounded requests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtNetwork import QLocalSocket
from pytestqt.qtbot import QtBot

from threads_desktop.cli.main import split_link
from threads_desktop.ui.single_instance import (
    MAX_MESSAGE_BYTES,
    InstanceServer,
    encode_request,
    hand_over,
    server_name,
)

LINK = "threads://join/bafyexample?name=Lisbon%20%E2%9C%88%20Porto&addr=%2Fip4%2F127.0.0.1#keys-Ünïcødé"


@pytest.fixture
def server(qapp, tmp_path: Path) -> Iterator[InstanceServer]:  # type: ignore[no-untyped-def]
    instance = InstanceServer(server_name(tmp_path / "profile"))
    assert instance.listen()
    yield instance
    instance.close()


def test_a_link_handed_over_arrives_intact_and_is_acknowledged(qtbot, server: InstanceServer) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(server.link_received, timeout=2000) as received:
        assert hand_over(server.name, LINK) is True
    assert received.args == [LINK]


def test_a_launch_without_a_link_asks_the_app_to_come_to_the_front(qtbot, server: InstanceServer) -> None:  # type: ignore[no-untyped-def]
    links: list[str] = []
    server.link_received.connect(links.append)
    with qtbot.waitSignal(server.activation_requested, timeout=2000):
        assert hand_over(server.name, None) is True
    assert links == []


def test_no_running_app_means_no_handover_and_no_wait(qapp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    assert hand_over(server_name(tmp_path / "nobody"), LINK) is False
    assert time.monotonic() - started < 0.5


def _send_raw(qtbot, server: InstanceServer, payload: bytes) -> QLocalSocket:  # type: ignore[no-untyped-def]
    client = QLocalSocket()
    client.connectToServer(server.name)
    assert client.waitForConnected(1000)
    client.write(payload)
    client.flush()
    return client


@pytest.mark.parametrize("payload", [
    b"x" * (MAX_MESSAGE_BYTES + 100),                              # no newline, over the limit
    b'{"v": 1, "action": "open", "link": "threads://' + b"a" * MAX_MESSAGE_BYTES + b'"}\n',  # a line over it
], ids=["endless", "oversized-line"])
def test_oversized_input_is_dropped_without_an_answer(qtbot, server: InstanceServer, payload: bytes) -> None:  # type: ignore[no-untyped-def]
    links: list[str] = []
    server.link_received.connect(links.append)
    with qtbot.waitSignal(server.request_refused, timeout=2000):
        client = _send_raw(qtbot, server, payload)
    qtbot.waitUntil(lambda: client.state() == QLocalSocket.LocalSocketState.UnconnectedState, timeout=2000)
    assert links == []
    assert b"ok" not in client.readAll().data()


@pytest.mark.parametrize("payload", [
    b"\xff\xfe not utf-8\n",
    b"not json\n",
    b"[1, 2]\n",
    b'{"v": 2, "action": "open", "link": "threads://join/x"}\n',
    b'{"v": 1, "action": "open", "link": "https://example.org/"}\n',
    b'{"v": 1, "action": "open", "link": "threads://join/x\\u0000y"}\n',
    b'{"v": 1, "action": "open", "link": 42}\n',
    b'{"v": 1, "action": "format-disk"}\n',
])
def test_garbage_is_refused_and_changes_nothing(qtbot, server: InstanceServer, payload: bytes) -> None:  # type: ignore[no-untyped-def]
    links: list[str] = []
    activations: list[bool] = []
    server.link_received.connect(links.append)
    server.activation_requested.connect(lambda: activations.append(True))
    with qtbot.waitSignal(server.request_refused, timeout=2000):
        client = _send_raw(qtbot, server, payload)
    qtbot.waitUntil(lambda: client.bytesAvailable() > 0
                    or client.state() == QLocalSocket.LocalSocketState.UnconnectedState, timeout=2000)
    assert client.readAll().data() == b'{"ok": false}\n'
    assert links == [] and activations == []


def test_a_refused_link_is_not_reported_as_handed_over(qtbot, server: InstanceServer) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(server.request_refused, timeout=2000):
        assert hand_over(server.name, "mailto:someone@example.org") is False


def test_a_request_split_across_writes_is_put_back_together(qtbot, server: InstanceServer) -> None:  # type: ignore[no-untyped-def]
    request = encode_request(LINK)
    client = _send_raw(qtbot, server, request[:10])
    # The first part is read on its own before the rest is sent.
    qtbot.waitUntil(lambda: [len(c._buffer) for c in server._open] == [10], timeout=2000)
    with qtbot.waitSignal(server.link_received, timeout=2000) as received:
        client.write(request[10:])
        client.flush()
    assert received.args == [LINK]


@pytest.mark.skipif(sys.platform == "win32", reason="a stale name is a socket file on Unix only")
def test_a_stale_name_left_by_a_crash_is_replaced(qapp, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    name = server_name(tmp_path / "crashed")
    crashed = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    crashed.bind(name)  # a socket file nobody listens on any more, as a killed app leaves it
    crashed.close()
    try:
        assert os.path.exists(name)
        assert hand_over(name, LINK) is False
        instance = InstanceServer(name)
        assert instance.listen()
        with qtbot.waitSignal(instance.link_received, timeout=2000) as received:
            assert hand_over(name, LINK) is True
        assert received.args == [LINK]
        instance.close()
    finally:
        if os.path.exists(name):
            os.unlink(name)


def test_the_server_name_follows_the_resolved_profile_folder(tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    profile.mkdir()
    (tmp_path / "alias").symlink_to(profile)
    assert server_name(profile) == server_name(tmp_path / "alias") == server_name(tmp_path / "x" / ".." / "profile")
    assert server_name(profile) != server_name(tmp_path / "other")
    if sys.platform != "win32":  # a path in the user's own runtime folder, never the shared /tmp
        folder = Path(server_name(profile)).parent
        assert folder.stat().st_uid == os.getuid() and folder.stat().st_mode & 0o077 == 0


def test_the_command_line_takes_a_link_in_place_of_a_command() -> None:
    assert split_link(["--data-dir", "/p", LINK]) == (["--data-dir", "/p"], LINK)
    assert split_link([LINK, "--no-mdns"]) == (["--no-mdns"], LINK)
    assert split_link(["--data-dir=/p", "--listen", "/ip4/127.0.0.1/tcp/0", LINK]) == (
        ["--data-dir=/p", "--listen", "/ip4/127.0.0.1/tcp/0"], LINK)
    assert split_link(["--data-dir", "threads", "ls"]) == (["--data-dir", "threads", "ls"], None)
    assert split_link(["join", LINK]) == (["join", LINK], None)  # the CLI's own join command keeps its link
    assert split_link([]) == ([], None)


def test_a_second_launch_hands_its_link_to_the_running_app_and_exits(
        qtbot, server: InstanceServer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`threads-desktop --data-dir X threads://join/...` as a real process,
    against the server the running app would have for X."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "config")}
    with qtbot.waitSignal(server.link_received, timeout=30_000) as received:
        started = time.monotonic()
        launch = subprocess.Popen([sys.executable, "-m", "threads_desktop", "--data-dir", str(tmp_path / "profile"),
                                   LINK], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    qtbot.waitUntil(lambda: launch.poll() is not None, timeout=30_000)
    elapsed = time.monotonic() - started
    _, stderr = launch.communicate()
    assert launch.returncode == 0, stderr.decode()
    assert received.args == [LINK]
    assert not (tmp_path / "profile").exists()  # the engine never started: the profile was not even created
    print(f"second launch handed over and exited in {elapsed:.2f} s")


def _without_display(tmp_path: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items()
           if name not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    return {**env, "XDG_CONFIG_HOME": str(tmp_path / "config")}


def test_a_link_opened_without_a_display_still_reaches_the_running_app(
        qtbot: QtBot, server: InstanceServer, tmp_path: Path) -> None:
    with qtbot.waitSignal(server.link_received, timeout=30_000) as received:
        launch = subprocess.Popen([sys.executable, "-m", "threads_desktop", "--data-dir", str(tmp_path / "profile"),
                                   LINK], env=_without_display(tmp_path), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
    qtbot.waitUntil(lambda: launch.poll() is not None, timeout=30_000)
    _, stderr = launch.communicate()
    assert launch.returncode == 0, stderr.decode()  # not Qt's abort (-6) for want of a display
    assert received.args == [LINK]
    assert not (tmp_path / "profile").exists()


def test_without_a_display_or_a_running_app_the_launch_says_so_and_fails(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "threads_desktop", "--data-dir", str(tmp_path / "profile"), LINK],
                            env=_without_display(tmp_path), capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "threads-desktop: cannot open the app: there is no display here (DISPLAY and WAYLAND_DISPLAY not set). "
        "Start it from your desktop; commands such as `threads-desktop join LINK` work without a display.")
    assert not (tmp_path / "profile").exists()


def test_what_counts_as_no_display() -> None:
    from threads_desktop.ui.display import missing_display

    assert missing_display({}, "linux") is not None
    assert missing_display({"DISPLAY": ":0"}, "linux") is None
    assert missing_display({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert missing_display({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert missing_display({"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"}, "linux") == (
        "there is no display here (DISPLAY not set)")
    assert missing_display({"QT_QPA_PLATFORM": "wayland;xcb", "DISPLAY": ":0"}, "linux") is None
    assert missing_display({}, "win32") is None
