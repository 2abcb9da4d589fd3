"""CLI commands for a served profile: the client hands them over the control
socket, the serving process runs them as `threads-desktop` would have."""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from threads_desktop.control_socket import (
    CONTROL_SOCKET_NAME,
    ControlReply,
    ControlRequest,
    Handler,
    answers,
    call_control_socket,
)
from threads_desktop.engine.core.errors import InvalidInputError, ProfileLockedError, ThreadsError, plain_error
from threads_desktop.logs import log_to_file_only

if TYPE_CHECKING:
    from threads_desktop.engine.node import Node

log = logging.getLogger(__name__)

# Commands that make no sense inside the serving process.
_NOT_FORWARDED: dict[str | None, str] = {
    None: "the profile is open in another process; stop it to open the app",
    "serve": "this profile is already served by another process",
    "sync": "the process serving this profile syncs it already",
    "bench": "a benchmark runs on its own, not in the process serving a profile",
}


# --- client side ------------------------------------------------------------------


# How long a command waits for a profile another (unserved) process holds:
# another CLI command, say, that will be done in a moment.
LOCK_WAIT_SECONDS = 10.0
_QUIET_WAIT_SECONDS = 1.0  # waited without a word


def control_socket_path(data_dir: Path) -> Path:
    return data_dir.expanduser().resolve() / CONTROL_SOCKET_NAME  # as Profile.open resolves it


def open_when_free(data_dir: Path) -> Node:
    """Open a profile another process holds but does not serve (another
    command, most likely) once it lets go: a second quietly, then saying so,
    up to LOCK_WAIT_SECONDS in all; ProfileLockedError after."""
    from threads_desktop.engine.node import Node

    quiet = min(_QUIET_WAIT_SECONDS, LOCK_WAIT_SECONDS)
    try:
        return Node.open(data_dir, lock_wait=quiet)
    except ProfileLockedError as busy:
        print(f"threads-desktop: {busy}; waiting for it (up to {LOCK_WAIT_SECONDS:g} s)", file=sys.stderr, flush=True)
    return Node.open(data_dir, lock_wait=LOCK_WAIT_SECONDS - quiet)


def profile_is_served(data_dir: Path) -> bool:
    """Whether a process (the app, `serve`) answers on the profile's control socket."""
    return answers(control_socket_path(data_dir))


def forward_to_running(data_dir: Path, argv: list[str], locked: ProfileLockedError | None = None) -> int:
    """Run a CLI command in the process that holds the profile, as if here.

    `locked` is the error that sent us here; it is shown when that process
    does not take commands."""
    path = control_socket_path(data_dir)
    if not path.exists():
        return _fail(locked or "the profile is in use by another process")
    try:
        reply = call_control_socket(path, argv, on_interrupt=_say_stopping)
    except KeyboardInterrupt:  # the second Ctrl+C: the server was asked to stop already
        return _fail("stopped waiting; an import stops after the photo it is on, other commands finish "
                     "by themselves", 130)
    except ProfileLockedError as exc:
        return _fail(f"{locked}, which does not accept commands" if locked is not None else exc)
    except ThreadsError as exc:
        return _fail(exc)
    sys.stdout.write(reply.stdout)
    sys.stdout.flush()
    sys.stderr.write(reply.stderr)
    sys.stderr.flush()
    return reply.exit_code


def _fail(message: object, code: int = 1) -> int:
    print(f"threads-desktop: {message}", file=sys.stderr)
    return code


def _say_stopping() -> None:
    # Called from the SIGINT handler: os.write, since print() could re-enter
    # a write to sys.stderr that the signal interrupted.
    os.write(2, "\nthreads-desktop: stopping… (Ctrl+C again to stop waiting for the result)\n".encode())


# --- server side ------------------------------------------------------------------


