"""`threads-desktop bench reach`: friends behind home routers, in the lab.

For each pair of home routers (bench/lab.py: namespaces this process makes
and deletes; root only), real `serve` processes play the issue's story:
- F, a follower on the public host, is A's relay (`relay add`) and backs up
  a chat of A's (so it relays for A: only peers that share a thread may
  reserve; not the album, so that what F spends is relaying, not backing up);
- A, behind router 1, adds the photos and invites B by link once its link
  carries its relayed address;
- B, behind router 2, joins by that link.
Each pair reports the connection B ends with (direct, punched, relayed),
the seconds from join to the first thumbnail, MB/s of the originals coming
in, and the relay's CPU seconds per MB relayed (F's own process time: a
ratio of work done, not a wall time). Targets (issue 15): first thumbnail
<= 5 s through a relay; direct for every pair of endpoint-independent
routers; relayed >= 10 MB/s; relay CPU <= 40 ms per MB.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from PIL import Image

from threads_desktop.bench.lab import GLOBAL_LOOKING, Lab, NatKind, Peer, home_networks

PAIRS: tuple[tuple[NatKind, NatKind], ...] = (
    ("port_preserving", "port_preserving"),
    ("port_preserving", "port_remapping"),
    ("port_remapping", "port_remapping"),
    ("port_preserving", "symmetric"),
    ("symmetric", "symmetric"),
    ("upnp", "port_preserving"),
)
# Routers that map endpoint-independently (hole punching can work across them).
INDEPENDENT: frozenset[str] = frozenset({"port_preserving", "port_remapping", "upnp"})
STEP_SECONDS = 60.0  # any one step (a reservation, a join, the transfer) at most
POLL_SECONDS = 0.1
T = TypeVar("T")


class StepFailed(Exception):
    """A step of a pair did not happen in time: the pair reports it."""


def run(photos: int, photo_bytes: int, pairs: Sequence[tuple[NatKind, NatKind]] = PAIRS) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="threads-bench-reach-") as tmp:
        root = Path(tmp)
        files = _photo_files(root / "photos", photos, photo_bytes)
        photo_bytes = sum(f.stat().st_size for f in files) // max(1, len(files))
        results = []
        for number, (a_kind, b_kind) in enumerate(pairs):
            try:
                results.append(_pair(root / f"pair{number}", a_kind, b_kind, files))
            except StepFailed as exc:
                results.append({"routers": [a_kind, b_kind], "failed": str(exc)})
    return {"photos": photos, "photo_bytes": photo_bytes,
            "pairs": results, "targets": _targets(results)}


def _pair(workdir: Path, a_kind: NatKind, b_kind: NatKind, files: list[Path]) -> dict[str, Any]:
    with home_networks(a_kind, b_kind, prefixes=GLOBAL_LOOKING, ipv6=False) as lab:
        [a_host], [b_host] = (router.hosts for router in lab.routers)
        f = lab.serve(lab.pub, workdir / "F", "--no-mdns")
        a = lab.serve(a_host, workdir / "A", "--no-mdns")
        b = lab.serve(b_host, workdir / "B", "--no-mdns")
        peers = [f, a, b]
        f_address = next(x for x in f.ready()["addresses"] if f"/ip4/{lab.pub.ip}/" in x)
        a.ready()
        b.ready()
        _cli(lab, a, "relay", "add", f_address)
        chat = _cli(lab, a, "create", "chat", "Backup").strip()
        # --wait 0: the join goes on in the served profile (75: still waiting); timed from here as before.
        _cli(lab, f, "join", _cli(lab, a, "invite", chat, "--role", "follow").strip(), "--wait", "0", expect=75)
        album = _cli(lab, a, "create", "album", "Reach").strip()
        _cli(lab, a, "add", album, *map(str, files), timeout=STEP_SECONDS * 2)
        link = _wait("A's link to carry its relayed address", lambda: _relayed_link(lab, a, album), peers)
        cpu_before = _cpu_seconds(f)
        joined = time.monotonic()
        _cli(lab, b, "join", link, "--wait", "0", expect=75)
        _wait("B to see a thumbnail", lambda: _shown(lab, b, album) or None, peers)
        first_thumbnail = time.monotonic() - joined
        started = time.monotonic()
        _wait("B to hold every original", lambda: _originals_here(lab, b, album) == len(files) or None, peers,
              STEP_SECONDS * 3)
        transfer = time.monotonic() - started
        relay_cpu = _cpu_seconds(f) - cpu_before
        connection = _connection(lab, b, a)
        megabytes = sum(p.stat().st_size for p in files) / 1e6
        kind = connection
        if connection == "internet" and a_kind != "upnp":
            kind = "punched"  # both behind NAT: a direct connection had to be punched
        elif connection == "internet":
            kind = "direct"
        return {"routers": [a_kind, b_kind], "connection": kind,
                "join_to_first_thumbnail_s": round(first_thumbnail, 2),
                "originals_mb_per_s": round(megabytes / max(transfer, 1e-3), 1),
                "relay_cpu_ms_per_mb": round(1000 * relay_cpu / megabytes, 1) if kind == "relay" else None}


def _cli(lab: Lab, peer: Peer, *args: str, timeout: float = STEP_SECONDS, expect: int = 0) -> str:
    assert peer.node is not None and peer.data_dir is not None
    try:
        return lab.cli(peer.node, peer.data_dir, *args, timeout=timeout, expect=expect)
    except AssertionError as exc:
        raise StepFailed(str(exc)) from None


def _wait(what: str, probe: Callable[[], T | None], peers: list[Peer], seconds: float = STEP_SECONDS) -> T:
    end = time.monotonic() + seconds
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > end:
            raise StepFailed(f"{what}: not within {seconds:g} s\n" + "\n".join(p.log(15) for p in peers))
        time.sleep(POLL_SECONDS)


def _relayed_link(lab: Lab, a: Peer, album: str) -> str | None:
    identity = json.loads(_cli(lab, a, "id", "--json"))
    if not any("/p2p-circuit" in address for address in identity.get("addresses", [])):
        return None
    return _cli(lab, a, "invite", album, "--role", "write").strip()


def _shown(lab: Lab, b: Peer, album: str) -> int:
    try:
        return len(json.loads(_cli(lab, b, "show", album, "--json"))["items"])
    except StepFailed:
        return 0  # not joined yet as far as the records go


def _originals_here(lab: Lab, b: Peer, album: str) -> int:
    try:
        items = json.loads(_cli(lab, b, "show", album, "--json"))["items"]
    except StepFailed:
        return 0
    return sum(1 for item in items if item.get("original_here"))


def _connection(lab: Lab, b: Peer, a: Peer) -> str:
    a_id = a.ready()["serving"]
    for peer in json.loads(_cli(lab, b, "peers", "--json"))["peers"]:
        if peer["peer_id"] == a_id:
            return str(peer["connection"])
    return "none"


def _cpu_seconds(peer: Peer) -> float:
    """The process's user + system CPU time so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{peer.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _photo_files(folder: Path, count: int, size: int) -> list[Path]:
    """JPEGs of noise about `size` bytes each (noise barely compresses)."""
    folder.mkdir(parents=True)
    side = max(64, int((size / 1.2) ** 0.5))
    files = []
    for number in range(count):
        image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=90)
        path = folder / f"photo-{number:03}.jpg"
        path.write_bytes(buffer.getvalue())
        files.append(path)
    return files


