"""A served profile's control socket: how other CLI commands reach the process
that owns the profile.

Only one process may open a profile (its lock), so while `serve` runs, a CLI
command sends its argv (and its working directory) over a Unix socket in the
profile folder and prints the reply. Framing, both ways: a 4-byte big-endian
length, then UTF-8 JSON.

    request  {"argv": [str, ...], "cwd": "/abs/path" | null}
    reply    {"exit_code": int, "stdout": str, "stderr": str}

A client that closes its writing side after the request (Ctrl+C) asks for
the command to stop: a long one (add) stops between photos and its reply
says what was done.

Only this user may connect: the profile folder is 0700, the socket 0600 and
the server checks the peer's uid (SO_PEERCRED) where the system tells it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import select
import signal
import socket
import stat
import struct
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import Any

import trio

from threads_desktop.engine.core.errors import ProfileError, ProfileLockedError

CONTROL_SOCKET_NAME = "control.sock"
MAX_REQUEST_BYTES = 64 * 1024
MAX_ARGS = 256
MAX_REPLY_BYTES = 16 * 1024 * 1024
_HEADER = struct.Struct(">I")
_MAX_PATH_BYTES = 107  # sun_path holds 108 bytes with its NUL
_FD_FOLDER = "/proc/self/fd"  # Linux: a descriptor's path, for paths too long to name directly
_REQUEST_TIMEOUT_SECONDS = 10.0  # to send a request of at most 64 KiB
_REPLY_TIMEOUT_SECONDS = 60.0  # to take a reply once it is ready
_REFUSAL_SECONDS = 1.0  # to take the refusal of a connection over the limit
_BACKLOG = 16
MAX_CONNECTIONS = 32  # commands at once (each a CLI process of this user); more are refused at once
_ACCEPT_RETRY_SECONDS = 0.1  # out of file descriptors: let some close
_RESOURCE_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ControlReply:
    exit_code: int
    stdout: str
    stderr: str


def _never() -> bool:
    return False


@dataclass(frozen=True)
class ControlRequest:
    argv: list[str]
    cwd: Path | None  # the client's working directory, for its relative paths
    # True once the client asked to stop (Ctrl+C: it closes its side) or went
    # away; a long command (add) looks between steps. Callable from any
    # thread, cheap: one poll().
    stop_requested: Callable[[], bool] = field(default=_never, compare=False)


Handler = Callable[[ControlRequest], Awaitable[ControlReply]]


class _BadRequest(Exception):
    """A request that breaks the protocol; answered, never fatal."""


# --- server (trio) ------------------------------------------------------------------


# task_status is trio.TaskStatus[None]; typed Any because the trio-typing
# stubs that come with libp2p shadow trio's own types and do not export it.
async def serve_control_socket(path: Path, handle: Handler, *, max_connections: int = MAX_CONNECTIONS,
                               request_seconds: float = _REQUEST_TIMEOUT_SECONDS,
                               task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    """Serve commands at `path` until cancelled, then remove the socket file.

    Connections are served concurrently, and so are requests: `handle` runs
    in each connection's own task, so a long command that awaits (an import
    of photos) holds no other. Between its awaits a handler has the trio
    thread to itself: what it does there is not interleaved. At most
    `max_connections` are served at once, and a request must arrive
    whole within `request_seconds`."""
    if not reachable(path):
        # Run on without it: the profile is served, only commands must stop it first.
        log.warning("the profile folder's path is too long for a control socket (%d bytes at most): other "
                    "commands cannot reach this process and must wait until it stops", _MAX_PATH_BYTES)
        task_status.started()
        return
    await _remove_if_stale(path)
    listener_socket = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with socket_address(path) as address:
            await listener_socket.bind(address)
        identity = os.stat(path)
        # Nobody can connect before listen(), so narrowing the mode here
        # leaves no window. (A umask would too, but it is process-wide and
        # the engine's other threads create files.)
        os.chmod(path, 0o600)
        listener_socket.listen(_BACKLOG)
    except BaseException:
        listener_socket.close()
        raise
    try:
        async with trio.open_nursery() as nursery:
            listener = trio.SocketListener(listener_socket)
            places = trio.CapacityLimiter(max_connections)
            task_status.started()
            while True:
                try:
                    stream = await listener.accept()
                except OSError as exc:
                    if exc.errno not in _RESOURCE_ERRNOS:
                        raise
                    log.warning("control socket: cannot accept a connection: %s", exc)
                    await trio.sleep(_ACCEPT_RETRY_SECONDS)
                    continue
                try:
                    places.acquire_on_behalf_of_nowait(stream)
                except trio.WouldBlock:
                    nursery.start_soon(_refuse_connection, stream)
                    continue
                nursery.start_soon(_serve_connection, stream, handle, request_seconds, places)
    finally:
        listener_socket.close()
        _unlink_if_ours(path, identity)


async def _refuse_connection(stream: trio.SocketStream) -> None:
    """Too many connections: take the request (the client writes it before
    it reads), and say so, all within a second."""
    async with stream:
        with trio.move_on_after(_REFUSAL_SECONDS):
            try:
                await _receive_frame(stream, MAX_REQUEST_BYTES)
            except (_BadRequest, trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass
        with trio.move_on_after(_REFUSAL_SECONDS):
            try:
                await stream.send_all(_encode_reply(_refusal("too many commands at once: try again")))
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass


async def _serve_connection(stream: trio.SocketStream, handle: Handler, request_seconds: float,
                            place: trio.CapacityLimiter) -> None:
    try:
        await _serve(stream, handle, request_seconds)
    finally:
        place.release_on_behalf_of(stream)


async def _serve(stream: trio.SocketStream, handle: Handler, request_seconds: float) -> None:
    async with stream:
        try:
            reply = await _answer(stream, handle, request_seconds)
            if reply is not None:
                with trio.move_on_after(_REPLY_TIMEOUT_SECONDS):
                    await stream.send_all(_encode_reply(reply))
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass  # the client went away: nothing to tell it
        except Exception:  # one connection's failure must not stop the server
            log.exception("control socket: a connection failed")


async def _answer(stream: trio.SocketStream, handle: Handler, request_seconds: float) -> ControlReply | None:
    """The reply to the connection's request, or None to hang up silently."""
    if not _same_user(stream.socket):
        return _refusal("the process serving this profile takes commands only from its own user")
    body: bytes | None = None
    with trio.move_on_after(request_seconds):
        try:
            body = await _receive_frame(stream, MAX_REQUEST_BYTES)
        except _BadRequest as exc:
            return _refusal(str(exc))
    if body is None:
        return None  # closed or silent before a whole request arrived
    try:
        request = replace(_decode_request(body), stop_requested=_client_stopped(stream.socket.fileno()))
    except _BadRequest as exc:
        return _refusal(str(exc))
    try:
        return await handle(request)
    except Exception as exc:  # reported to the client; the server carries on
        # The command's name only: its arguments may be a message's text or an invite link.
        log.exception("control socket: the command %r failed", _command_name(request.argv))
        return ControlReply(1, "", f"threads-desktop: the serving process failed: {exc!r}\n")


