"""A LanDiscovery peer for the namespace test; run inside a test namespace.

    python discovery_peer.py --host-netns INODE --address /ip4/10.77.0.1/tcp/4001 [--interface IP]
                             [--update-to ADDRESS]

Refuses to run (exit 3) in the namespace whose inode is INODE: the test's own,
i.e. the host's network. Prints JSON lines on stdout: `ready` (our peer ID),
`found` (each FoundPeer), `updated` (after re-announcing at --update-to, which
it does once it has found a peer), `stopped`. Stops on SIGTERM, or after
--lifetime s.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from typing import Any

from threads_desktop.engine.core.keys import SigningKey
from threads_desktop.engine.net.discovery import FoundPeer, LanDiscovery


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host-netns", type=int, required=True)
    parser.add_argument("--address", action="append", required=True)
    parser.add_argument("--interface", action="append")
    parser.add_argument("--update-to", action="append")
    parser.add_argument("--lifetime", type=float, default=60.0)
    args = parser.parse_args()
    if os.stat("/proc/self/ns/net").st_ino == args.host_netns:
        print("refusing to run mDNS in the host's network namespace", file=sys.stderr)
        return 3
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    out = threading.Lock()

    def emit(**message: Any) -> None:
        with out:
            print(json.dumps(message), flush=True)

    found_one = threading.Event()

    def on_found(peer: FoundPeer) -> None:
        emit(event="found", peer_id=peer.peer_id, addresses=list(peer.addresses))
        found_one.set()

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    peer_id = str(SigningKey.generate().peer_id)
    discovery = LanDiscovery(peer_id, args.address, on_found, interfaces=args.interface)
    discovery.start()
    emit(event="ready", peer_id=peer_id, service=discovery.service_name)
    deadline = time.monotonic() + args.lifetime
    if args.update_to and found_one.wait(args.lifetime) and not done.is_set():
        discovery.update_addresses(args.update_to)
        emit(event="updated")
    done.wait(max(deadline - time.monotonic(), 0))
    discovery.stop()
    emit(event="stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
