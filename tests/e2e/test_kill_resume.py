"""A peer killed with SIGKILL in the middle of a large sync resumes after a
restart, loses nothing and converges."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from tests.e2e.served import ServedPeer, cli, cli_json, eventually
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node

MESSAGES = 6000


def _records(data_dir: Path) -> int:
    try:
        with sqlite3.connect(f"file:{data_dir / 'profile.sqlite3'}?mode=ro", uri=True, timeout=1) as sql:
            return int(sql.execute("SELECT count(*) FROM records").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet, or busy for a moment
        return 0


def test_a_peer_killed_mid_sync_resumes_loses_nothing_and_converges(tmp_path: Path) -> None:
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    node = Node.open(a_dir)
    try:
        thread_id = node.create_thread(ThreadKind.CHAT, "Big").thread_id
        chat = node.chat(thread_id)
        for i in range(MESSAGES):
            chat.post(f"message {i}")
        total = sum(h.seq for h in node.store.logs(thread_id))
    finally:
        node.close()
    a, b = ServedPeer(a_dir).start(), ServedPeer(b_dir)
    try:
        # Joined, not waited for: B's serve is let in by A and syncs (75: still waiting, as join --help says).
        link = cli(a_dir, "invite", str(thread_id), "--role", "write").stdout.strip()
        assert cli(b_dir, "join", link, "--wait", "0", check=False).returncode == 75
        b.start()
        deadline = time.monotonic() + 60
        held = 0
        while held < total // 10 and time.monotonic() < deadline:
            held = _records(b_dir)
            time.sleep(0.02)
        b.kill()
        held = _records(b_dir)
        assert 0 < held < total, f"the kill came at {held} of {total} records: not in the middle"
        b.start()
        eventually(lambda: cli_json(b_dir, "ls")[0]["messages"] == MESSAGES, timeout=120)
        assert cli_json(a_dir, "show", str(thread_id))["items"] == cli_json(b_dir, "show", str(thread_id))["items"]
        assert b.stop() == 0
    finally:
        a.kill()
        b.kill()
    node = Node.open(b_dir)  # every record of every log still verifies, chain and signatures
    try:
        # total + the invite + A's admit of B + B's bind
        assert sum(node.store.verify_log(thread_id, h.log_id) for h in node.store.logs(thread_id)) == total + 3
    finally:
        node.close()
