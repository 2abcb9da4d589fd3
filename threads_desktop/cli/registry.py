"""The CLI's commands: each command module lists its own (name, arguments,
handler) and cli/commands.py gathers them into one Registry, which builds
the parser and runs a command for `threads-desktop` and for the control
socket alike."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from threads_desktop import __version__

if TYPE_CHECKING:  # the parser is built for every command; the engine loads only for those that need it
    from threads_desktop.engine.node import Node

StopRequested = Callable[[], bool]
# A command on an open node; `stop_requested` is polled by the long ones
# (add) to stop between steps. A long one returns a coroutine (a trio task),
# awaited by the process serving the profile, so that its engine thread
# serves the network and other commands meanwhile.
NodeHandler = Callable[["Node", argparse.Namespace, StopRequested | None], int | Awaitable[int]]


@dataclass(frozen=True)
class Invocation:
    """What a command that opens what it needs itself (serve, sync, bench) is given."""

    args: argparse.Namespace
    given_data_dir: Path | None  # the profile folder, for a command that uses one
    registry: Registry  # serve hands commands on to it

    @property
    def data_dir(self) -> Path:
        if self.given_data_dir is None:
            raise ValueError(f"{self.args.command} was given no profile folder")
        return self.given_data_dir


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    on_node: NodeHandler | None = None  # runs on the profile's node (here, or in the process serving it)
    alone: Callable[[Invocation], int] | None = None  # opens what it needs; never forwarded
    not_forwarded: str = "this command cannot run in the process serving the profile"
    stoppable: bool = False  # the first Ctrl+C asks it to stop between steps
    uses_profile: bool = True  # False: it needs no profile folder (bench)

    def __post_init__(self) -> None:
        if (self.on_node is None) == (self.alone is None):
            raise ValueError(f"command {self.name}: give it either on_node or alone")


class Registry:
    def __init__(self, commands: Sequence[Command]) -> None:
        self._commands = {command.name: command for command in commands}
        if len(self._commands) != len(commands):
            raise ValueError("two commands have the same name")
        self._parser: argparse.ArgumentParser | None = None

    def parser(self) -> argparse.ArgumentParser:
        """The parser, built on first use and kept: the serving process parses
        every forwarded command on its engine thread (building one is ~3 ms)."""
        if self._parser is None:
            self._parser = self.build_parser()
        return self._parser

    def get(self, name: str) -> Command:
        return self._commands[name]

    def build_parser(self) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(
            prog="threads-desktop",
            usage="%(prog)s [-h] [--version] [--data-dir DIR] [--listen MULTIADDR] [--no-mdns] [LINK | COMMAND ...]",
            description="Private peer-to-peer photo albums and chats. With no command, opens the app.",
            epilog="LINK: a threads://join/... invite link opens the app's join dialog, in the app already "
                   "running for that profile if there is one.")
        parser.add_argument("--version", action="version", version=f"threads-desktop {__version__}")
        parser.add_argument("--data-dir", type=Path, default=None,
                            help="profile folder (default: the one chosen in the app's settings, or the user "
                                 "data folder)")
        parser.add_argument("--listen", dest="app_listen", action="append", metavar="MULTIADDR",
                            help="the app: where to listen (default /ip4/0.0.0.0/tcp/4141, or any free port)")
        parser.add_argument("--no-mdns", dest="app_no_mdns", action="store_true",
                            help="the app: do not announce or look for peers on the LAN")
        subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
        for command in self._commands.values():
            command.arguments(subparsers.add_parser(command.name, help=command.help))
        return parser

    def run_on_node(self, node: Node, args: argparse.Namespace, stop_requested: StopRequested | None = None) -> int:
        """Run a command parsed by this registry's parser on an open node,
        outside any trio loop (an async command gets one of its own)."""
        outcome = self._handler(args)(node, args, stop_requested)
        if isinstance(outcome, int):
            return outcome
        import trio

        return trio.run(_awaited, outcome)

    async def run_in_trio(self, node: Node, args: argparse.Namespace,
                          stop_requested: StopRequested | None = None) -> int:
        """The same, inside the trio loop that drives the node."""
        outcome = self._handler(args)(node, args, stop_requested)
        return outcome if isinstance(outcome, int) else await outcome

    def _handler(self, args: argparse.Namespace) -> NodeHandler:
        handler = self.get(args.command).on_node
        if handler is None:
            raise ValueError(f"{args.command} does not run on an open node")
        return handler


async def _awaited(outcome: Awaitable[int]) -> int:
    return await outcome
