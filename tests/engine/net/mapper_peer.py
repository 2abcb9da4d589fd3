"""A PortMapper alone, for the UPnP namespace tests; run inside a test namespace.

    python mapper_peer.py --host-netns INODE --port PORT [--lease S] [--lifetime S]

Refuses to run (exit 3) in the namespace whose inode is INODE (the host's
network: UPnP discovery multicasts). Prints a JSON line `mapping` whenever
its mapping changes (the mapped address, or null), and `stopped` once it
has removed it, on SIGTERM or after --lifetime s.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys

import trio

from threads_desktop.engine.net.upnp import PortMapper, PortMapping


def emit(**message: object) -> None:
    print(json.dumps(message), flush=True)


async def run(args: argparse.Namespace) -> None:
    def changed(mapping: PortMapping | None) -> None:
        emit(event="mapping", address=mapping.address if mapping else None)

    mapper = PortMapper(internal_port=args.port, enabled=lambda: True, on_change=changed, lease=args.lease)
    with trio.open_signal_receiver(signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(mapper.run)
            with trio.move_on_after(args.lifetime):
                async for _ in signals:
                    break
            nursery.cancel_scope.cancel()
    emit(event="stopped")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host-netns", type=int, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--lease", type=int, default=3600)
    parser.add_argument("--lifetime", type=float, default=60.0)
    args = parser.parse_args()
    if os.stat("/proc/self/ns/net").st_ino == args.host_netns:
        print("refusing to run in the host's network namespace", file=sys.stderr)
        return 3
    trio.run(run, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
