"""Two peers in one process, run inside a test namespace that has a LAN
address: b joins a's chat by a link, over the LAN address, and the script
prints (JSON) what each was told of the others' addresses. c listens on
loopback only and reaches a at its LAN address.

    python hello_peers.py --host-netns INODE --data DIR

Refuses to run (exit 3) in the namespace whose inode is INODE (the host's)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import trio

from tests.engine.eventstore.peers import join_with
from tests.engine.net.running import serving, wait_until
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host-netns", type=int, required=True)
    parser.add_argument("--data", type=Path, required=True)
    args = parser.parse_args()
    if os.stat("/proc/self/ns/net").st_ino == args.host_netns:
        print("refusing to run in the host's network namespace", file=sys.stderr)
        return 3

    async def run() -> dict[str, object]:
        a, b, c = (Node.open(args.data / name) for name in "abc")
        try:
            thread_id = a.create_thread(ThreadKind.CHAT, "Us").thread_id
            a.chat(thread_id).post("hi")
            async with serving(a, "/ip4/0.0.0.0/tcp/0") as service_a, serving(b, "/ip4/0.0.0.0/tcp/0"), \
                    serving(c, "/ip4/127.0.0.1/tcp/0"):
                link = a.invite(thread_id, Role.WRITE)
                join_with(a, b, link)
                await wait_until(b, lambda: b.get_thread(thread_id).event_count > 0)
                join_with(a, c, a.invite(thread_id, Role.WRITE))  # over loopback: c is on this machine only
                await wait_until(c, lambda: c.get_thread(thread_id).event_count > 0)
                return {"link": list(link.addresses), "a_addresses": service_a.addresses(),
                        "a_knows_b": a.addresses.addresses(b.identity.peer_id),
                        "b_knows_a": b.addresses.addresses(a.identity.peer_id),
                        "b_knows_c": b.addresses.addresses(c.identity.peer_id),
                        "a_knows_c": a.addresses.addresses(c.identity.peer_id)}
        finally:
            for node in (a, b, c):
                node.close()

    print(json.dumps(trio.run(run)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
