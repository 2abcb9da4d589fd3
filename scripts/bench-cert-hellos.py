"""CPU per 1,000 strangers' hellos, with and without a device certificate
(issue 19 review, finding 7).

A node holding THREADS albums answers hellos from fresh identities that
prove nothing (two random proofs each), through its SyncServer as the
network would hand it a session (`serve` on an in-memory stream). Half carry
a valid certificate of a made-up person naming the stranger's device (the
most a stranger can make a node check); half carry none. Rounds alternate so
both see the same machine load; the figure is process CPU time.

    PYTHONPATH=. python scripts/bench-cert-hellos.py [--threads 50] [--hellos 1000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import trio

from threads_desktop.engine.acl.devices import issue_cert
from threads_desktop.engine.core.keys import Identity, SigningKey
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.net import wire
from threads_desktop.engine.net.budgets import Budgets, Limits
from threads_desktop.engine.net.server import SyncServer
from threads_desktop.engine.networking import NodeThreads
from threads_desktop.engine.node import Node


class _Stream:
    def __init__(self, sent: bytes) -> None:
        self._sent = sent
        self.written: list[bytes] = []

    async def read(self, n: int) -> bytes:
        chunk, self._sent = self._sent[:n], self._sent[n:]
        return chunk

    async def write(self, data: bytes) -> None:
        self.written.append(data)

    async def close(self) -> None:
        pass

    async def reset(self) -> None:
        pass


def _hellos(count: int, *, cert: bool) -> list[tuple[Identity, bytes]]:
    made = []
    for _ in range(count):
        stranger = Identity.generate()
        message: dict[str, object] = {"t": "hello", "nonce": os.urandom(16), "addrs": [],
                                      "proofs": [os.urandom(32), os.urandom(32)]}
        if cert:
            message["cert"] = issue_cert(SigningKey.generate(), stranger.peer_id, "Box", 1).to_bytes()
        made.append((stranger, wire.frame(message)))
    return made


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=50)
    parser.add_argument("--hellos", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        node = Node.open(Path(directory) / "node")
        try:
            for number in range(args.threads):
                node.create_thread(ThreadKind.ALBUM, f"Album {number}")
            unlimited = Limits(stranger_hello_threads_per_second=1e12, stranger_hello_threads_burst=1e12)
            server = SyncServer(NodeThreads(node), node.identity.peer_id, lambda _t, _p: [], lambda _t, _p: None,
                                lambda _p, _t, _a: None, lambda _p: None, Budgets(lambda _p: False, unlimited))

            async def answer(hellos: list[tuple[Identity, bytes]]) -> float:
                started = time.process_time()
                for stranger, framed in hellos:
                    stream = _Stream(framed)
                    await server.serve(stream, stranger.peer_id, "")
                    assert stream.written and b"matches" in stream.written[0], stream.written
                return time.process_time() - started

            figures: dict[bool, list[float]] = {False: [], True: []}
            for _ in range(args.rounds):
                for cert in (False, True):
                    hellos = _hellos(args.hellos, cert=cert)
                    figures[cert].append(trio.run(answer, hellos) * 1000 / args.hellos * 1000)
        finally:
            node.close()
    without, with_cert = statistics.median(figures[False]), statistics.median(figures[True])
    print(f"{args.threads} albums, {args.hellos} hellos a round, median of {args.rounds} rounds (CPU ms per 1,000):")
    print(f"  without a certificate: {without:.1f}  {[round(f, 1) for f in figures[False]]}")
    print(f"  with a certificate:    {with_cert:.1f}  {[round(f, 1) for f in figures[True]]}")
    print(f"  ratio with/without:    {with_cert / without:.2f}")


if __name__ == "__main__":
    main()
