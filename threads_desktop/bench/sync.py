"""`threads-desktop bench sync`: two processes over 127.0.0.1.

A `serve` process holds the data; this process is the other peer (a fresh
profile that joins by link). Each figure comes with its floor measured in the
same run, because absolute times on a shared machine drift:
- join: a new member gets a thread of N events; floor = the same envelopes
  received locally (verify, decrypt, store, apply) with no network.
- latency: one new event reaching a peer that holds a big thread, against one
  that holds a small thread (same peers, same path).
- photos: an album's blocks (previews and originals); floor = copying the same
  blocks between two profiles with their CID checks (after the transfer, so that
  with `--only-photos` the transfer starts as Syncthing's does, its source just
  written; docs/BENCHMARKS.md transfer18i); with the CPU seconds each
  process spent per GB (`--only-photos` measures this alone, to alternate with
  scripts/bench-syncthing.py: scripts/bench-photos-vs-syncthing.py).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio
from PIL import Image

from threads_desktop.bench.waiting import until_or_fail
from threads_desktop.control_socket import CONTROL_SOCKET_NAME, call_control_socket
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.core.errors import NotFoundError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.db.documents import db_event
from threads_desktop.engine.db.models import bound_id
from threads_desktop.engine.logstore.envelopes import Envelope
from threads_desktop.engine.node import Node
from threads_desktop.serving import ServedProfile

PAGE = 500
WAIT_SECONDS = 600.0


def run(events: int, big: int, small: int, photos: int, photo_bytes: int, *,
        only_photos: bool = False, warm_memory_mib: int = 0) -> dict[str, Any]:
    """Every figure, or with `only_photos` the photos' alone (for alternating
    with scripts/bench-syncthing.py)."""
    with tempfile.TemporaryDirectory(prefix="threads-bench-sync-") as tmp:
        root = Path(tmp)
        source = root / "source"
        sizes = {} if only_photos else {"join": events, "big": big, "small": small}
        threads = _prepare_source(source, root, sizes, photos, photo_bytes)
        floors: dict[str, Any] = {}
        if not only_photos:
            floors["join"] = _receive_floor(source, threads["join"], root / "floor")
        album_bytes = _source_block_bytes(source, threads["album"])
        server = _Served(source)
        try:
            result, photo_run = trio.run(_measure, server, root / "member", threads, sizes, floors, album_bytes,
                                         warm_memory_mib)
        finally:
            server.stop()
        # The photos' floor after their transfer, not before: copying 300 MB first would leave the
        # transfer less recently freed memory than Syncthing's run gets, and on this VM a page the
        # host took back costs a host fault when touched again (docs/BENCHMARKS.md transfer18i).
        result["photos"] = photo_run.figures(_block_copy_floor(source, threads["album"], root / "floor-blocks"))
        result["photos"]["photos"] = photos
    result["cores"] = os.cpu_count()
    return result


def summary(result: dict[str, Any]) -> str:
    p = result["photos"]
    photos = (f"{p['photos']} photos, {p['megabytes']} MB      {p['megabytes_per_second']:>7} MB/s"
              f"   block-copy floor {p['floor_megabytes_per_second']} MB/s   ratio {p['ratio_to_floor']}"
              f"   CPU s/GB sender {p['sender_cpu_seconds_per_gb']} receiver {p['receiver_cpu_seconds_per_gb']}")
    if "join" not in result:
        return photos
    j, lat = result["join"], result["latency"]
    return "\n".join([
        f"join a {j['events']}-event thread      {j['seconds']:>7} s   local floor {j['floor_seconds']} s"
        f"   ratio {j['ratio_to_floor']}   (target <= {j['target_seconds']} s; admitted after"
        f" {j['admitted_seconds']} s)",
        f"one new event, {lat['big_events']} held   {lat['big_ms']:>7} ms   with {lat['small_events']} held"
        f" {lat['small_ms']} ms   ratio {lat['ratio']}   (target <= 1.5)",
        photos,
    ])


# --- the data -------------------------------------------------------------------------------


def _prepare_source(source: Path, root: Path, sizes: dict[str, int], photos: int,
                    photo_bytes: int) -> dict[str, ThreadId]:
    node = Node.open(source)
    try:
        threads = {}
        for name, count in sizes.items():
            thread_id = node.create_thread(ThreadKind.CHAT, name).thread_id
            own_log = node.store.own_log(thread_id)
            assert own_log is not None
            for start in range(0, count, PAGE):
                node.commit(thread_id, [db_event({
                    "op": "create", "c": "message", "id": bound_id(own_log, i.to_bytes(8, "big")),
                    "set": {"text": f"message number {i}, hello there"}})
                    for i in range(start, min(count, start + PAGE))])
            threads[name] = thread_id
        album = node.create_thread(ThreadKind.ALBUM, "album").thread_id
        folder = root / "camera"
        folder.mkdir()
        paths = [_noise_jpeg(folder / f"{i:04}.jpg", photo_bytes, i) for i in range(photos)]
        added = node.photos(album).add_files(paths).added
        assert len(added) == photos
        shutil.rmtree(folder)  # imported: like Syncthing's run, only the source's files stay written before the timing
        threads["album"] = album
        return threads
    finally:
        node.close()


def _noise_jpeg(path: Path, size: int, seed: int) -> Path:
    # Noise compresses badly, so the file is about as big as asked.
    side = int((size / 0.7) ** 0.5)  # ~0.7 byte per pixel at quality 80
    image = Image.frombytes("RGB", (side * 4 // 3, side * 3 // 4), os.urandom(side * 4 // 3 * (side * 3 // 4) * 3))
    image.putpixel((0, 0), (seed % 256, seed // 256 % 256, 0))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    path.write_bytes(out.getvalue())
    return path


def _envelopes(node: Node, thread_id: ThreadId) -> list[Envelope]:
    return [r.envelope for head in node.store.logs(thread_id)
            for r in node.store.records_after(thread_id, head.log_id, 0, limit=head.seq + 1)]


def _receive_floor(source: Path, thread_id: ThreadId, target: Path) -> float:
    writer, reader = Node.open(source), Node.open(target)
    try:
        envelopes = _envelopes(writer, thread_id)
        reader.store.create_thread(thread_id, writer.store.thread_keys(thread_id)[-1])
        for key in writer.store.thread_keys(thread_id)[:-1]:
            reader.store.add_thread_key(thread_id, key)
        started = time.perf_counter()
        for start in range(0, len(envelopes), PAGE):
            reader.receive(thread_id, envelopes[start:start + PAGE])
        return time.perf_counter() - started
    finally:
        writer.close()
        reader.close()


def _block_copy_floor(source: Path, thread_id: ThreadId, target: Path) -> dict[str, float]:
    writer, reader = Node.open(source), Node.open(target)
    try:
        blobs = writer.blobs(thread_id)
        entries = [e for _, e in blobs.inventory(0, 1_000_000)]
        reader.store.create_thread(thread_id, writer.store.thread_keys(thread_id)[-1])
        copy = reader.blobs(thread_id)
        started = time.perf_counter()
        total = 0
        for start in range(0, len(entries), 64):
            batch = entries[start:start + 64]
            with reader.database.write():
                for cid, data in blobs.read_blocks([e.cid for e in batch], 1 << 30):
                    entry = next(e for e in batch if e.cid == cid)
                    copy.add_fetched(entry, data)  # checks the block against its CID, as the receiver does
                    total += len(data)
        return {"seconds": time.perf_counter() - started, "bytes": total}
    finally:
        writer.close()
        reader.close()


# --- the other process -----------------------------------------------------------------------


class _Served:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.process = subprocess.Popen(
            [sys.executable, "-m", "threads_desktop", "--data-dir", str(data_dir), "serve", "--listen",
             "/ip4/127.0.0.1/tcp/0", "--no-mdns"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        lines: queue.Queue[str] = queue.Queue()
        assert self.process.stdout is not None
        threading.Thread(target=_pump, args=(self.process.stdout, lines), daemon=True).start()
        try:
            self.ready = json.loads(lines.get(timeout=60))
        except queue.Empty:
            self.stop()
            raise RuntimeError("the serve process did not start") from None

    def command(self, *argv: str) -> str:  # blocking: call from a worker thread inside trio
        """A CLI command run by the serve process (through its control socket)."""
        reply = call_control_socket(self.data_dir / CONTROL_SOCKET_NAME, list(argv), timeout=120)
        if reply.exit_code != 0:
            raise RuntimeError(f"{argv[0]} failed: {reply.stderr}")
        return reply.stdout

    def cpu_seconds(self) -> float:
        """User + system CPU the serve process has used (Linux /proc)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _pump(stream: Any, lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


# --- measuring ------------------------------------------------------------------------------


def touch_memory(mib: int) -> None:
    """Write `mib` MiB once and free them, just before a clock starts: on a VM
    whose balloon takes freed memory back (virtio-balloon free page reporting),
    the first touch of such a page costs a host fault, so a run's figures
    follow what ran before it; scripts/bench-photos-vs-syncthing.py has both
    tools' runs do this, to start alike (docs/BENCHMARKS.md transfer18i)."""
    if mib > 0:
        with contextlib.suppress(MemoryError):  # refused: the run goes on unwarmed
            block = bytearray(mib << 20)  # zero-filled: every page written
            del block


def _source_block_bytes(source: Path, thread_id: ThreadId) -> int:
    node = Node.open(source)
    try:
        return _block_bytes(node, thread_id)
    finally:
        node.close()


def _block_bytes(node: Node, thread_id: ThreadId) -> int:
    row = node.database.connection.execute("SELECT COALESCE(SUM(size), 0) FROM thread_blocks WHERE thread_id = ?",
                                           (thread_id.raw,)).fetchone()
    return int(row[0])


def _has_message(node: Node, thread_id: ThreadId, message_id: str) -> Callable[[], bool]:
    def check() -> bool:
        if not node.directory.holds(thread_id):
            return False
        try:
            node.collections(thread_id)["message"].get(message_id)
        except NotFoundError:
            return False
        return True
    return check


def _messages(node: Node, thread_id: ThreadId) -> int:
    """Messages shown (none until the thread is ours: admitted)."""
    return node.collections(thread_id)["message"].count() if node.directory.holds(thread_id) else 0


async def _measure(server: _Served, member_dir: Path, threads: dict[str, ThreadId], sizes: dict[str, int],
                   floors: dict[str, Any], album_bytes: int,
                   warm_memory_mib: int) -> tuple[dict[str, Any], _PhotoRun]:
    member = Node.open(member_dir)
    try:
        links = {name: InviteLink.parse(server.command("invite", str(t), "--role", "write").strip())
                 for name, t in threads.items()}
        async with trio.open_nursery() as nursery:
            served = ServedProfile(listen=["/ip4/127.0.0.1/tcp/0"], lan_discovery=False, pull_interval=3600.0)
            await nursery.start(served.run, member)
            result: dict[str, Any] = {}
            if sizes:
                result = await _measure_threads(server, member, links, threads, sizes, floors)
            album = threads["album"]
            touch_memory(warm_memory_mib)
            cpu_before = server.cpu_seconds(), time.process_time()  # this process: every thread of it
            started = time.perf_counter()
            member.join(links["album"])
            await until_or_fail(member, lambda: _block_bytes(member, album) >= album_bytes, WAIT_SECONDS)
            photo_seconds = time.perf_counter() - started
            cpu = server.cpu_seconds() - cpu_before[0], time.process_time() - cpu_before[1]
            nursery.cancel_scope.cancel()
    finally:
        member.close()
    return result, _PhotoRun(album_bytes, photo_seconds, *cpu)


@dataclass(frozen=True)
class _PhotoRun:
    """The album's transfer as measured: its bytes, seconds, and each process's CPU seconds."""

    moved: int  # bytes
    seconds: float
    sender_cpu: float
    receiver_cpu: float

    def figures(self, floor: dict[str, float]) -> dict[str, Any]:
        if floor["bytes"] != self.moved:
            raise RuntimeError(f"the floor copied {floor['bytes']} bytes, the transfer moved {self.moved}")
        megabytes = self.moved / 1e6
        return {
            "megabytes": round(megabytes, 1),
            "seconds": round(self.seconds, 2),
            "megabytes_per_second": round(megabytes / self.seconds, 1),
            "floor_megabytes_per_second": round(megabytes / floor["seconds"], 1),
            "ratio_to_floor": round(self.seconds / floor["seconds"], 2),
            "sender_cpu_seconds_per_gb": round(self.sender_cpu / (megabytes / 1000), 2),
            "receiver_cpu_seconds_per_gb": round(self.receiver_cpu / (megabytes / 1000), 2),
            "how": "a new member fetching every block (previews and originals); floor = copying the blocks"
                   " between two profiles with their CID checks, after the transfer; CPU = user + system of"
                   " each process over the same interval, per 10^9 bytes"}


async def _measure_threads(server: _Served, member: Node, links: dict[str, InviteLink],
                           threads: dict[str, ThreadId], sizes: dict[str, int],
                           floors: dict[str, Any]) -> dict[str, Any]:
    join_id = threads["join"]
    started = time.perf_counter()
    admitted: list[float] = []  # when an admin's answer gave us the thread (issue 16's admission)

    def joined() -> bool:
        if not admitted and member.directory.holds(join_id):
            admitted.append(time.perf_counter() - started)
        return bool(admitted) and _messages(member, join_id) == sizes["join"]

    member.join(links["join"])
    await until_or_fail(member, joined, WAIT_SECONDS)
    join_seconds = time.perf_counter() - started

    for name in ("big", "small"):
        member.join(links[name])
    await until_or_fail(member, lambda: all(_messages(member, threads[n]) == sizes[n] for n in ("big", "small")),
                        WAIT_SECONDS)
    latency: dict[str, list[float]] = {"big": [], "small": []}
    for round_ in range(7):
        for name in ("big", "small"):
            thread_id = threads[name]
            started = time.perf_counter()
            # In a worker thread: this thread must go on serving the network meanwhile.
            message_id = (await trio.to_thread.run_sync(
                server.command, "say", str(thread_id), f"ping {round_}")).strip()
            await until_or_fail(member, _has_message(member, thread_id, message_id), WAIT_SECONDS)
            latency[name].append(time.perf_counter() - started)

    big_ms, small_ms = (statistics.median(latency[n]) * 1000 for n in ("big", "small"))
    return {
        "join": {"events": sizes["join"], "seconds": round(join_seconds, 2), "floor_seconds": round(floors["join"], 2),
                 "ratio_to_floor": round(join_seconds / floors["join"], 2), "target_seconds": 5.0,
                 "admitted_seconds": round(admitted[0], 3),
                 "how": "from taking the link to every message applied (admission by /threads/join/1.0.0,"
                        " then sync); floor = the same records received locally"},
        "latency": {"big_events": sizes["big"], "small_events": sizes["small"], "big_ms": round(big_ms, 1),
                    "small_ms": round(small_ms, 1), "ratio": round(big_ms / small_ms, 2),
                    "how": "median of 7: `say` through the served process' control socket until applied here"},
    }