def forwarding_handler(node: Node) -> Handler:
    """The control socket's handler for `node` (call it on the node's thread)."""

    async def handle(request: ControlRequest) -> ControlReply:
        return await run_forwarded(node, request.argv, cwd=request.cwd, stop_requested=request.stop_requested)

    return handle


async def run_forwarded(node: Node, argv: list[str], *, cwd: Path | None = None,
                        stop_requested: Callable[[], bool] | None = None) -> ControlReply:
    """Run one CLI command on `node` and return what it printed and its exit code.

    Relative paths in the command are resolved against `cwd`, the client's
    working directory; a `--data-dir` is ignored (this process has its
    profile). Synchronous inside: nothing else runs on the node meanwhile.
    `stop_requested` tells a long command (add) the client asked it to stop."""
    out, err = io.StringIO(), io.StringIO()
    with _captured(out, err):
        code = _run(node, argv, cwd, stop_requested)
    return ControlReply(code, out.getvalue(), err.getvalue())


def _run(node: Node, argv: list[str], cwd: Path | None, stop_requested: Callable[[], bool] | None) -> int:
    from threads_desktop.cli import _run_command, build_parser

    try:
        args = build_parser().parse_args(argv)
        args.data_dir = None
        if args.command in _NOT_FORWARDED:
            print(f"threads-desktop: {_NOT_FORWARDED[args.command]}", file=sys.stderr)
            return 2
        _resolve_paths(args, cwd)
        return _run_command(node, args, stop_requested)
    except SystemExit as exc:  # argparse: usage errors, --help, --version
        return _exit_code(exc)
    except ThreadsError as exc:
        print(f"threads-desktop: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - as an uncaught error would end the command: a traceback, code 1
        error = plain_error(exc)  # a nursery's group around one plain error is shown as that error
        if error is not None:
            log_to_file_only(log, str(error), exc)
            print(f"threads-desktop: {error}", file=sys.stderr)
            return 1
        traceback.print_exc(file=sys.stderr)
        return 1


def _resolve_paths(args: argparse.Namespace, cwd: Path | None) -> None:
    """Every path argument (add's FILEs, invite --qr, ...) made absolute
    against the client's directory; the process' own cwd is shared by its
    threads, so it is never changed."""
    for name, value in vars(args).items():
        if isinstance(value, Path):
            setattr(args, name, _absolute(value, cwd))
        elif isinstance(value, list) and any(isinstance(item, Path) for item in value):
            setattr(args, name, [_absolute(item, cwd) if isinstance(item, Path) else item for item in value])


def _absolute(path: Path, cwd: Path | None) -> Path:
    if path.is_absolute():
        return path
    if cwd is None:
        raise InvalidInputError(f"{path} is relative, and your working directory is gone: give absolute paths")
    return cwd / path


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)  # what Python prints for sys.exit("message")
    return 1


# --- capturing output ----------------------------------------------------------------


@contextlib.contextmanager
def _captured(out: io.StringIO, err: io.StringIO) -> Iterator[None]:
    """Redirect this thread's prints to `out` and `err`. sys.stdout is
    process-wide, so other threads' writes go on to the real streams."""
    owner = threading.get_ident()
    with contextlib.redirect_stdout(_ThreadRouted(owner, out, sys.stdout)), \
            contextlib.redirect_stderr(_ThreadRouted(owner, err, sys.stderr)):
        yield


class _ThreadRouted(io.TextIOBase):
    def __init__(self, owner: int, capture: io.StringIO, passthrough: TextIO | None) -> None:
        super().__init__()
        self._owner = owner
        self._capture = capture
        self._passthrough = passthrough  # None when the process has no such stream

    def _target(self) -> TextIO | None:
        return self._capture if threading.get_ident() == self._owner else self._passthrough

    def write(self, text: str) -> int:
        target = self._target()
        return target.write(text) if target is not None else len(text)

    def flush(self) -> None:
        target = self._target()
        if target is not None:
            target.flush()

    def writable(self) -> bool:
        return True
