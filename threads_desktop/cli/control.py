"""A CLI command for a profile another process holds: hand it over that
process' control socket (cli/forwarding.py runs it there), or wait for the
profile to be free."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from threads_desktop.control_socket import CONTROL_SOCKET_NAME, answers, call_control_socket
from threads_desktop.engine.core.errors import ProfileLockedError, ThreadsError

if TYPE_CHECKING:
    from threads_desktop.engine.node import Node

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
