"""The names and arguments of add, say and show; their handler is in
cli/threads.py, which loads the engine and is imported only to run one."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING

from threads_desktop.cli.registry import Command, StopRequested

if TYPE_CHECKING:
    from threads_desktop.engine.node import Node


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("thread", metavar="THREAD")
    parser.add_argument("files", metavar="FILE", nargs="+", type=Path)
    parser.add_argument("--keep-gps", action="store_true", help="keep where the photos were taken")


def _say_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("thread", metavar="THREAD")
    parser.add_argument("text", metavar="TEXT")


def _show_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("thread", metavar="THREAD")
    parser.add_argument("--json", action="store_true")


def _on_node(node: Node, args: argparse.Namespace, stop_requested: StopRequested | None) -> int:
    from threads_desktop.cli.threads import run_thread_command

    return run_thread_command(node, args)


def _add(node: Node, args: argparse.Namespace, stop_requested: StopRequested | None) -> Awaitable[int]:
    from threads_desktop.cli.threads import add_photos

    return add_photos(node, args, stop_requested)  # a trio task: the photos are prepared off the engine thread


COMMANDS = (
    Command("add", "add photos (files or folders) to an album", _add_arguments, on_node=_add, stoppable=True),
    Command("say", "post a message to a chat", _say_arguments, on_node=_on_node),
    Command("show", "show an album's photos or a chat's messages", _show_arguments, on_node=_on_node),
)
