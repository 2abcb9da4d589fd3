"""`bench sync --only-photos` moves an album's blocks between two processes
and reports the rate and the CPU each side spent per GB (issue 18: photos
as fast as Syncthing, at a CPU cost near its own). Its figures are for
people; this checks they are reported and consistent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_bench_sync_reports_photo_throughput_and_each_sides_cpu_per_gb() -> None:
    tree = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-m", "threads_desktop", "bench", "sync", "--only-photos", "--json", "--photos", "6",
         "--photo-bytes", "200000", "--warm-memory", "16"], cwd=tree, env=dict(os.environ, PYTHONPATH=str(tree)),
        capture_output=True, text=True, timeout=300, check=True)
    result = json.loads(out.stdout)
    assert "join" not in result and "latency" not in result  # the photos alone
    photos = result["photos"]
    assert photos["photos"] == 6 and photos["megabytes"] > 6 * 0.15
    # Each figure is rounded (seconds to 10 ms, the others to 0.1): on so few
    # bytes the rate is checked within what that rounding allows.
    megabytes, seconds = photos["megabytes"], photos["seconds"]
    low, high = (megabytes - 0.05) / (seconds + 0.005), (megabytes + 0.05) / max(seconds - 0.005, 1e-9)
    assert low - 0.1 <= photos["megabytes_per_second"] <= high + 0.1
    # Each side did the work of a transfer: some CPU, and not absurdly much for ~1.3 MB.
    assert photos["sender_cpu_seconds_per_gb"] > 0 and photos["receiver_cpu_seconds_per_gb"] > 0
    assert photos["sender_cpu_seconds_per_gb"] * photos["megabytes"] / 1000 < 60
    # The floor (the same blocks copied between two profiles, after the transfer: the run fails if it
    # copied other bytes than the transfer moved) comes with it.
    assert photos["floor_megabytes_per_second"] > 0 and photos["ratio_to_floor"] > 0
