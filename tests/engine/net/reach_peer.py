"""A running peer for the UPnP and reachability namespace tests; run inside
a test namespace.

    python reach_peer.py --host-netns INODE --data-dir DIR --listen ADDR
                         (--create | --join LINK) [--upnp on|off] [--lifetime S]

Refuses to run (exit 3) in the namespace whose inode is INODE: the test's
own, i.e. the host's network (UPnP discovery multicasts). `--create` makes a
chat and prints its invite link; `--join` joins by link. Prints a JSON line
on stdout whenever what it knows changes: `state` with its port mapping,
reachability and addresses. Reads commands on stdin: `upnp on`, `upnp off`
(Node.set_upnp_enabled, as Settings and the CLI do), `join LINK`. Stops on SIGTERM or stdin's
end, or after --lifetime s; prints `stopped` once the service has closed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import trio

from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.net.service import NetworkService
from threads_desktop.engine.networking import connect_network
from threads_desktop.engine.node import Node

POLL_SECONDS = 0.1


def emit(**message: Any) -> None:
    print(json.dumps(message), flush=True)


def state_of(service: NetworkService) -> dict[str, Any]:
    mapping = service.port_mapping()
    reach = service.reachability()
    return {"event": "state", "mapping": mapping.address if mapping else None, "reachable": reach.reachable,
            "reached": reach.address, "behind_nat": reach.behind_nat, "observed": reach.observed,
            "addresses": service.addresses() if service.online else []}


async def run(args: argparse.Namespace) -> None:
    with trio.open_signal_receiver(signal.SIGTERM) as signals:  # before `ready`: a test may stop us at once
        await run_until_stopped(args, signals)
    emit(event="stopped")


async def run_until_stopped(args: argparse.Namespace, signals: AsyncIterator[int]) -> None:
    node = Node.open(Path(args.data_dir))
    try:
        if args.upnp is not None:
            node.set_upnp_enabled(args.upnp == "on")  # offline: stored only
        service = connect_network(node, listen=[args.listen], pull_interval=3600.0, gossip=False)
        async with trio.open_nursery() as nursery:
            await nursery.start(service.run)
            emit(event="ready", peer_id=str(node.identity.peer_id), addresses=service.addresses())
            if args.create:
                thread_id = node.create_thread(ThreadKind.CHAT, "Us").thread_id
                emit(event="link", link=node.invite(thread_id, Role.WRITE, uses=8).to_uri())
            if args.join:
                node.join(InviteLink.parse(args.join))
            nursery.start_soon(commands, node, service, nursery.cancel_scope)
            nursery.start_soon(stop_on_signal, signals, nursery.cancel_scope)
            last: dict[str, Any] = {}
            with trio.move_on_after(args.lifetime):
                while True:  # bounded by the lifetime
                    now = state_of(service)
                    if now != last:
                        emit(**now)
                        last = now
                    await trio.sleep(POLL_SECONDS)
            nursery.cancel_scope.cancel()
    finally:
        node.close()


async def stop_on_signal(signals: AsyncIterator[int], scope: trio.CancelScope) -> None:
    async for _ in signals:
        scope.cancel()  # the service closes in order: the mapping is removed
        return


async def commands(node: Node, service: NetworkService, scope: trio.CancelScope) -> None:
    stdin = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
    buffer = b""
    while True:
        chunk = await stdin.receive_some(1024)
        if not chunk:
            scope.cancel()
            return
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            command = line.decode().strip()
            if command in ("upnp on", "upnp off"):
                node.set_upnp_enabled(command == "upnp on")  # as Settings does: the network is told
            elif command.startswith("join "):
                node.join(InviteLink.parse(command.removeprefix("join ")))
            else:
                continue
            emit(event="ack", command=command)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host-netns", type=int, required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--listen", required=True)
    parser.add_argument("--create", action="store_true")
    parser.add_argument("--join")
    parser.add_argument("--upnp", choices=["on", "off"])
    parser.add_argument("--lifetime", type=float, default=90.0)
    args = parser.parse_args()
    if os.stat("/proc/self/ns/net").st_ino == args.host_netns:
        print("refusing to run in the host's network namespace", file=sys.stderr)
        return 3
    trio.run(run, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
