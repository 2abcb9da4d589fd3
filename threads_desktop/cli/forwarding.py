"""The serving side of the control socket: a CLI command handed over by
another process runs here, on this process' node, as `threads-desktop`
would have run it (cli/control.py is the client side)."""

from __future__ import annotations

import argparse
import contextlib
import contextvars
import io
import logging
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from threads_desktop.cli.registry import Registry
from threads_desktop.control_socket import ControlReply, ControlRequest, Handler
from threads_desktop.engine.core.errors import InvalidInputError, ThreadsError, plain_error
from threads_desktop.logs import log_to_file_only

if TYPE_CHECKING:
    from threads_desktop.engine.node import Node

log = logging.getLogger(__name__)

_THE_APP = "the profile is open in another process; stop it to open the app"  # no command: the app


def forwarding_handler(node: Node, registry: Registry) -> Handler:
    """The control socket's handler for `node`, running the registry's
    commands (call it on the node's thread)."""

    async def handle(request: ControlRequest) -> ControlReply:
        return await run_forwarded(node, registry, request.argv, cwd=request.cwd,
                                   stop_requested=request.stop_requested)

    return handle


async def run_forwarded(node: Node, registry: Registry, argv: list[str], *, cwd: Path | None = None,
                        stop_requested: Callable[[], bool] | None = None) -> ControlReply:
    """Run one CLI command on `node` and return what it printed and its exit code.

    Relative paths in the command are resolved against `cwd`, the client's
    working directory; a `--data-dir` is ignored (this process has its
    profile). Commands run whole on the engine thread, except `add`, which
    awaits its photos being prepared: the network and other commands run
    meanwhile (each command's output is its own: see _captured).
    `stop_requested` tells a long command (add) the client asked it to stop."""
    out, err = io.StringIO(), io.StringIO()
    with _captured(out, err):
        code = await _run(node, registry, argv, cwd, stop_requested)
    return ControlReply(code, out.getvalue(), err.getvalue())


async def _run(node: Node, registry: Registry, argv: list[str], cwd: Path | None,
               stop_requested: Callable[[], bool] | None) -> int:
    try:
        args = registry.parser().parse_args(argv)
        args.data_dir = None
        command = registry.get(args.command) if args.command is not None else None
        if command is None or command.on_node is None:  # makes no sense inside the serving process
            print(f"threads-desktop: {command.not_forwarded if command else _THE_APP}", file=sys.stderr)
            return 2
        _resolve_paths(args, cwd)
        return await registry.run_in_trio(node, args, stop_requested)  # this process' trio loop never waits on it
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
    """Send what this command prints to `out` and `err`. sys.stdout is
    process-wide and commands overlap (an `ls` runs while an `add` awaits
    its photos), so the capture follows the command's context (its trio
    task), and other tasks' and threads' writes go on to the real streams."""
    stdout, stderr = _Routed.install("stdout"), _Routed.install("stderr")
    out_token, err_token = stdout.capture.set(out), stderr.capture.set(err)
    try:
        yield
    finally:
        stdout.capture.reset(out_token)
        stderr.capture.reset(err_token)
        stdout.release()
        stderr.release()


class _Routed(io.TextIOBase):
    """sys.stdout or sys.stderr while commands run: each write goes to the
    capture of the context it is made in, or on to the stream it replaced.
    Installed by the first command, removed when the last one ends."""

    def __init__(self, name: str, passthrough: TextIO | None) -> None:
        super().__init__()
        self._name = name
        self._passthrough = passthrough  # None when the process has no such stream
        self.capture: contextvars.ContextVar[io.StringIO | None] = contextvars.ContextVar(
            f"captured_{name}", default=None)
        self._users = 0

    @classmethod
    def install(cls, name: str) -> _Routed:
        current = getattr(sys, name)
        router = current if isinstance(current, _Routed) else cls(name, current)
        setattr(sys, name, router)
        router._users += 1
        return router

    def release(self) -> None:
        self._users -= 1
        if self._users == 0 and getattr(sys, self._name) is self:
            setattr(sys, self._name, self._passthrough)

    def _target(self) -> TextIO | None:
        captured = self.capture.get()
        return captured if captured is not None else self._passthrough

    def write(self, text: str) -> int:
        target = self._target()
        return target.write(text) if target is not None else len(text)

    def flush(self) -> None:
        target = self._target()
        if target is not None:
            target.flush()

    def writable(self) -> bool:
        return True
