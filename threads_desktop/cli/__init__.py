"""Command line: no subcommand opens the app; a subcommand runs and exits."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from threads_desktop import __version__, settings_file
from threads_desktop.cli_members import add_parsers as add_member_parsers
from threads_desktop.cli_serve import add_parsers as add_serve_parsers


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="threads-desktop",
        usage="%(prog)s [-h] [--version] [--data-dir DIR] [--listen MULTIADDR] [--no-mdns] [LINK | COMMAND ...]",
        description="Private peer-to-peer photo albums and chats. With no command, opens the app.",
        epilog="LINK: a threads://join/... invite link opens the app's join dialog, in the app already "
               "running for that profile if there is one.")
    parser.add_argument("--version", action="version", version=f"threads-desktop {__version__}")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="profile folder (default: the one chosen in the app's settings, or the user data folder)")
    parser.add_argument("--listen", dest="app_listen", action="append", metavar="MULTIADDR",
                        help="the app: where to listen (default /ip4/0.0.0.0/tcp/4141, or any free port)")
    parser.add_argument("--no-mdns", dest="app_no_mdns", action="store_true",
                        help="the app: do not announce or look for peers on the LAN")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    show_id = commands.add_parser("id", help="show this profile's identity")
    show_id.add_argument("--json", action="store_true")

    create = commands.add_parser("create", help="create an album or a chat; prints its thread ID")
    create.add_argument("kind", choices=["album", "chat"])
    create.add_argument("name")

    listing = commands.add_parser("ls", help="list albums and chats")
    listing.add_argument("--json", action="store_true")

    add = commands.add_parser("add", help="add photos (files or folders) to an album")
    add.add_argument("thread", metavar="THREAD")
    add.add_argument("files", metavar="FILE", nargs="+", type=Path)
    add.add_argument("--keep-gps", action="store_true", help="keep where the photos were taken")

    say = commands.add_parser("say", help="post a message to a chat")
    say.add_argument("thread", metavar="THREAD")
    say.add_argument("text", metavar="TEXT")

    show = commands.add_parser("show", help="show an album's photos or a chat's messages")
    show.add_argument("thread", metavar="THREAD")
    show.add_argument("--json", action="store_true")

    add_member_parsers(commands)
    add_serve_parsers(commands)

    bench = commands.add_parser("bench", help="run a benchmark")
    bench_kinds = bench.add_subparsers(dest="bench", metavar="WHAT", required=True)
    bench_log = bench_kinds.add_parser("log", help="append and ingest rates of the event log")
    bench_log.add_argument("--events", type=int, default=10_000)
    bench_log.add_argument("--rounds", type=int, default=3, help="median of this many runs")
    bench_log.add_argument("--json", action="store_true")
    bench_store = bench_kinds.add_parser("store", help="event store, photo import and album view")
    bench_store.add_argument("--events", type=int, default=5_000)
    bench_store.add_argument("--photos", type=int, default=24)
    bench_store.add_argument("--album", type=int, default=10_000)
    bench_store.add_argument("--json", action="store_true")
    bench_sync = bench_kinds.add_parser("sync", help="sync between two processes over 127.0.0.1")
    bench_sync.add_argument("--events", type=int, default=10_000, help="events of the thread a new member joins")
    bench_sync.add_argument("--big", type=int, default=100_000, help="events held when one more arrives")
    bench_sync.add_argument("--small", type=int, default=100)
    bench_sync.add_argument("--photos", type=int, default=200)
    bench_sync.add_argument("--photo-bytes", type=int, default=1 << 20)
    bench_sync.add_argument("--json", action="store_true")
    bench_gui = bench_kinds.add_parser("gui", help="the app with a large album, offscreen")
    bench_gui.add_argument("--photos", type=int, default=10_000, help="photos in the album")
    bench_gui.add_argument("--json", action="store_true")
    return parser


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
    arguments, link = split_link(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(arguments)
    if link is not None and args.command is not None:
        parser.error("a link opens the app: give it without a command")
    if args.command is None:
        from threads_desktop.app import run_app
        from threads_desktop.ui.settings import AppSettings

        settings = AppSettings.user()  # the same file settings_file reads, through Qt here
        data_dir = args.data_dir or settings.data_dir or default_data_dir()
        return run_app(data_dir, listen=args.app_listen,
                       lan_discovery=not args.app_no_mdns and settings.lan_discovery, link=link, settings=settings)
    if args.command == "bench":
        return _bench(args)
    data_dir = chosen_data_dir(args.data_dir)
    if args.command in ("serve", "sync"):
        from threads_desktop.cli_serve import run_serve, run_sync

        if args.command == "serve":  # a long-running peer keeps a log file in its data folder
            from threads_desktop.logs import setup_logging

            setup_logging(data_dir, stderr=True)
        return (run_serve if args.command == "serve" else run_sync)(data_dir, args)

    from threads_desktop.cli_control import forward_to_running, open_when_free, profile_is_served
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
        if args.command == "add":  # Ctrl+C stops it between photos, saying how many were added
            from threads_desktop.cli_threads import stop_on_interrupt

            with stop_on_interrupt() as stop_requested:
                return _run_command(node, args, stop_requested)
        return _run_command(node, args)
    except ThreadsError as exc:
        print(f"threads-desktop: {exc}", file=sys.stderr)
        return 1
    finally:
        node.close()


def _run_command(node: object, args: argparse.Namespace, stop_requested: Callable[[], bool] | None = None) -> int:
    """Run a command on an open node; `stop_requested` is polled by the long
    ones (add) to stop between steps."""
    from threads_desktop.engine.core.types import ThreadKind
    from threads_desktop.engine.node import Node

    assert isinstance(node, Node)
    if args.command == "id":
        card = node.identity_card()
        if args.json:
            print(json.dumps({"peer_id": card.peer_id, "exchange_key": card.exchange_public_key.hex()}))
        else:
            print(card.peer_id)
    elif args.command == "create":
        print(node.create_thread(ThreadKind(args.kind), args.name).thread_id)
    elif args.command in ("invite", "join", "grant", "revoke", "members"):
        from threads_desktop.cli_members import run_members_command

        return run_members_command(node, args)
    elif args.command in ("add", "say", "show"):
        from threads_desktop.cli_threads import run_thread_command

        return run_thread_command(node, args, stop_requested)
    elif args.command == "ls":
        threads = node.list_threads()
        if args.json:
            print(json.dumps([t.to_json() for t in threads], indent=2, ensure_ascii=False))
        else:
            for t in threads:
                kind = t.kind.value if t.kind else "backup"
                print(f"{t.thread_id}  {kind:<6}  {t.name or '(encrypted: this profile keeps a backup)'}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from threads_desktop.engine.bench import log, store

    if args.bench == "gui":
        from threads_desktop.ui import bench_gui

        gui = bench_gui.run(max(1, args.photos))
        print(json.dumps(gui, indent=2) if args.json else bench_gui.summary(gui))
        return 0
    if args.events < 1:
        print("threads-desktop: --events must be at least 1", file=sys.stderr)
        return 2
    if args.bench == "sync":
        from threads_desktop.engine.bench import sync

        result = sync.run(args.events, max(1, args.big), max(1, args.small), max(1, args.photos),
                          max(1024, args.photo_bytes))
        print(json.dumps(result, indent=2) if args.json else sync.summary(result))
        return 0
    if args.bench == "store":
        result = store.run(args.events, args.photos, args.album)
        print(json.dumps(result, indent=2) if args.json else store.summary(result))
        return 0
    result = log.run(args.events, max(1, args.rounds))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for name in ("append", "append_one_transaction_each", "ingest"):
            r = result[name]
            print(f"{name:<28} {r['events_per_second']:>8} events/s   floor {r['floor_events_per_second']:>8}"
                  f"   ratio {r['ratio_to_floor']:>5}   ({r['how']})")
    return 0
