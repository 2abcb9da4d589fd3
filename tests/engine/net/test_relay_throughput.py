"""What relaying costs: 20 photos' worth of bytes (60 MB) from B to A
through R, R in a process of its own (its CPU time is its own). Prints the
figures; asserts only floors far below the targets (2 shared cores)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import trio
from libp2p.abc import INetStream
from libp2p.custom_types import TProtocol
from libp2p.peer.id import ID

from tests.engine.eventstore.peers import join_with
from tests.engine.net.running import wait_until
from tests.engine.net.test_relay import online, relayed
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node

PHOTOS = 20
PHOTO_BYTES = 3 * 1000 * 1000
CHUNK = 64 * 1024
SINK = "/threads-test/sink/1.0.0"
REPO = Path(__file__).resolve().parents[3]


async def sink(stream: INetStream) -> None:
    """Read to the end, then say how many bytes came."""
    got = 0
    try:
        while data := await stream.read(CHUNK):
            got += len(data)
    except Exception:  # noqa: BLE001 - the end of the stream is an exception in py-libp2p
        pass
    await stream.write(str(got).encode())
    await stream.close()


def test_relayed_throughput_and_the_relays_cpu_per_megabyte(open_node: Callable[[str], Node],
                                                            tmp_path: Path) -> None:
    a, b = open_node("a"), open_node("b")
    thread_id = a.create_thread(ThreadKind.CHAT, "Us").thread_id
    r = Node.open(tmp_path / "r")
    try:
        join_with(a, r, a.invite(thread_id, Role.WRITE))  # R shares the thread: A may reserve there
    finally:
        r.close()

    async def main() -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        relay = await trio.lowlevel.open_process([sys.executable, "-m", "tests.engine.net.relay_peer",
                                                  str(tmp_path / "r")], cwd=REPO, env=env,
                                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            await measure(relay, env)
        finally:
            with trio.move_on_after(10) as waited:
                await relay.wait()
            if waited.cancelled_caught:
                relay.kill()  # ours, by its handle
                await relay.wait()

    async def measure(relay: trio.Process, env: dict[str, str]) -> None:
        async with online(a, reachable=False) as a_net, online(b, reachable=False) as b_net:
            assert relay.stdin is not None and relay.stdout is not None
            lines = _lines(relay.stdout)
            with trio.fail_after(30):
                addresses = json.loads(await lines.__anext__())["addresses"]
            a.peers.remember(thread_id, r_peer(addresses), addresses)
            a_net.schedule(r_peer(addresses), now=True)
            await wait_until(a, lambda: bool(relayed(a_net)), timeout=30)
            assert a_net._host is not None and b_net._host is not None and b_net.relay_client is not None
            a_net._host.set_stream_handler(TProtocol(SINK), sink)
            await b_net.relay_client.dial_relayed(relayed(a_net)[0])
            stream = await b_net._host.new_stream(ID(a.identity.peer_id.raw), [TProtocol(SINK)])

            async def report() -> dict[str, float]:
                await relay.stdin.send_all(b"report\n")  # type: ignore[union-attr]
                with trio.fail_after(10):
                    return dict(json.loads(await lines.__anext__()))

            before = await report()
            started = trio.current_time()
            block = os.urandom(CHUNK)
            total = PHOTOS * PHOTO_BYTES
            with trio.fail_after(300):
                for offset in range(0, total, CHUNK):
                    await stream.write(block[:min(CHUNK, total - offset)])
                await stream.close_write()  # type: ignore[attr-defined]
                assert int(await stream.read(64)) == total
            seconds = trio.current_time() - started
            after = await report()
            await relay.stdin.aclose()  # type: ignore[union-attr]
            megabytes = total / 1e6
            cpu_ms_per_mb = (after["cpu"] - before["cpu"]) * 1000 / megabytes
            print(f"\nrelayed {megabytes:.0f} MB in {seconds:.2f} s: {megabytes / seconds:.1f} MB/s; "
                  f"relay CPU {cpu_ms_per_mb:.1f} ms per MB; relay counted {after['relayed'] / 1e6:.1f} MB")
            assert after["relayed"] >= total
            assert megabytes / seconds > 1.0
            assert cpu_ms_per_mb < 500

    trio.run(main)


def r_peer(addresses: list[str]) -> object:
    from threads_desktop.engine.core.ids import PeerId

    return PeerId.parse(addresses[0].rsplit("/p2p/", 1)[1])


async def _lines(stream: trio.abc.ReceiveStream) -> object:
    buffer = b""
    while True:
        while b"\n" not in buffer:
            data = await stream.receive_some(65536)
            if not data:
                return
            buffer += data
        line, buffer = buffer.split(b"\n", 1)
        yield line
