"""A served peer whose machine gains an address (a laptop joins another
network) tells of it within seconds: its new links carry the address, and
its mDNS announcement changes. In network namespaces the test creates."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.engine.net.test_lan_sync import READY_DEADLINE, ROOT, Served, cli, join_offline, poll
from threads_desktop.bench.netns import Network, lan, stop_process
from threads_desktop.engine.acl.links import InviteLink

# Apps in namespaces dialling each other under a deadline: run side by side on two xdist
# workers (and once right after such a run) both files failed to let B in within 30 s;
# by themselves they passed 3 times of 3. Cause not found.
pytestmark = pytest.mark.alone

NEW_IP = "10.77.0.50"  # on the segment of lan(2): 10.77.0.1 and 10.77.0.2 are the hosts
CHANGE_DEADLINE = 20.0  # the interfaces are read every 5 s


@pytest.fixture
def lan2() -> Iterator[Network]:
    with lan(2) as network:
        yield network


def _lines(process: subprocess.Popen[str]) -> queue.Queue[dict[str, Any]]:
    lines: queue.Queue[dict[str, Any]] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(json.loads(line))

    threading.Thread(target=read, daemon=True).start()
    return lines


def test_a_new_address_reaches_links_and_the_lan_announcement_within_seconds(lan2: Network, tmp_path: Path) -> None:
    profile = tmp_path / "B"
    thread = cli(profile, "create", "chat", "Us").strip()
    host_b, host_watch = lan2.hosts
    served = Served(lan2, host_b, profile, tmp_path / "B.log")
    watcher = lan2.popen(host_watch, [
        sys.executable, str(Path(__file__).with_name("discovery_peer.py")),
        "--host-netns", str(os.stat("/proc/self/ns/net").st_ino),
        "--address", f"/ip4/{host_watch.ip}/tcp/4001", "--lifetime", "90"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        b_id = served.ready(time.monotonic() + READY_DEADLINE)["serving"]
        announced = _lines(watcher)

        def announcement(with_ip: str) -> list[str] | None:
            try:
                while True:
                    line = announced.get(timeout=0.1)
                    if line.get("peer_id") == b_id and any(f"/ip4/{with_ip}/" in a for a in line["addresses"]):
                        return list(line["addresses"])
            except queue.Empty:
                return None

        poll("B announced on the LAN", lambda: announcement(host_b.ip), served.log)

        def link_addresses() -> tuple[str, ...]:
            return InviteLink.parse(cli(profile, "invite", thread).strip()).addresses

        assert f"/ip4/{host_b.ip}/tcp/4141/p2p/{b_id}" in link_addresses()
        assert not any("/ip4/127." in a or "/ip4/0.0.0.0/" in a for a in link_addresses())

        lan2.run(host_b, ["ip", "addr", "add", f"{NEW_IP}/24", "dev", host_b.interface])
        added = time.monotonic()
        poll("B's links carry its new address",
             lambda: link_addresses() if f"/ip4/{NEW_IP}/tcp/4141/p2p/{b_id}" in link_addresses() else None,
             served.log, deadline=CHANGE_DEADLINE)
        in_links = time.monotonic() - added
        poll("B announces its new address", lambda: announcement(NEW_IP), served.log, deadline=CHANGE_DEADLINE)
        print(f"new address in links after {in_links:.1f} s, announced after {time.monotonic() - added:.1f} s")
    finally:
        stop_process(watcher)
        assert stop_process(served.process) == 0, served.log()


def test_peers_that_meet_over_the_lan_tell_each_other_no_loopback_address(lan2: Network, tmp_path: Path) -> None:
    host = lan2.hosts[0]
    done = lan2.popen(host, [
        sys.executable, str(Path(__file__).with_name("hello_peers.py")),
        "--host-netns", str(os.stat("/proc/self/ns/net").st_ino), "--data", str(tmp_path)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    out, err = done.communicate(timeout=120)
    assert done.returncode == 0, err[-3000:]
    told = json.loads(out)
    assert told["link"] and all(f"/ip4/{host.ip}/" in a for a in told["link"])
    assert any("/ip4/127.0.0.1/" in a for a in told["a_addresses"])  # a has one, and keeps it to itself
    for key in ("a_knows_b", "b_knows_a", "a_knows_c", "b_knows_c"):
        assert not any("/ip4/127." in a or "/ip4/0.0.0.0/" in a or "/ip6/::/" in a for a in told[key]), (key, told)
    assert told["a_knows_b"] and told["b_knows_a"]


def test_a_peer_that_moves_to_another_address_is_synced_again_within_seconds(lan2: Network, tmp_path: Path) -> None:
    """b's address changes under a live connection (a laptop moving between
    networks): the old connection goes silent, without a FIN or a reset.
    b sees its interfaces change, drops the dead connection and dials a from
    its new address; a drops its side when b arrives on the new one."""
    alice, bob = tmp_path / "A", tmp_path / "B"
    thread = cli(alice, "create", "chat", "Us").strip()
    join_offline(bob, cli(alice, "invite", thread, "--role", "write").strip())  # admitted once both serve
    host_a, host_b = lan2.hosts
    served = [Served(lan2, host_a, alice, tmp_path / "A.log"), Served(lan2, host_b, bob, tmp_path / "B.log")]
    try:
        ready_by = time.monotonic() + READY_DEADLINE
        b_id = [s.ready(ready_by) for s in served][1]["serving"]

        def logs() -> str:
            return "\n".join(s.log() for s in served)

        def shows(data_dir: Path, text: str) -> bool | None:
            items = json.loads(cli(data_dir, "show", thread, "--json"))["items"]
            return True if any(i.get("text") == text for i in items) else None

        poll("b is a member at a", lambda: True if b_id in cli(alice, "members", thread) else None, logs)
        cli(alice, "say", thread, "before the move")
        poll("a's message on b", lambda: shows(bob, "before the move"), logs)

        lan2.run(host_b, ["ip", "addr", "del", f"{host_b.ip}/24", "dev", host_b.interface])
        lan2.run(host_b, ["ip", "addr", "add", f"{NEW_IP}/24", "dev", host_b.interface])
        moved = time.monotonic()
        cli(alice, "say", thread, "after the move")
        poll("a's message on b after the move", lambda: shows(bob, "after the move"), logs, deadline=40.0)
        took = time.monotonic() - moved
        print(f"synced again {took:.1f} s after the move")
        assert took < 30.0, logs()
    finally:
        for s in served:
            stop_process(s.process)
