"""`serve` (the headless peer) and `sync` (connect, sync once, exit)."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from threads_desktop.engine.node import Node

DEFAULT_PULL_INTERVAL = 60.0


def add_parsers(commands: Any) -> None:
    serve = commands.add_parser("serve", help="run as a headless peer until stopped (SIGTERM or Ctrl+C)")
    serve.add_argument("--listen", action="append", metavar="MULTIADDR",
                       help="where to listen (repeatable; default /ip4/0.0.0.0/tcp/4141)")
    serve.add_argument("--no-mdns", action="store_true", help="do not announce or look for peers on the LAN")
    serve.add_argument("--pull-interval", type=float, default=DEFAULT_PULL_INTERVAL, metavar="SECONDS",
                       help="how often to ask every peer for what push missed")
    sync = commands.add_parser("sync", help="connect to known peers, sync once and exit")
    sync.add_argument("thread", metavar="THREAD", nargs="?")
    sync.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS")
    sync.add_argument("--json", action="store_true")


def run_serve(data_dir: Path, args: argparse.Namespace) -> int:
    return _run(_serve, data_dir, args)


def run_sync(data_dir: Path, args: argparse.Namespace) -> int:
    return _run(_sync, data_dir, args)


def _run(main: Callable[[Path, argparse.Namespace], Awaitable[int]], data_dir: Path, args: argparse.Namespace) -> int:
    import trio

    from threads_desktop.engine.core.errors import ThreadsError

    _log_to_stderr()
    try:
        return trio.run(main, data_dir, args)
    except ThreadsError as exc:
        print(f"threads-desktop: {exc}", file=sys.stderr)
        return 1


async def _serve(data_dir: Path, args: argparse.Namespace) -> int:
    import trio

    from threads_desktop.cli_control import forwarding_handler
    from threads_desktop.control_socket import CONTROL_SOCKET_NAME, serve_control_socket
    from threads_desktop.engine.networking import DEFAULT_LISTEN, check_listen, connect_network, lan_discovery

    listen = args.listen or list(DEFAULT_LISTEN)
    try:
        check_listen(listen)  # here, for a plain message rather than a nursery's traceback
    except OSError as exc:
        print(f"threads-desktop: cannot listen on {' '.join(listen)}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    node = _open_node(data_dir, "serve")
    try:
        discovery = None if args.no_mdns else lan_discovery
        service = connect_network(node, listen=listen, discovery=discovery,
                                  pull_interval=max(1.0, args.pull_interval))
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async with trio.open_nursery() as nursery:
                await nursery.start(service.run)
                await nursery.start(serve_control_socket, node.profile.directory / CONTROL_SOCKET_NAME,
                                    forwarding_handler(node))
                # One line that scripts (and tests) wait for.
                print(json.dumps({"serving": str(node.identity.peer_id), "addresses": service.addresses()}),
                      flush=True)
                async for _ in signals:
                    break
                nursery.cancel_scope.cancel()
    finally:
        node.close()
    print("stopped", file=sys.stderr, flush=True)
    return 0


_SERVED_ALREADY = {
    "serve": "this profile is already served by a running process (the app, or another serve)",
    "sync": "this profile is served by a running process (the app, or serve), which syncs it by itself",
}


def _open_node(data_dir: Path, command: str) -> Node:
    """The profile's node; a profile served already is refused in plain
    words, one another command holds is waited for a little."""
    from threads_desktop.cli_control import open_when_free, profile_is_served
    from threads_desktop.engine.core.errors import ProfileLockedError
    from threads_desktop.engine.node import Node

    try:
        return Node.open(data_dir)
    except ProfileLockedError:
        if profile_is_served(data_dir):
            raise ProfileLockedError(_SERVED_ALREADY[command]) from None
    return open_when_free(data_dir)


async def _sync(data_dir: Path, args: argparse.Namespace) -> int:
    import trio

    from threads_desktop.engine.core.ids import ThreadId
    from threads_desktop.engine.networking import connect_network

    node = _open_node(data_dir, "sync")
    try:
        thread_id = ThreadId.parse(args.thread) if args.thread else None
        if thread_id is not None:
            node.get_thread(thread_id)
        service = connect_network(node, listen=["/ip4/127.0.0.1/tcp/0"], gossip=False)  # one pass: no mesh to join
        async with trio.open_nursery() as nursery:
            await nursery.start(service.run)
            with trio.move_on_after(args.timeout) as scope:
                report = await service.sync_once(thread_id)
            nursery.cancel_scope.cancel()
    finally:
        node.close()
    if scope.cancelled_caught:
        print(f"threads-desktop: sync did not finish in {args.timeout:g} s", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for peer, outcome in report.items():
            print(f"{peer}: {outcome}")
    if not report:
        print("threads-desktop: no peers known for that yet (join by a link with addresses, or serve with mDNS)",
              file=sys.stderr)
        return 1
    return 0 if any(not isinstance(v, str) or not v.startswith("failed") for v in report.values()) else 1


def _log_to_stderr() -> None:
    # A headless peer says what it does on stderr (a service manager keeps
    # it); py-libp2p logs routine connection churn as warnings, so only its
    # errors.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("threads_desktop").setLevel(logging.INFO)
    logging.getLogger("libp2p").setLevel(logging.CRITICAL)
