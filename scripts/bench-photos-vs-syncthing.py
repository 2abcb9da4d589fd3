#!/usr/bin/env python3
"""Photos moved by `threads-desktop bench sync --only-photos` and by Syncthing,
alternated in one run (the machine may be shared: only figures taken side by
side compare), each as many rounds as asked (default 3), order swapped every
round. Prints one JSON line per run, then medians and the ratios:

    ours/syncthing MB/s, and CPU seconds per GB (sender, receiver, both).

Syncthing moves the same bytes: 200 files of (our megabytes / 200) each.
`--tree` runs our side from another source tree (a checkout of main, say),
to compare before and after in the same run as well. Every run, both tools',
writes and frees `--warm-memory` MiB just before its clock starts (WARM_MIB).

Usage: scripts/bench-photos-vs-syncthing.py [--rounds 3] [--photos 200] [--tree DIR ...] [--warm-memory MIB]
Standard library only; needs the `syncthing` binary (bench only: Debian's syncthing).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RUN_SECONDS = 900  # one run's bound
# Each run, ours and Syncthing's, writes and frees this much memory just before its clock starts. This
# VM's balloon takes freed memory back (virtio-balloon free page reporting), and the first touch of such a
# page costs a host fault: ~3 s/GB of page cache written, against ~0.3 warm. Without it a run's figures
# followed what ran just before it and how much its own set-up wrote (docs/BENCHMARKS.md transfer18i).
WARM_MIB = 1024


def warm(mib: int) -> list[str]:
    return ["--warm-memory", str(mib)] if mib else []  # none: a tree from before the option runs too


def ours(tree: Path, photos: int, warm_mib: int) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run([sys.executable, "-m", "threads_desktop", "bench", "sync", "--only-photos", "--json",
                          "--photos", str(photos), *warm(warm_mib)], cwd=tree, env=env, capture_output=True,
                         text=True, timeout=RUN_SECONDS, check=True)
    photos_result: dict[str, Any] = json.loads(out.stdout)["photos"]
    return photos_result


def syncthing(files: int, file_bytes: int, warm_mib: int) -> dict[str, Any]:
    out = subprocess.run([sys.executable, str(HERE / "bench-syncthing.py"), "--files", str(files),
                          "--file-bytes", str(file_bytes), *warm(warm_mib)], capture_output=True, text=True,
                         timeout=RUN_SECONDS, check=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--tree", type=Path, action="append",
                        help="source tree(s) of ours to measure (default: this one)")
    parser.add_argument("--warm-memory", type=int, default=WARM_MIB, metavar="MIB",
                        help=f"each run writes and frees this many MiB just before its clock starts (default"
                             f" {WARM_MIB}; 0 for a tree from before the option)")
    args = parser.parse_args()
    trees = [t.resolve() for t in (args.tree or [HERE.parent])]
    runs: dict[str, list[dict[str, Any]]] = {str(t): [] for t in trees}
    runs["syncthing"] = []
    file_bytes = 0
    for round_ in range(max(1, min(args.rounds, 10))):
        order = [*trees, "syncthing"] if round_ % 2 == 0 else ["syncthing", *trees]
        if not file_bytes:
            order = [*trees, "syncthing"]  # ours first once: it says how many bytes to move
        for who in order:
            if who == "syncthing":
                result = syncthing(args.photos, file_bytes, args.warm_memory)
                row = {"megabytes_per_second": result["megabytes_per_second"],
                       "sender_cpu_seconds_per_gb": result["sender_cpu_seconds_per_gb"],
                       "receiver_cpu_seconds_per_gb": result["receiver_cpu_seconds_per_gb"],
                       "megabytes": result["megabytes"], "seconds": result["seconds"]}
            else:
                row = ours(Path(who), args.photos, args.warm_memory)
                file_bytes = file_bytes or round(row["megabytes"] * 1e6 / args.photos)
            row = {"round": round_ + 1, "who": str(who), **{k: row[k] for k in (
                "megabytes", "seconds", "megabytes_per_second", "sender_cpu_seconds_per_gb",
                "receiver_cpu_seconds_per_gb")}}
            runs[str(who)].append(row)
            print(json.dumps(row), flush=True)
    keys = ("megabytes_per_second", "sender_cpu_seconds_per_gb", "receiver_cpu_seconds_per_gb")
    medians = {who: {k: statistics.median(r[k] for r in rows) for k in keys} for who, rows in runs.items()}
    for who in medians:
        medians[who]["both_cpu_seconds_per_gb"] = round(
            statistics.median(r["sender_cpu_seconds_per_gb"] + r["receiver_cpu_seconds_per_gb"] for r in runs[who]), 2)
    base = medians["syncthing"]
    for who, m in medians.items():
        line = {"who": who, "median": m}
        if who != "syncthing":
            line["ratio_to_syncthing"] = {
                "megabytes_per_second": round(m["megabytes_per_second"] / base["megabytes_per_second"], 2),
                "both_cpu_seconds_per_gb": round(m["both_cpu_seconds_per_gb"] / base["both_cpu_seconds_per_gb"], 2)}
        print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
