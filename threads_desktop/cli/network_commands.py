"""The CLI commands about reaching peers: `peers` (who we share something
with, how each is connected, how far each album or chat is in step) and
`relay add|remove|list` (relay peers the user names, such as a follower
running on a server)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING

from threads_desktop.cli.registry import Command, StopRequested

if TYPE_CHECKING:  # the parser is built for every command; the engine loads only for these
    from threads_desktop.engine.core.types import Device, ThreadSync
    from threads_desktop.engine.node import Node

_CONNECTIONS = {"same_network": "same network", "internet": "internet, direct", "relay": "through a relay"}


def _peers_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true")


def _relay_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="relay_action", metavar="ACTION", required=True)
    for name, help_text in (("add", "use a peer as a relay (ADDRESS: /ip4/HOST/tcp/PORT/p2p/ID)"),
                            ("remove", "stop using a relay")):
        actions.add_parser(name, help=help_text).add_argument("address", metavar="ADDRESS")
    actions.add_parser("list", help="the relays this profile uses").add_argument("--json", action="store_true")


def _peers(node: Node, args: argparse.Namespace, _stop: StopRequested | None) -> int:
    devices = node.devices()
    status = node.network_status()
    if args.json:
        print(json.dumps({"online": status.online, "reachability": status.reachability,
                          "peers": [d.to_json() for d in devices]}, indent=2, ensure_ascii=False))
        return 0
    if not status.online:
        print("this profile is not online (neither the app nor `serve` runs it): "
              "each peer is shown as last met", file=sys.stderr)
    elif status.reachability == "unreachable":
        print("peers outside this network cannot connect to this device: it relies on relays", file=sys.stderr)
    if not devices:
        print("no peers yet: nobody shares an album or chat with this profile", file=sys.stderr)
    now = time.time()
    for device in devices:
        print(f"{_name(device)}  {_connection(device, now)}")
        connected = device.connection.value in _CONNECTIONS
        for thread in device.threads:  # how far each is in step is known only while connected
            name = thread.name or "(a backup this profile cannot read)"
            print(f"    {name}: {_progress(thread)}" if connected else f"    {name}")
    return 0


def _name(device: Device) -> str:
    return device.name or f"…{device.peer_id[-6:]}  ({device.peer_id})"


def _connection(device: Device, now: float) -> str:
    if device.connection.value in _CONNECTIONS:
        return _CONNECTIONS[device.connection.value]
    if device.last_seen is None:
        return "offline, not connected yet"
    seen = time.localtime(device.last_seen)
    same_day = time.localtime(now)[:3] == seen[:3]
    return "offline since " + time.strftime("%H:%M" if same_day else "%d %b %Y", seen)


def _progress(thread: ThreadSync) -> str:
    if thread.total:
        return f"receiving photos, {thread.done / 1e6:.1f} of {thread.total / 1e6:.1f} MB"
    if not thread.compared:
        return "not compared yet"
    if thread.in_sync:
        return "in sync"
    parts = []
    if thread.we_lack:
        parts.append(f"{thread.we_lack} changes to receive")
    if thread.they_lack:
        parts.append(f"{thread.they_lack} changes to send")
    return ", ".join(parts) or "syncing"


def _relay(node: Node, args: argparse.Namespace, _stop: StopRequested | None) -> int:
    if args.relay_action == "add":
        print(node.add_relay(args.address))
    elif args.relay_action == "remove":
        node.remove_relay(args.address)
    elif args.json:
        print(json.dumps(node.relays(), indent=2))
    else:
        for address in node.relays():
            print(address)
    return 0


COMMANDS = (
    Command("peers", "list the peers you share albums and chats with, and how each is connected",
            _peers_arguments, on_node=_peers),
    Command("relay", "add, remove or list the relays this profile uses to reach peers", _relay_arguments,
            on_node=_relay),
)
