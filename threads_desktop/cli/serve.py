"""`serve` (the headless peer) and `sync` (connect, sync once, exit)."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from threads_desktop.cli.registry import Command, Invocation

if TYPE_CHECKING:
    from threads_desktop.engine.node import Node

DEFAULT_PULL_INTERVAL = 60.0


def _serve_arguments(serve: argparse.ArgumentParser) -> None:
    serve.add_argument("--listen", action="append", metavar="MULTIADDR",
                       help="where to listen (repeatable; default /ip4/0.0.0.0/tcp/4141)")
    serve.add_argument("--no-mdns", action="store_true", help="do not announce or look for peers on the LAN")
    serve.add_argument("--pull-interval", type=float, default=DEFAULT_PULL_INTERVAL, metavar="SECONDS",
                       help="how often to ask every peer for what push missed")


def _sync_arguments(sync: argparse.ArgumentParser) -> None:
    sync.add_argument("thread", metavar="THREAD", nargs="?")
    sync.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS")
    sync.add_argument("--json", action="store_true")


def run_serve(invocation: Invocation) -> int:
    from threads_desktop.logs import setup_logging

    setup_logging(invocation.data_dir, stderr=True)  # a long-running peer keeps a log file in its data folder
    return _run(_serve, invocation)


def run_sync(invocation: Invocation) -> int:
    return _run(_sync, invocation)


def _run(main: Callable[[Invocation], Awaitable[int]], invocation: Invocation) -> int:
    import trio

    from threads_desktop.engine.core.errors import ThreadsError

    _log_to_stderr()
    try:
        return trio.run(main, invocation)
    except ThreadsError as exc:
        print(f"threads-desktop: {exc}", file=sys.stderr)
        return 1


async def _serve(invocation: Invocation) -> int:
    import trio

    from threads_desktop.cli.forwarding import forwarding_handler
    from threads_desktop.engine.networking import DEFAULT_LISTEN, check_listen
    from threads_desktop.serving import ServedProfile

    args, registry = invocation.args, invocation.registry
    listen = args.listen or list(DEFAULT_LISTEN)
    try:
        check_listen(listen)  # here, for a plain message rather than a nursery's traceback
    except OSError as exc:
        print(f"threads-desktop: cannot listen on {' '.join(listen)}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    served = ServedProfile(listen=listen, lan_discovery=not args.no_mdns, pull_interval=max(1.0, args.pull_interval),
                           commands=lambda node: forwarding_handler(node, registry))
    node = _open_node(invocation.data_dir, "serve")
    try:
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async with trio.open_nursery() as nursery:
                service = await nursery.start(served.run, node)
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
    from threads_desktop.cli.control import open_when_free, profile_is_served
    from threads_desktop.engine.core.errors import ProfileLockedError
    from threads_desktop.engine.node import Node

    try:
        return Node.open(data_dir)
    except ProfileLockedError:
        if profile_is_served(data_dir):
            raise ProfileLockedError(_SERVED_ALREADY[command]) from None
    return open_when_free(data_dir)


async def _sync(invocation: Invocation) -> int:
    import trio

    from threads_desktop.engine.core.ids import ThreadId
    from threads_desktop.serving import ServedProfile

    args = invocation.args
    # One pass: no mesh to join, no peers to look for, no commands to take.
    served = ServedProfile(listen=["/ip4/127.0.0.1/tcp/0"], lan_discovery=False, gossip=False)
    node = _open_node(invocation.data_dir, "sync")
    try:
        thread_id = ThreadId.parse(args.thread) if args.thread else None
        if thread_id is not None:
            node.get_thread(thread_id)
        async with trio.open_nursery() as nursery:
            service = await nursery.start(served.run, node)
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


COMMANDS = (
    Command("serve", "run as a headless peer until stopped (SIGTERM or Ctrl+C)", _serve_arguments, alone=run_serve,
            not_forwarded="this profile is already served by another process"),
    Command("sync", "connect to known peers, sync once and exit", _sync_arguments, alone=run_sync,
            not_forwarded="the process serving this profile syncs it already"),
)


def _log_to_stderr() -> None:
    # A headless peer says what it does on stderr (a service manager keeps
    # it); py-libp2p logs routine connection churn as warnings and errors,
    # so only its critical records (serving.py says it again after its import).
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("threads_desktop").setLevel(logging.INFO)
    logging.getLogger("libp2p").setLevel(logging.CRITICAL)
