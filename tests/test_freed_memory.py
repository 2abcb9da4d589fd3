"""Freed memory kept in the process (threads_desktop/freed_memory.py): a
transfer's rounds of large objects come back without page faults. Each case
runs in a process of its own, since the setting is the process's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A reply's worth of 1 MiB blocks made and dropped, twenty times: the page
# faults of the rounds after the first.
ROUNDS = """
import resource, sys
from threads_desktop.freed_memory import keep_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "keep" else False
def faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
held = [bytes(1 << 20) for _ in range(24)]
del held
start = faults()
for _ in range(20):
    held = [b"x" * (1 << 20) for _ in range(24)]
    del held
print(kept, faults() - start)
"""


def _rounds(mode: str) -> tuple[bool, int]:
    out = subprocess.run([sys.executable, "-c", ROUNDS, mode], cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=60).stdout.split()
    return out[0] == "True", int(out[1])


def test_large_objects_made_again_reuse_the_memory_freed_before() -> None:
    kept, faults = _rounds("keep")
    assert kept
    assert faults < 2_000  # 20 rounds of 24 MiB: 122,880 pages if each came fresh


def test_without_it_each_round_is_fresh_memory() -> None:
    # What the setting is for: glibc's own thresholds give the heap's top back.
    kept, faults = _rounds("plain")
    assert not kept
    assert faults > 50_000
