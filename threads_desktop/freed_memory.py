"""Keeping freed memory in the process for the next allocation (glibc).

A photo transfer makes and drops objects of 64 KiB to 4 MiB hundreds of
times a second (a frame's bytes, a reply, each block). glibc's malloc maps
the larger ones fresh from the kernel and hands the heap's free top back
(its thresholds follow the sizes freed), so the next one is new memory
again: page faults and zeroing, and on a VM that returns free memory to its
host (the benchmark machine) each first touch costs ~3 s per GB. With the
thresholds fixed, up to KEPT_BYTES freed stay in the heap and come back warm
(docs/BENCHMARKS.md, transfer18e). Elsewhere than glibc: nothing changes.
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

# mallopt parameters (glibc malloc.h).
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3

MMAP_ABOVE = 32 << 20  # bytes: only allocations above this are mapped on their own (glibc's most)
KEPT_BYTES = 64 << 20  # bytes free at the heap's top before any goes back (a transfer has 4 x 4 MiB in flight)
TOP_PAD = 16 << 20  # bytes the heap grows by at once, beyond what is asked


def keep_freed_memory() -> bool:
    """Fix glibc's malloc thresholds for this process; whether it did."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    done = all(mallopt(parameter, value) == 1 for parameter, value in (
        (_M_MMAP_THRESHOLD, MMAP_ABOVE), (_M_TRIM_THRESHOLD, KEPT_BYTES), (_M_TOP_PAD, TOP_PAD)))
    if not done:
        log.debug("malloc's thresholds stay as they are")
    return done
