"""Acceptance: two served peers on one LAN segment, in network namespaces,
with no address of each other, find each other over mDNS and sync a chat.

Profiles are prepared offline in the test's own namespace (no networking);
only the `serve` processes run in the namespaces, with mDNS on. The other CLI
commands reach them through each profile's control socket (a Unix socket, so
the test's namespace is fine).
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from threads_desktop.bench.netns import Host, Network, lan, stop_process
from threads_desktop.engine.acl.links import InviteLink

# Apps in namespaces dialling each other under a deadline: run side by side on two xdist
# workers (and once right after such a run) both files failed to let B in within 30 s;
# by themselves they passed 3 times of 3. Cause not found.
pytestmark = pytest.mark.alone

ROOT = Path(__file__).parents[3]
LISTEN = "/ip4/0.0.0.0/tcp/4141"
READY_DEADLINE = 20.0  # from start to the `serving` line (zeroconf probes ~2 s)
SYNC_DEADLINE = 30.0  # each step: found, joined, a message across
POLL_INTERVAL = 0.5
CLI_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0

T = TypeVar("T")


def cli(data_dir: Path, *args: str) -> str:
    """Run a CLI command on a profile (forwarded to its `serve` if running); stdout."""
    result = subprocess.run([sys.executable, "-m", "threads_desktop", "--data-dir", str(data_dir), *args],
                            capture_output=True, text=True, timeout=CLI_TIMEOUT, cwd=ROOT)
    assert result.returncode == 0, f"{' '.join(args)}: exit {result.returncode}: {result.stderr.strip()}"
    return result.stdout


def join_offline(data_dir: Path, link: str) -> str:
    """`join LINK --wait 0`: the pending join is kept and nobody is waited
    for (exit 75: still waiting, as `join --help` lists); stdout."""
    result = subprocess.run([sys.executable, "-m", "threads_desktop", "--data-dir", str(data_dir), "join", link,
                             "--wait", "0"], capture_output=True, text=True, timeout=CLI_TIMEOUT, cwd=ROOT)
    assert result.returncode == 75, f"join: exit {result.returncode}: {result.stderr.strip()}"
    return result.stdout


def cli_json(data_dir: Path, *args: str) -> Any:
    return json.loads(cli(data_dir, *args, "--json"))


def poll(what: str, probe: Callable[[], T | None], logs: Callable[[], str],
         deadline: float = SYNC_DEADLINE) -> T:
    """Call `probe` every POLL_INTERVAL until it returns something, at most `deadline` s."""
    end = time.monotonic() + deadline
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > end:
            pytest.fail(f"{what}: not within {deadline:g} s\n{logs()}")
        time.sleep(POLL_INTERVAL)


class Served:
    """`threads-desktop serve` for one profile inside a namespace."""

    def __init__(self, net: Network, host: Host, data_dir: Path, log_path: Path) -> None:
        self.host = host
        self.data_dir = data_dir
        self.log_path = log_path
        with log_path.open("w") as log:  # the child keeps its own copy
            self.process = net.popen(
                host, [sys.executable, "-m", "threads_desktop", "--data-dir", str(data_dir),
                       "serve", "--listen", LISTEN, "--pull-interval", "2"],
                cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True)
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def ready(self, deadline: float) -> dict[str, Any]:
        """The `serving` line (waits until `deadline`, a monotonic time)."""
        try:
            line = self._lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            pytest.fail(f"{self.data_dir.name} not serving in time\n{self.log()}")
        assert line is not None, f"{self.data_dir.name} exited before serving\n{self.log()}"
        return dict(json.loads(line))

    def log(self) -> str:
        return f"--- {self.data_dir.name} ({self.host.ip}) stderr:\n{self.log_path.read_text()[-3000:]}"


@pytest.fixture
def lan2() -> Iterator[Network]:
    with lan(2) as network:
        yield network


def test_peers_with_no_address_in_common_find_each_other_over_mdns_and_sync(
        lan2: Network, tmp_path: Path) -> None:
    alice, bob = tmp_path / "A", tmp_path / "B"
    # Offline: A makes a chat and a link (not serving, so the link carries no
    # addresses); B joins by it (no keys: an admin admits it once B finds A over mDNS).
    thread = cli(alice, "create", "chat", "Us").strip()
    link = cli(alice, "invite", thread, "--role", "write").strip()
    assert InviteLink.parse(link).addresses == ()
    assert join_offline(bob, link).strip() == thread
    a_id, b_id = cli_json(alice, "id")["peer_id"], cli_json(bob, "id")["peer_id"]
    assert [m["peer"] for m in cli_json(alice, "members", thread)["members"]] == [a_id]

    started = time.monotonic()
    host_a, host_b = lan2.hosts
    served = [Served(lan2, host_a, alice, tmp_path / "A.log"), Served(lan2, host_b, bob, tmp_path / "B.log")]
    ready_by = time.monotonic() + READY_DEADLINE
    lines = [s.ready(ready_by) for s in served]

    def logs() -> str:
        return "\n".join(s.log() for s in served)

    for line, me, other, peer_id in ((lines[0], host_a, host_b, a_id), (lines[1], host_b, host_a, b_id)):
        assert line["serving"] == peer_id
        assert f"/ip4/{me.ip}/tcp/4141/p2p/{peer_id}" in line["addresses"]
        assert not any(f"/ip4/{other.ip}/" in a for a in line["addresses"])

    def b_is_member() -> list[str] | None:
        members = cli_json(alice, "members", thread)["members"]
        return [m["peer"] for m in members] if any(m["peer"] == b_id for m in members) else None

    assert sorted(poll("A lists B as a member", b_is_member, logs)) == sorted([a_id, b_id])
    joined = time.monotonic() - started

    def messages_on(data_dir: Path, text: str) -> list[dict[str, Any]] | None:
        items = cli_json(data_dir, "show", thread)["items"]
        return items if any(i.get("text") == text for i in items) else None

    cli(alice, "say", thread, "Hello from A")
    got = poll("A's message on B", lambda: messages_on(bob, "Hello from A"), logs)
    assert [i["text"] for i in got] == ["Hello from A"]
    cli(bob, "say", thread, "Hello from B")
    got = poll("B's message on A", lambda: messages_on(alice, "Hello from B"), logs)
    assert sorted(i["text"] for i in got) == ["Hello from A", "Hello from B"]
    synced = time.monotonic() - started

    for s in served:
        assert stop_process(s.process, timeout=STOP_TIMEOUT) == 0, s.log()
        assert "stopped" in s.log_path.read_text(), s.log()
    # Offline again: each profile opens in this process and shows both messages.
    for data_dir in (alice, bob):
        shown = cli_json(data_dir, "show", thread)
        assert sorted(i["text"] for i in shown["items"]) == ["Hello from A", "Hello from B"]
    assert sorted(m["peer"] for m in cli_json(bob, "members", thread)["members"]) == sorted([a_id, b_id])
    print(f"joined after {joined:.1f} s, synced both ways after {synced:.1f} s")