def _targets(results: list[dict[str, Any]]) -> dict[str, Any]:
    relayed = [r for r in results if r.get("connection") == "relay"]
    independent = [r for r in results if set(r["routers"]) <= INDEPENDENT]  # a failed pair counts as not direct
    return {
        "first_thumbnail_through_relay_s": max((r["join_to_first_thumbnail_s"] for r in relayed), default=None),
        "direct_share_of_independent_pairs": (
            sum(1 for r in independent if r.get("connection") in ("direct", "punched")) / len(independent)
            if independent else None),
        "relayed_mb_per_s_median": statistics.median([r["originals_mb_per_s"] for r in relayed]) if relayed else None,
        "relay_cpu_ms_per_mb_median": (
            statistics.median([r["relay_cpu_ms_per_mb"] for r in relayed]) if relayed else None),
    }


def summary(result: dict[str, Any]) -> str:
    lines = [f"{result['photos']} photos of ~{result['photo_bytes'] / 1e6:.1f} MB each"]
    for pair in result["pairs"]:
        routers = " / ".join(pair["routers"])
        if "failed" in pair:
            lines.append(f"{routers}: FAILED {pair['failed'].splitlines()[0]}")
            continue
        cpu = pair["relay_cpu_ms_per_mb"]
        lines.append(f"{routers}: {pair['connection']}, first thumbnail {pair['join_to_first_thumbnail_s']} s, "
                     f"{pair['originals_mb_per_s']} MB/s" + (f", relay {cpu} ms CPU per MB" if cpu is not None else ""))
    lines.append("targets: " + json.dumps(result["targets"]))
    return "\n".join(lines)

