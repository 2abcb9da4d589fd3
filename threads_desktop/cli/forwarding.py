"""The serving side of the control socket: a CLI command handed over by
another process runs here, on this process' node, as `threads-desktop`
would have run it (cli/control.py is the client side)."""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import sys
import threading
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
    profile). Synchronous inside: nothing else runs on the node meanwhile.
    `stop_requested` tells a long command (add) the client asked it to stop."""
    out, err = io.StringIO(), io.StringIO()
    with _captured(out, err):
        code = _run(node, registry, argv, cwd, stop_requested)
    return ControlReply(code, out.getvalue(), err.getvalue())


def _run(node: Node, registry: Registry, argv: list[str], cwd: Path | None,
         stop_requested: Callable[[], bool] | None) -> int:
    try:
        args = registry.build_parser().parse_args(argv)
        args.data_dir = None
        command = registry.get(args.command) if args.command is not None else None
        if command is None or command.on_node is None:  # makes no sense inside the serving process
            print(f"threads-desktop: {command.not_forwarded if command else _THE_APP}", file=sys.stderr)
            return 2
        _resolve_paths(args, cwd)
        return registry.run_on_node(node, args, stop_requested)
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
