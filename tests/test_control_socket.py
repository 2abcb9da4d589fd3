"""The control socket: CLI commands reach the process serving a profile and
print what they would have printed when run directly."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import stat
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.engine.modules.images import image_bytes
from threads_desktop.cli.commands import forwarding_handler
from threads_desktop.cli.control import forward_to_running
from threads_desktop.cli.main import main
from threads_desktop.control_socket import (
    CONTROL_SOCKET_NAME,
    ControlReply,
    ControlRequest,
    Handler,
    call_control_socket,
    serve_control_socket,
)
from threads_desktop.engine.core.errors import ProfileError, ProfileLockedError
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node

DEADLINE = 60.0


class Server:
    """A profile served on a trio thread of its own, as `serve` runs it: the
    node is opened, used and closed on that thread."""

    def __init__(self, data_dir: Path, handler: Callable[[Node], Handler] = forwarding_handler,
                 **options: Any) -> None:
        self.data_dir = data_dir
        self._options = options  # serve_control_socket's limits
        self.path = data_dir / CONTROL_SOCKET_NAME
        self._handler = handler
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._scope: trio.CancelScope | None = None
        self._thread = threading.Thread(target=self._run, name="served")

    def start(self) -> Server:
        self._thread.start()
        assert self._ready.wait(DEADLINE), "the server did not start"
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._thread.is_alive() and self._token is not None and self._scope is not None:
            self._token.run_sync_soon(self._scope.cancel)
        self._thread.join(DEADLINE)
        assert not self._thread.is_alive()
        if self._error is not None:
            raise self._error

    def call(self, *argv: str, cwd: Path | None = None) -> ControlReply:
        return call_control_socket(self.path, argv, timeout=DEADLINE, cwd=cwd)

    def _run(self) -> None:
        try:
            trio.run(self._main)
        except BaseException as exc:  # noqa: BLE001 - re-raised on the test's thread
            self._error = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        node = Node.open(self.data_dir)
        try:
            async with trio.open_nursery() as nursery:
                self._scope = nursery.cancel_scope
                self._token = trio.lowlevel.current_trio_token()
                await nursery.start(partial(serve_control_socket, self.path, self._handler(node), **self._options))
                self._ready.set()
        finally:
            node.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Server]:
    server = Server(tmp_path / "p").start()
    yield server
    server.stop()


def direct(capsys: pytest.CaptureFixture[str], data_dir: Path, *argv: str) -> ControlReply:
    try:
        code = main(["--data-dir", str(data_dir), *argv])
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return ControlReply(code, out, err)


def raw_exchange(path: Path, payload: bytes) -> ControlReply | None:
    """Send raw bytes, half-close, and read a reply if one comes."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(DEADLINE)
        sock.connect(str(path))
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        # Read exactly one frame: a server that did not read all we sent
        # resets the connection after its reply.
        header = read_exactly(sock, 4)
        if header is None:
            return None
        body = read_exactly(sock, struct.unpack(">I", header)[0])
    assert body is not None
    reply = json.loads(body)
    return ControlReply(reply["exit_code"], reply["stdout"], reply["stderr"])


