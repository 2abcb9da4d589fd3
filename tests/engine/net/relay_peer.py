"""A relaying peer in a process of its own, so what relaying costs is its
own CPU time:

    python -m tests.engine.net.relay_peer PROFILE

Goes online on 127.0.0.1 as a reachable peer, prints {"addresses": [...]};
then answers each line on stdin with {"cpu": process seconds, "relayed":
bytes relayed so far}; stops at the end of stdin.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import trio

from threads_desktop.engine.networking import connect_network
from threads_desktop.engine.node import Node


async def serve(profile: Path) -> None:
    node = Node.open(profile)
    try:
        async with trio.open_nursery() as nursery:
            service = connect_network(node, listen=["/ip4/127.0.0.1/tcp/0"], pull_interval=3600.0,
                                      reachable=lambda: True)
            await nursery.start(service.run)
            print(json.dumps({"addresses": service.addresses()}), flush=True)
            stdin = trio.lowlevel.FdStream(sys.stdin.fileno())
            for _ in range(10_000):  # bounded: one report per line
                if not await stdin.receive_some(4096):
                    break
                relayed = service.relay_service.relayed_bytes if service.relay_service else 0
                print(json.dumps({"cpu": time.process_time(), "relayed": relayed}), flush=True)
            nursery.cancel_scope.cancel()
    finally:
        node.close()


if __name__ == "__main__":
    trio.run(serve, Path(sys.argv[1]))
