"""The command line's entry point: no subcommand opens the app; a
subcommand runs and exits.

Each command is declared in its own module (cli/registry.py says how) and
cli/commands.py lists them all; a command for a profile another process
serves is handed over its control socket (cli/control.py, cli/forwarding.py)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from threads_desktop import settings_file


def default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("threads-desktop", appauthor=False))


def chosen_data_dir(given: Path | None, settings: Path | None = None) -> Path:
    """--data-dir, else the folder picked in the app's settings (read from
    its file without Qt: the user's unless `settings` names one), else the
    platform's user data folder."""
    if given is not None:
        return given
    return settings_file.chosen_data_dir(settings) or default_data_dir()


LINK_SCHEME = "threads:"
_OPTIONS_WITH_VALUE = ("--data-dir", "--listen")


def split_link(argv: Sequence[str]) -> tuple[list[str], str | None]:
    """Take a threads:// link given in place of a command out of the
    arguments (argparse cannot have an optional positional beside
    subcommands): `threads-desktop [--data-dir DIR] threads://join/...`."""
    args = list(argv)
    index = 0
    while index < len(args):
        token = args[index]
        if token == "--":
            index += 1
            break
        if token in _OPTIONS_WITH_VALUE:
            index += 2
            continue
        if not token.startswith("-"):
            break
        index += 1
    if index < len(args) and args[index][:len(LINK_SCHEME)].lower() == LINK_SCHEME:
        link = args.pop(index)
        if index > 0 and args[index - 1] == "--":
            args.pop(index - 1)
        return args, link
    return args, None


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl+C: a plain word, not a traceback
        print("\nthreads-desktop: interrupted", file=sys.stderr)
        return 130
    except BaseExceptionGroup as group:  # a trio nursery's: the user gets its one plain message
        from threads_desktop.engine.core.errors import plain_error

        error = plain_error(group)
        if error is None:
            raise
        from threads_desktop.logs import log_to_file_only

        log_to_file_only(logging.getLogger(__name__), str(error), group)
        print(f"threads-desktop: {error}", file=sys.stderr)
        return 1


def _main(argv: Sequence[str] | None) -> int:
    from threads_desktop.cli.commands import registry as all_commands
    from threads_desktop.cli.registry import Invocation

    registry = all_commands()
    arguments, link = split_link(sys.argv[1:] if argv is None else argv)
    parser = registry.build_parser()
    args = parser.parse_args(arguments)
    if link is not None and args.command is not None:
        parser.error("a link opens the app: give it without a command")
    if args.command is None:
        from threads_desktop.app import run_app
        from threads_desktop.ui.settings import AppSettings

        settings = AppSettings.user()  # the same file settings_file reads, through Qt here
        data_dir = args.data_dir or settings.data_dir or default_data_dir()
        from threads_desktop.cli.commands import forwarding_handler

        return run_app(data_dir, listen=args.app_listen,
                       lan_discovery=not args.app_no_mdns and settings.lan_discovery, link=link, settings=settings,
                       commands=forwarding_handler)
    command = registry.get(args.command)
    if command.alone is not None:
        data_dir = chosen_data_dir(args.data_dir) if command.uses_profile else None
        return command.alone(Invocation(args, data_dir, registry))
    data_dir = chosen_data_dir(args.data_dir)

    from threads_desktop.cli.control import forward_to_running, open_when_free, profile_is_served
    from threads_desktop.engine.core.errors import ProfileLockedError, ThreadsError
    from threads_desktop.engine.node import Node

    command_line = list(sys.argv[1:] if argv is None else argv)
    try:
        try:
            node = Node.open(data_dir)
        except ProfileLockedError:
            if profile_is_served(data_dir):  # a served profile takes commands over its socket
                return forward_to_running(data_dir, command_line)
            node = open_when_free(data_dir)
    except ProfileLockedError as exc:
        return forward_to_running(data_dir, command_line, exc)  # served meanwhile, or says who holds it
    except ThreadsError as exc:
        print(f"threads-desktop: {exc}", file=sys.stderr)
        return 1
    try:
        if command.stoppable:  # Ctrl+C stops it between steps (add: photos), saying how far it got
            from threads_desktop.cli.threads import stop_on_interrupt

            with stop_on_interrupt() as stop_requested:
                return registry.run_on_node(node, args, stop_requested)
        return registry.run_on_node(node, args)
    except ThreadsError as exc:
        print(f"threads-desktop: {exc}", file=sys.stderr)
        return 1
    finally:
        node.close()