def read_exactly(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def frame(value: object) -> bytes:
    body = json.dumps(value).encode()
    return struct.pack(">I", len(body)) + body


# --- commands ------------------------------------------------------------------------


def test_commands_print_what_they_print_when_run_directly(served: Server, capsys: pytest.CaptureFixture[str]) -> None:
    album = served.call("create", "album", "Summer 2026")
    assert album.exit_code == 0 and album.stdout.strip().startswith("b") and album.stderr == ""
    assert served.call("--data-dir", "/elsewhere", "create", "chat", "Family").exit_code == 0  # ignored
    forwarded = [served.call(*argv) for argv in (["ls", "--json"], ["ls"], ["id"], ["members", album.stdout.strip()])]
    assert [(t["kind"], t["name"]) for t in json.loads(forwarded[0].stdout)] == [("album", "Summer 2026"),
                                                                                  ("chat", "Family")]
    served.stop()
    assert forwarded == [direct(capsys, served.data_dir, *argv)
                         for argv in (["ls", "--json"], ["ls"], ["id"], ["members", album.stdout.strip()])]


def test_errors_have_the_exit_code_and_message_of_a_direct_run(
        tmp_path: Path, served: Server, capsys: pytest.CaptureFixture[str]) -> None:
    other = Node.open(tmp_path / "other")
    try:
        unknown = str(other.create_thread(ThreadKind.CHAT, "Elsewhere").thread_id)
    finally:
        other.close()
    failing = [["show", unknown], ["say", "not-a-thread", "hi"], ["create", "planet", "X"], ["create", "album", " "]]
    forwarded = [served.call(*argv) for argv in failing]
    assert [r.exit_code for r in forwarded] == [1, 1, 2, 1]
    assert forwarded[0].stderr.startswith("threads-desktop: ") and forwarded[0].stdout == ""
    assert "invalid choice: 'planet'" in forwarded[2].stderr
    served.stop()
    assert forwarded == [direct(capsys, served.data_dir, *argv) for argv in failing]


def test_commands_that_make_no_sense_forwarded_are_refused(served: Server) -> None:
    for argv in ([], ["bench", "log"]):
        reply = served.call(*argv)
        assert reply.exit_code == 2 and reply.stdout == "" and reply.stderr.startswith("threads-desktop: ")
    assert served.call("ls").exit_code == 0


def test_relative_paths_are_the_clients(tmp_path: Path, served: Server) -> None:
    client_dir = tmp_path / "client"
    client_dir.mkdir()
    (client_dir / "beach.jpg").write_bytes(image_bytes("JPEG", taken="2024:07:14 18:30:05"))
    album = served.call("create", "album", "Trip").stdout.strip()

    added = served.call("add", album, "beach.jpg", cwd=client_dir)
    assert added.exit_code == 0, added.stderr
    assert len(added.stdout.split()) == 1 and "1/1" in added.stderr
    shown = json.loads(served.call("show", album, "--json").stdout)
    assert [item["name"] for item in shown["items"]] == ["beach.jpg"]

    invite = served.call("invite", album, "--qr", "invite.png", cwd=client_dir)
    assert invite.exit_code == 0, invite.stderr
    assert (client_dir / "invite.png").read_bytes().startswith(b"\x89PNG")
    assert not Path("invite.png").exists()  # not the serving process' directory


def test_a_forwarded_add_of_a_fifo_ends_at_once_and_the_server_carries_on(tmp_path: Path, served: Server) -> None:
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    album = served.call("create", "album", "Pipes").stdout.strip()
    # Should the server block on the FIFO, a writer wakes it after the limit.
    wake = threading.Timer(DEADLINE / 4, lambda: os.close(os.open(fifo, os.O_RDWR)))
    wake.start()
    started = time.monotonic()
    try:
        added = served.call("add", album, str(fifo))
    finally:
        wake.cancel()
    assert time.monotonic() - started < DEADLINE / 8
    assert added.exit_code == 1 and "not added: pipe.jpg: not a regular file (a pipe)" in added.stderr
    assert served.call("ls").exit_code == 0


# --- the protocol ---------------------------------------------------------------------


def test_malformed_requests_are_answered_and_the_server_carries_on(served: Server) -> None:
    bad = [
        b"\x00\x00\x00\x05hello",  # not JSON
        b"\xff\xff\xff\xff",  # a frame of 4 GiB
        struct.pack(">I", 64 * 1024 + 1),
        b"\x00\x00\x00\x02\xff\xfe",  # not UTF-8
        frame([1, 2]),
        frame({"argv": "ls"}),
        frame({"argv": ["ls", 3]}),
        frame({"argv": ["x"] * 257}),
        frame({"argv": ["ls"], "cwd": "relative/dir"}),
        frame({"argv": ["ls"], "cwd": 7}),
        b"[" * 1000 + b"]" * 1000,  # garbage: read as a length, then too large
        struct.pack(">I", 20_000) + b"[" * 20_000,  # nested too deep for a reply-less crash
    ]
    for payload in bad:
        reply = raw_exchange(served.path, payload)
        assert reply is not None and reply.exit_code == 2 and "threads-desktop: " in reply.stderr, payload[:16]
    for payload in (b"", b"\x00\x00", b"\x00\x00\x00\x10{}"):  # closed before a whole request
        assert raw_exchange(served.path, payload) is None
    assert raw_exchange(served.path, frame({"argv": ["ls", "--json"], "cwd": None})) == ControlReply(0, "[]\n", "")
    assert served.call("ls", "--json").stdout == "[]\n"


def test_connections_beyond_the_limit_are_refused_at_once_and_the_server_carries_on(tmp_path: Path) -> None:
    server = Server(tmp_path / "p", max_connections=2).start()
    try:
        silent = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(2)]
        for sock in silent:
            sock.connect(str(server.path))
        refused = raw_exchange(server.path, frame({"argv": ["ls", "--json"], "cwd": None}))
        assert refused is not None and refused.exit_code == 2 and "too many commands at once" in refused.stderr
        for sock in silent:
            sock.close()
        deadline = time.monotonic() + DEADLINE
        while (reply := raw_exchange(server.path, frame({"argv": ["ls", "--json"], "cwd": None}))) != ControlReply(
                0, "[]\n", "") and time.monotonic() < deadline:  # until the server saw them go
            assert reply is not None and "too many commands at once" in reply.stderr
    finally:
        server.stop()


