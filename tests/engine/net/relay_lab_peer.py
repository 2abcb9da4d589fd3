"""A peer for the lab's relay and hole-punching tests, in a namespace:

    python -m tests.engine.net.relay_lab_peer PROFILE --reachable yes|no
        [--thread THREAD_ID] [--peer PEER_ID] [--lifetime SECONDS]

Goes online on 0.0.0.0:4141 and prints JSON lines on stdout: {"addresses"}
once online; {"relayed": [...]} when its relayed addresses change;
{"texts": [...]} when the chat THREAD_ID's messages change; {"direct": true}
once it has a direct connection to PEER_ID (and {"relayed_only": true} while
it is connected to it only through a relay). Stops after --lifetime s.
Its hole punches are logged on stderr ("hole punch with ...: still relayed").
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import trio

from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.net import holepunch
from threads_desktop.engine.networking import connect_network
from threads_desktop.engine.node import Node

POLL_SECONDS = 0.2


def emit(**message: object) -> None:
    print(json.dumps(message), flush=True)


async def serve(args: argparse.Namespace) -> None:
    node = Node.open(Path(args.profile))
    try:
        async with trio.open_nursery() as nursery:
            service = connect_network(node, listen=["/ip4/0.0.0.0/tcp/4141"], pull_interval=3600.0,
                                      reachable=lambda: args.reachable == "yes")
            await nursery.start(service.run)
            emit(addresses=service.addresses())
            peer = PeerId.parse(args.peer) if args.peer else None
            thread_id = ThreadId.parse(args.thread) if args.thread else None
            shown: dict[str, object] = {}
            with trio.move_on_after(args.lifetime):
                while True:
                    client = service.relay_client
                    now: dict[str, object] = {"relayed": client.relayed_addresses() if client else []}
                    if thread_id is not None and node.directory.holds(thread_id):
                        now["texts"] = sorted(m.data["text"] for m in node.chat(thread_id).messages.find())
                    if peer is not None and client is not None:
                        now["direct"] = client.directly(peer)
                        now["relayed_only"] = client.via_relay(peer)
                    for key, value in now.items():
                        if shown.get(key) != value:
                            shown[key] = value
                            emit(**{key: value})
                    await trio.sleep(POLL_SECONDS)
            nursery.cancel_scope.cancel()
    finally:
        node.close()


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger(holepunch.__name__).setLevel(logging.INFO)
    parser = argparse.ArgumentParser()
    parser.add_argument("profile")
    parser.add_argument("--reachable", choices=("yes", "no"), required=True)
    parser.add_argument("--thread")
    parser.add_argument("--peer")
    parser.add_argument("--lifetime", type=float, default=120.0)
    trio.run(serve, parser.parse_args())


if __name__ == "__main__":
    main()
