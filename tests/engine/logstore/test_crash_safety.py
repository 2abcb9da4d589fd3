"""A writer killed with SIGKILL in the middle of a burst of appends leaves a
store that opens, passes SQLite's integrity check, holds every append it had
reported as committed, and whose logs all verify."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from threads_desktop.engine.node import Node

WRITER = """
import sys, time
from pathlib import Path
from threads_desktop.engine.node import Node
node = Node.open(Path(sys.argv[1]))
threads = node.list_threads()
thread = threads[0].thread_id if threads else node.create_thread("chat", "crash").thread_id
done, deadline = 0, time.monotonic() + 60
while done < 100_000 and time.monotonic() < deadline:
    with node.database.write():  # a batch, then single appends: both commit paths
        for _ in range(20):
            node.store.append(thread, {"type": "chat.message", "text": "x" * 100}, hlc=done + 1)
            done += 1
    for _ in range(5):
        node.store.append(thread, {"type": "chat.message", "text": "y"}, hlc=done + 1)
        done += 1
    print(done, flush=True)
"""


@pytest.mark.slow
def test_a_writer_killed_mid_burst_leaves_a_sound_store(tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    rng = random.Random(7)
    committed_total = 0
    for _round in range(3):
        child = subprocess.Popen([sys.executable, "-c", WRITER, str(profile)], stdout=subprocess.PIPE, text=True,
                                 cwd=Path(__file__).parents[3])
        assert child.stdout is not None
        target = rng.randint(100, 1500)
        committed = 0
        for line in child.stdout:
            committed = int(line)
            if committed >= target:
                break
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL
        committed_total += committed

        node = Node.open(profile)  # the dead writer's lock is gone with it
        try:
            assert node.database.connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            [summary] = node.list_threads()
            verified = 0
            for log in node.store.logs(summary.thread_id):
                verified += node.store.verify_log(summary.thread_id, log.log_id)
            # Everything reported committed survived (plus the thread's first event).
            assert verified >= committed_total + 1
            committed_total = verified - 1
        finally:
            node.close()