def test_a_request_that_stalls_is_dropped_at_its_deadline(tmp_path: Path) -> None:
    server = Server(tmp_path / "p", request_seconds=1.0).start()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(DEADLINE)
            sock.connect(str(server.path))
            sock.sendall(struct.pack(">I", 100) + b'{"argv": ')  # and nothing more, the socket left open
            started = time.monotonic()
            assert sock.recv(1) == b""  # hung up on, without a reply
            assert time.monotonic() - started < 1.0 + 2.0
        assert server.call("ls", "--json").stdout == "[]\n"
    finally:
        server.stop()


def test_a_handler_that_awaits_holds_no_other_and_a_failing_one_stops_nothing(tmp_path: Path) -> None:
    """A long command (an import awaiting its photos) must not keep `ls`
    waiting: the slow request ends only once the quick one has been served."""
    slow_started, quick_served = trio.Event(), trio.Event()

    def handler(_node: Node) -> Handler:
        async def handle(request: ControlRequest) -> ControlReply:
            if request.argv == ["slow"]:
                slow_started.set()
                with trio.fail_after(DEADLINE):
                    await quick_served.wait()
            elif request.argv == ["quick"]:
                with trio.fail_after(DEADLINE):
                    await slow_started.wait()
                quick_served.set()
            elif request.argv == ["boom"]:
                raise RuntimeError("boom")
            return ControlReply(0, " ".join(request.argv), "")

        return handle

    server = Server(tmp_path / "p", handler).start()
    try:
        replies: queue.Queue[ControlReply] = queue.Queue()
        slow = threading.Thread(target=lambda: replies.put(server.call("slow")))
        slow.start()
        assert server.call("quick").stdout == "quick"
        slow.join(DEADLINE)
        assert replies.get_nowait() == ControlReply(0, "slow", "")
        failed = server.call("boom")
        assert failed.exit_code == 1 and "RuntimeError" in failed.stderr
        assert server.call("still", "here").stdout == "still here"
    finally:
        server.stop()


def test_other_users_are_refused(served: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "getuid", lambda: os.geteuid() + 4242)  # as if the client were someone else
    reply = served.call("ls")
    monkeypatch.undo()
    assert reply.exit_code == 2 and "own user" in reply.stderr


# --- the socket file ------------------------------------------------------------------


def test_the_socket_is_private_and_removed_on_shutdown(tmp_path: Path) -> None:
    server = Server(tmp_path / "p").start()
    mode = os.stat(server.path).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
    server.stop()
    assert not server.path.exists()


def test_a_stale_socket_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "p" / CONTROL_SOCKET_NAME
    path.parent.mkdir(mode=0o700)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(str(path))  # left behind, as by a process that was killed
    assert path.exists()
    with pytest.raises(ProfileLockedError, match="does not accept commands"):
        call_control_socket(path, ["ls"])
    server = Server(tmp_path / "p").start()
    try:
        assert server.call("ls", "--json").stdout == "[]\n"
    finally:
        server.stop()


def test_a_live_socket_or_another_file_is_not_taken_over(tmp_path: Path) -> None:
    path = tmp_path / CONTROL_SOCKET_NAME

    async def never(_request: ControlRequest) -> ControlReply:
        raise AssertionError

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as live:
        live.bind(str(path))
        live.listen()
        with pytest.raises(ProfileError, match="already answers"):
            trio.run(serve_control_socket, path, never)
    path.unlink()
    path.write_text("not a socket")
    with pytest.raises(ProfileError, match="not a socket"):
        trio.run(serve_control_socket, path, never)


def test_a_locked_profile_without_a_server_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locked = ProfileLockedError("the profile in X is in use by process 7")
    assert forward_to_running(tmp_path, ["ls"], locked) == 1
    assert capsys.readouterr().err == "threads-desktop: the profile in X is in use by process 7\n"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(str(tmp_path / CONTROL_SOCKET_NAME))
    assert forward_to_running(tmp_path, ["ls"], locked) == 1
    assert "process 7, which does not accept commands" in capsys.readouterr().err


