"""A real full disk for the tests: a small tmpfs mounted under the test's
folder (mounting needs root, which CI has)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def small_disk(folder: Path, size_kib: int) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0700", "tmpfs", str(folder)],
                   check=True, timeout=30)
    try:
        yield folder
    finally:
        if subprocess.run(["umount", str(folder)], timeout=30).returncode != 0:
            subprocess.run(["umount", "--lazy", str(folder)], check=True, timeout=30)  # still busy: detach it
            raise AssertionError(f"something still held files on {folder}")


def grow(folder: Path, size_kib: int) -> None:
    """Make room on the small disk, as a person freeing space would."""
    subprocess.run(["mount", "-o", f"remount,size={size_kib}k", str(folder)], check=True, timeout=30)
