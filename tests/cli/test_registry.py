"""The CLI's command registry (cli/registry.py, cli/commands.py): one list of
commands builds the parser and runs them, here and over the control socket."""

from __future__ import annotations

import argparse

import pytest
import trio

from threads_desktop.cli.commands import registry
from threads_desktop.cli.forwarding import run_forwarded
from threads_desktop.cli.registry import Command, Registry, StopRequested
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node

# The arguments that make each command that opens what it needs itself parse.
_ALONE_ARGUMENTS = {"serve": [], "sync": [], "bench": ["log"]}


def _nothing(parser: argparse.ArgumentParser) -> None:
    pass


def _zero(node: Node, args: argparse.Namespace, stop: StopRequested | None) -> int:
    return 0


def test_two_commands_of_one_name_are_refused() -> None:
    with pytest.raises(ValueError, match="same name"):
        Registry([Command("ls", "one", _nothing, on_node=_zero), Command("ls", "two", _nothing, on_node=_zero)])


def test_a_command_runs_either_on_a_node_or_alone() -> None:
    with pytest.raises(ValueError, match="either"):
        Command("neither", "no handler", _nothing)
    with pytest.raises(ValueError, match="either"):
        Command("both", "two handlers", _nothing, on_node=_zero, alone=lambda invocation: 0)


def test_the_commands_that_open_what_they_need_are_refused_over_the_control_socket_in_their_words(node: Node) -> None:
    commands = registry()
    for name, arguments in _ALONE_ARGUMENTS.items():
        command = commands.get(name)
        assert command.alone is not None and command.on_node is None
        reply = trio.run(run_forwarded, node, commands, [name, *arguments])
        assert (reply.exit_code, reply.stdout) == (2, "")
        assert reply.stderr == f"threads-desktop: {command.not_forwarded}\n"


def test_every_other_command_runs_on_a_node_and_its_help_is_forwarded(node: Node) -> None:
    commands = registry()
    parser = commands.build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    names = list(subparsers.choices)
    assert set(_ALONE_ARGUMENTS) < set(names)
    for name in set(names) - set(_ALONE_ARGUMENTS):
        assert commands.get(name).on_node is not None
        reply = trio.run(run_forwarded, node, commands, [name, "--help"])
        assert reply.exit_code == 0 and f"[LINK | COMMAND ...] {name}\n" in reply.stdout


def test_the_registry_runs_on_a_node_only_the_commands_that_run_there(node: Node) -> None:
    commands = registry()
    args = commands.build_parser().parse_args(["sync"])
    with pytest.raises(ValueError, match="sync does not run on an open node"):
        commands.run_on_node(node, args)


def test_forwarded_commands_share_one_parser_and_none_inherits_the_options_of_the_one_before(node: Node) -> None:
    node.create_thread(ThreadKind.ALBUM, "Lisbon")
    commands = registry()
    first = trio.run(run_forwarded, node, commands, ["ls", "--json"])
    parser = commands.parser()
    second = trio.run(run_forwarded, node, commands, ["ls"])
    assert commands.parser() is parser  # built once, not per request
    assert first.exit_code == second.exit_code == 0
    assert first.stdout.startswith("[") and "Lisbon" in first.stdout
    assert "Lisbon" in second.stdout and not second.stdout.startswith("[")