def _client_stopped(fd: int) -> Callable[[], bool]:
    """Whether the client closed its side of the connection (or sent more
    than its one request): after a whole request, that only means "stop".
    A poll, not a read: the command runs while the event loop waits for it."""
    events = select.POLLIN | select.POLLHUP | select.POLLERR | getattr(select, "POLLRDHUP", 0)

    def stopped() -> bool:
        poller = select.poll()
        poller.register(fd, events)
        return bool(poller.poll(0))

    return stopped


def _same_user(sock: trio.socket.SocketType) -> bool:
    if not hasattr(socket, "SO_PEERCRED"):  # not Linux: the socket's 0600 mode is the check
        return True
    credentials = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    assert isinstance(credentials, bytes)
    _pid, uid, _gid = struct.unpack("3i", credentials)
    return bool(uid == os.getuid())


async def _receive_frame(stream: trio.SocketStream, limit: int) -> bytes | None:
    header = await _receive_exactly(stream, _HEADER.size)
    if header is None:
        return None
    (length,) = _HEADER.unpack(header)
    if length > limit:
        raise _BadRequest(f"a request is at most {limit} bytes, not {length}")
    return await _receive_exactly(stream, length)


async def _receive_exactly(stream: trio.SocketStream, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = await stream.receive_some(size - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def _decode_request(body: bytes) -> ControlRequest:
    try:
        value = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise _BadRequest(f"a request is UTF-8 JSON ({exc})") from None
    if not isinstance(value, dict):
        raise _BadRequest("a request is a JSON object")
    argv, cwd = value.get("argv"), value.get("cwd")
    if not isinstance(argv, list) or not all(isinstance(arg, str) for arg in argv):
        raise _BadRequest('a request has "argv", a list of strings')
    if len(argv) > MAX_ARGS:
        raise _BadRequest(f"a request has at most {MAX_ARGS} arguments, not {len(argv)}")
    if cwd is not None and not (isinstance(cwd, str) and os.path.isabs(cwd)):
        raise _BadRequest('a request\'s "cwd" is an absolute path')
    return ControlRequest(argv, Path(cwd) if cwd is not None else None)


def _encode_reply(reply: ControlReply) -> bytes:
    body = _encode({"exit_code": reply.exit_code, "stdout": reply.stdout, "stderr": reply.stderr})
    if len(body) > MAX_REPLY_BYTES:
        # The command ran; only its output is lost, and the client is told.
        body = _encode({"exit_code": 1, "stdout": "", "stderr": (
            f"threads-desktop: the command's output ({len(body)} bytes) is larger than a reply may be "
            f"({MAX_REPLY_BYTES} bytes)\n")})
    return _HEADER.pack(len(body)) + body


def _refusal(message: str) -> ControlReply:
    return ControlReply(2, "", f"threads-desktop: {message}\n")


async def _remove_if_stale(path: Path) -> None:
    """Remove a socket file left by a process that died; refuse to take over
    one that still answers, or a path that is not a socket."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ProfileError(f"{path} is in the way of the control socket (it is not a socket)")
    probe = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with probe:
        try:
            with trio.fail_after(2):
                with socket_address(path) as address:
                    await probe.connect(address)
        except (ConnectionRefusedError, FileNotFoundError):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            return
        except trio.TooSlowError:
            pass  # a full backlog: somebody is listening
    raise ProfileError(f"another process already answers on {path}")


def _unlink_if_ours(path: Path, identity: os.stat_result) -> None:
    try:
        now = os.lstat(path)
        if (now.st_dev, now.st_ino) == (identity.st_dev, identity.st_ino):
            path.unlink()
    except FileNotFoundError:
        pass


# --- client (blocking) ---------------------------------------------------------------


def call_control_socket(path: Path, argv: Sequence[str], timeout: float | None = None, *,
                        cwd: Path | None = None,
                        on_interrupt: Callable[[], None] | None = None) -> ControlReply:
    """Run `argv` in the process serving the profile and return its reply.

    `cwd` (default: ours) resolves the command's relative paths. Raises
    ProfileLockedError when no process answers on `path`, ProfileError when
    the exchange fails half way.

    With `on_interrupt`, Ctrl+C while the command runs asks the serving
    process to stop it (this side of the connection is closed), calls
    `on_interrupt` and waits on for the reply, which says what was done; a
    second Ctrl+C raises KeyboardInterrupt."""
    if not reachable(path):
        raise ProfileLockedError("the profile is in use by another process, which commands cannot reach "
                                 "(the profile folder's path is too long for a control socket)")
    body = _encode({"argv": list(argv), "cwd": os.fspath(cwd) if cwd is not None else _current_directory()})
    if len(body) > MAX_REQUEST_BYTES or len(argv) > MAX_ARGS:
        raise ProfileError(f"the command is too long to send to the process serving the profile "
                           f"(at most {MAX_ARGS} arguments and {MAX_REQUEST_BYTES} bytes)")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            with socket_address(path) as address:
                sock.connect(address)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise ProfileLockedError(
                "the profile is in use by another process that does not accept commands") from exc
        except OSError as exc:
            raise ProfileLockedError(f"cannot reach the process serving the profile ({exc})") from exc
        try:
            with _ctrl_c_asks_to_stop(sock, on_interrupt) as request_sent:
                try:
                    sock.sendall(_HEADER.pack(len(body)) + body)
                except BrokenPipeError:
                    pass  # refused before it read the request (another user): its reply says why
                request_sent()
                value = _receive_reply(sock)
        except TimeoutError:
            raise ProfileError(f"the process serving the profile did not answer within {timeout} s") from None
        except (OSError, ValueError, RecursionError) as exc:
            raise ProfileError(f"the exchange with the process serving the profile failed ({exc})") from exc
    return _parse_reply(value)


@contextlib.contextmanager
def _ctrl_c_asks_to_stop(sock: socket.socket, on_interrupt: Callable[[], None] | None) -> Iterator[Callable[[], None]]:
    """While inside, the first Ctrl+C asks the serving process to stop (this
    side of the connection is closed) and calls `on_interrupt`; the second
    raises KeyboardInterrupt. A handler, not a caught KeyboardInterrupt:
    that can strike between any two lines, the request half sent or the
    reply half read. Yields what to call once the whole request is out (a
    Ctrl+C before that asks as soon as it is)."""
    if on_interrupt is None or threading.current_thread() is not threading.main_thread():
        yield lambda: None
        return
    sent: list[bool] = []
    asked: list[bool] = []

    def ask() -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)  # the serving process reads this as "stop"
        on_interrupt()

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        if asked:
            raise KeyboardInterrupt  # the second: stop waiting for the reply
        asked.append(True)
        if sent:
            ask()  # the blocked recv() resumes afterwards (PEP 475) and waits for the reply

    def request_sent() -> None:
        sent.append(True)
        if asked:
            ask()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield request_sent
    finally:
        signal.signal(signal.SIGINT, previous)


def answers(path: Path, timeout: float = 2.0) -> bool:
    """Whether a process accepts connections on the control socket `path`."""
    if not (os.path.exists(path) and reachable(path)):
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(timeout)
        try:
            with socket_address(path) as address:
                probe.connect(address)
        except (OSError, ProfileError):
            return False
    return True


def _receive_reply(sock: socket.socket) -> Any:
    (length,) = _HEADER.unpack(_receive_exactly_blocking(sock, _HEADER.size))
    if length > MAX_REPLY_BYTES:
        raise ProfileError(f"the serving process sent a reply of {length} bytes")
    return json.loads(_receive_exactly_blocking(sock, length).decode("utf-8"))


def _receive_exactly_blocking(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(min(size - len(data), 1 << 20))
        if not chunk:
            raise ConnectionResetError("the serving process hung up before it answered")
        data += chunk
    return bytes(data)


def _parse_reply(value: Any) -> ControlReply:
    if (isinstance(value, dict) and type(value.get("exit_code")) is int
            and isinstance(value.get("stdout"), str) and isinstance(value.get("stderr"), str)):
        return ControlReply(value["exit_code"], value["stdout"], value["stderr"])
    raise ProfileError("the process serving the profile sent a malformed reply")


def _current_directory() -> str | None:
    try:
        return os.getcwd()
    except OSError:  # it was deleted: only absolute paths can be used
        return None


# --- both sides -------------------------------------------------------------------


def _encode(value: dict[str, Any]) -> bytes:
    # ASCII escapes keep the lone surrogates of undecodable file names intact.
    return json.dumps(value, ensure_ascii=True).encode("utf-8")


def reachable(path: Path) -> bool:
    """Whether a socket at `path` can be bound or reached: its path fits
    sun_path, or this system lets it be named through its folder's fd."""
    return len(os.fsencode(path)) <= _MAX_PATH_BYTES or os.path.isdir(_FD_FOLDER)


@contextlib.contextmanager
def socket_address(path: Path) -> Iterator[str]:
    """The address to bind or connect to for the socket file `path`. A path
    longer than sun_path holds (a deep profile folder) is named through an
    open descriptor of its folder, /proc/self/fd/N/control.sock: the socket
    stays in the private profile folder, where every process looks for it,
    and no other place or pointer file has to be kept in step."""
    if len(os.fsencode(path)) <= _MAX_PATH_BYTES:
        yield os.fspath(path)
        return
    try:
        folder = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    except OSError as exc:
        raise ProfileError(f"cannot open the profile folder {path.parent}: {exc.strerror or exc}") from exc
    try:
        yield f"{_FD_FOLDER}/{folder}/{path.name}"
    finally:
        os.close(folder)


def _command_name(argv: list[str]) -> str:
    """The subcommand of a CLI argument list, without options or arguments."""
    skip_next = False
    for word in argv:
        if skip_next:
            skip_next = False
        elif word in ("--data-dir", "--listen"):
            skip_next = True
        elif not word.startswith("-"):
            return word
    return "?"