@pytest.mark.parametrize(("command", "words"), [
    (["sync", "--timeout", "5"],
     "this profile is served by a running process (the app, or serve), which syncs it by itself"),
    (["serve", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns"], "this profile is already served by a running process"),
])
def test_sync_or_serve_of_a_served_profile_says_it_is_served(served: Server, command: list[str], words: str) -> None:
    result = cli("--data-dir", str(served.data_dir), *command)  # serve sets up logging: a process of its own
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith(f"threads-desktop: {words}")


def test_commands_started_together_on_an_unserved_profile_wait_for_each_other(tmp_path: Path) -> None:
    data_dir = tmp_path / "p"
    thread = cli("--data-dir", str(data_dir), "create", "chat", "Family").stdout.strip()
    commands = [subprocess.Popen([sys.executable, "-m", "threads_desktop", "--data-dir", str(data_dir),
                                  "say", thread, f"message {n}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True) for n in range(10)]
    results = [(command.wait(timeout=DEADLINE), command.communicate()) for command in commands]
    assert [code for code, _ in results] == [0] * 10, [err for _, (_, err) in results]
    shown = json.loads(cli("--data-dir", str(data_dir), "show", thread, "--json").stdout)
    assert sorted(item["text"] for item in shown["items"]) == sorted(f"message {n}" for n in range(10))


def test_a_profile_held_longer_than_the_wait_is_refused_saying_by_whom(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from threads_desktop.cli import control as cli_control

    monkeypatch.setattr(cli_control, "LOCK_WAIT_SECONDS", 0.5)
    node = Node.open(tmp_path / "p")
    try:
        started = time.monotonic()
        reply = direct(capsys, tmp_path / "p", "ls")
        waited = time.monotonic() - started
    finally:
        node.close()
    in_use = f"threads-desktop: the profile in {(tmp_path / 'p').resolve()} is in use by process {os.getpid()}"
    assert reply.exit_code == 1
    assert reply.stderr == f"{in_use}; waiting for it (up to 0.5 s)\n{in_use}\n"  # said while waiting, then why
    assert 0.5 <= waited < DEADLINE


def test_a_profile_folder_deeper_than_a_socket_path_holds_is_served_and_reached(tmp_path: Path) -> None:
    data_dir = tmp_path / ("d" * (120 - len(os.fsencode(tmp_path))))
    assert len(os.fsencode(data_dir / CONTROL_SOCKET_NAME)) > 108  # sun_path's size
    server = Server(data_dir).start()
    try:
        created = cli("--data-dir", str(data_dir), "create", "album", "Trip")
        assert created.returncode == 0, created.stderr
        assert stat.S_ISSOCK(os.lstat(server.path).st_mode)  # in the profile folder, where it always is
        listed = cli("--data-dir", str(data_dir), "ls", "--json")
        assert [t["name"] for t in json.loads(listed.stdout)] == ["Trip"]
    finally:
        server.stop()
    assert not server.path.exists()


def test_ctrl_c_on_a_forwarded_add_stops_the_import_and_says_how_many_were_added(tmp_path: Path) -> None:
    folder = tmp_path / "camera"
    folder.mkdir()
    for n in range(12):
        (folder / f"{n:02}.jpg").write_bytes(image_bytes("JPEG", seed=n))
    arrived = threading.Event()

    def handler(node: Node) -> Handler:
        forward = forwarding_handler(node)

        async def handle(request: ControlRequest) -> ControlReply:
            if "add" in request.argv:
                arrived.set()
                # Hold the import until the client's Ctrl+C is visible, so it
                # is seen at the first step, whatever the machine's speed.
                with trio.fail_after(DEADLINE):
                    while not request.stop_requested():
                        await trio.sleep(0.01)
            return await forward(request)

        return handle

    data_dir = tmp_path / "p"
    node = Node.open(data_dir)
    album = str(node.create_thread(ThreadKind.ALBUM, "Trip").thread_id)
    node.close()
    server = Server(data_dir, handler).start()
    try:
        client = subprocess.Popen([sys.executable, "-m", "threads_desktop", "--data-dir", str(data_dir), "add",
                                   album, str(folder)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert arrived.wait(DEADLINE)
        client.send_signal(signal.SIGINT)
        out, err = client.communicate(timeout=DEADLINE)
        shown = json.loads(server.call("show", album, "--json").stdout)
    finally:
        server.stop()
    assert client.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    added = out.split()
    assert 1 <= len(added) < 12
    assert f"stopped: {len(added)} of 12 photos added; add the same photos again to add the rest" in err
    assert sorted(item["id"] for item in shown["items"]) == sorted(added)  # the import did not go on


# --- end to end ------------------------------------------------------------------------

SERVE_SCRIPT = """
import sys
import trio
from pathlib import Path
from threads_desktop.cli.commands import forwarding_handler
from threads_desktop.control_socket import CONTROL_SOCKET_NAME, serve_control_socket
from threads_desktop.engine.node import Node

async def main() -> None:
    data_dir = Path(sys.argv[1])
    node = Node.open(data_dir)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(serve_control_socket, data_dir / CONTROL_SOCKET_NAME, forwarding_handler(node))
            print("ready", flush=True)
            await trio.to_thread.run_sync(sys.stdin.read)  # serve until stdin closes
            nursery.cancel_scope.cancel()
    finally:
        node.close()

trio.run(main)
"""


def cli(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "threads_desktop", *argv], capture_output=True, text=True,
                          timeout=DEADLINE, cwd=cwd)


def test_the_cli_forwards_to_the_process_serving_the_profile(tmp_path: Path) -> None:
    data_dir = tmp_path / "p"
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a.jpg").write_bytes(image_bytes("JPEG"))
    server = subprocess.Popen([sys.executable, "-c", SERVE_SCRIPT, str(data_dir)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines: queue.Queue[str] = queue.Queue()
        assert server.stdout is not None
        threading.Thread(target=lambda: lines.put(server.stdout.readline() if server.stdout else ""),
                         daemon=True).start()
        assert lines.get(timeout=DEADLINE) == "ready\n"

        created = cli("--data-dir", str(data_dir), "create", "album", "Trip")
        assert created.returncode == 0, created.stderr
        added = cli("--data-dir", str(data_dir), "add", created.stdout.strip(), "a.jpg", cwd=photos)
        assert added.returncode == 0 and len(added.stdout.split()) == 1, added.stderr
        forwarded = cli("--data-dir", str(data_dir), "ls", "--json")
        assert forwarded.returncode == 0, forwarded.stderr
        assert [(t["name"], t["events"]) for t in json.loads(forwarded.stdout)] == [("Trip", 3)]
        unknown = cli("--data-dir", str(data_dir), "show", "nonsense")
        assert unknown.returncode == 1 and unknown.stderr.startswith("threads-desktop: ")
    finally:
        _, errors = server.communicate(timeout=DEADLINE)  # closes stdin: the server stops
    assert server.returncode == 0, errors
    assert not (data_dir / CONTROL_SOCKET_NAME).exists()
    assert cli("--data-dir", str(data_dir), "ls", "--json").stdout == forwarded.stdout


def test_a_failed_command_is_logged_by_its_name_never_its_arguments() -> None:
    from threads_desktop.control_socket import _command_name

    assert _command_name(["--data-dir", "/p", "say", "THREAD", "my secret text"]) == "say"
    assert _command_name(["join", "threads://join/x#keys"]) == "join"
    assert _command_name(["--json"]) == "?"


def test_ctrl_c_while_a_forwarded_command_runs_asks_once_to_stop_and_still_gets_the_reply(tmp_path: Path) -> None:
    """The client's side of a Ctrl+C, against a plain socket server: the
    first one closes the client's sending side (the server's "stop") and
    the reply still comes; a Ctrl+C is a signal handled where it lands, never
    a KeyboardInterrupt that could escape between sending and reading."""
    path = tmp_path / "control.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)
    stop_seen: list[bool] = []

    def serve_one() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.settimeout(DEADLINE)
            header = read_exactly(connection, 4)
            assert header is not None and read_exactly(connection, struct.unpack(">I", header)[0]) is not None
            os.kill(os.getpid(), signal.SIGINT)  # the user's Ctrl+C, while the command "runs"
            stop_seen.append(connection.recv(1) == b"")  # the client closed its side: stop
            connection.sendall(frame({"exit_code": 130, "stdout": "", "stderr": "stopped\n"}))

    server = threading.Thread(target=serve_one, daemon=True)
    server.start()
    said: list[bool] = []
    try:
        reply = call_control_socket(path, ["add", "x"], timeout=DEADLINE, on_interrupt=lambda: said.append(True))
    finally:
        server.join(DEADLINE)
        listener.close()
    assert reply == ControlReply(130, "", "stopped\n")
    assert said == [True] and stop_seen == [True]
