"""The CLI commands about the profile as a whole: id, create, ls."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from threads_desktop.cli.registry import Command, StopRequested

if TYPE_CHECKING:
    from threads_desktop.engine.node import Node


def _id_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true")


def _show_id(node: Node, args: argparse.Namespace, _stop: StopRequested | None) -> int:
    card = node.identity_card()
    if args.json:
        # Where peers reach this profile now ([] unless the app or `serve` runs it):
        # the address to give a friend's device as a relay, say.
        print(json.dumps({"peer_id": card.peer_id, "exchange_key": card.exchange_public_key.hex(),
                          "addresses": node.listen_addresses}))
    else:
        print(card.peer_id)
        for address in node.listen_addresses:
            print(f"  {address}")
    return 0


def _create_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=["album", "chat"])
    parser.add_argument("name")


def _create(node: Node, args: argparse.Namespace, _stop: StopRequested | None) -> int:
    from threads_desktop.engine.core.types import ThreadKind

    print(node.create_thread(ThreadKind(args.kind), args.name).thread_id)
    return 0


def _list(node: Node, args: argparse.Namespace, _stop: StopRequested | None) -> int:
    from threads_desktop.cli.joining import status_words

    threads = node.list_threads()
    joins = [join for join in node.pending_joins() if join.status != "admitted"]  # joined by link, not let in yet
    if args.json:
        # The joins after the threads, as entries of kind "joining" (a thread's entry is unchanged).
        print(json.dumps([t.to_json() for t in threads] + [
            {"id": str(join.thread_id), "kind": "joining", "name": join.name,
             "joining": {"status": join.status, "reason": join.reason, "role": join.role.label,
                         "inviter": join.inviter, "since_ms": join.since_ms, "words": status_words(join)}}
            for join in joins], indent=2, ensure_ascii=False))
    else:
        for t in threads:
            kind = t.kind.value if t.kind else "backup"
            print(f"{t.thread_id}  {kind:<6}  {t.name or '(encrypted: this profile keeps a backup)'}")
        for join in joins:
            print(f"{join.thread_id}  joining {join.name or '(unnamed)'}: {status_words(join)}")
    return 0


COMMANDS = (
    Command("id", "show this profile's identity", _id_arguments, on_node=_show_id),
    Command("create", "create an album or a chat; prints its thread ID", _create_arguments, on_node=_create),
    Command("ls", "list albums and chats", _id_arguments, on_node=_list),
)
