"""Peers for the reach tests in the lab (test_upnp.py, test_reachability_lab.py):
reach_peer.py (a profile and its network service) and mapper_peer.py (a
PortMapper alone) run in a namespace, their JSON lines read on a thread,
every wait bounded."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from threads_desktop.bench.lab import Lab
from threads_desktop.bench.netns import Host, Network

ROOT = Path(__file__).parents[3]
PEER = Path(__file__).with_name("reach_peer.py")
MAPPER = Path(__file__).with_name("mapper_peer.py")
PORT = 4141
LISTEN = f"/ip4/0.0.0.0/tcp/{PORT}"
DEADLINE = 45.0  # each step: discovery ~2 s, a refused dial-back 5 s, and slack for a busy machine
STOP_SECONDS = 15.0


class Script:
    """A test script in a namespace, its JSON lines read on a thread."""

    def __init__(self, net: Network, host: Host, script: Path, log_path: Path, *args: str) -> None:
        self.log_path = log_path
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with self.log_path.open("w") as log:
            self.process = net.popen(
                host, [sys.executable, str(script), "--host-netns", str(os.stat("/proc/self/ns/net").st_ino),
                       *args],
                cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(json.loads(line))
        self.lines.put(None)

    def wait_for(self, what: str, deadline: float = DEADLINE, **wanted: Any) -> dict[str, Any]:
        """The next line with these fields (every line read is kept in `seen`)."""
        end = time.monotonic() + deadline
        while True:
            try:
                line = self.lines.get(timeout=max(end - time.monotonic(), 0.01))
            except queue.Empty:
                pytest.fail(f"{what}: not within {deadline:g} s\n{self.log()}")
            if line is None:
                pytest.fail(f"{what}: the peer exited\n{self.log()}")
            self.seen.append(line)
            if all(line.get(k) == v for k, v in wanted.items()):
                return line

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        self.wait_for(f"ack of {command!r}", event="ack", command=command)

    def stop(self) -> int:
        self.process.terminate()
        self.wait_for("stopped", STOP_SECONDS, event="stopped")
        return self.process.wait(STOP_SECONDS)

    def log(self) -> str:
        return "\n".join(json.dumps(s) for s in self.seen[-20:]) + "\n" + self.log_path.read_text(errors="replace")


class Peer(Script):
    """reach_peer.py: a profile and its network service."""

    def __init__(self, net: Network, host: Host, data_dir: Path, *args: str) -> None:
        super().__init__(net, host, PEER, data_dir.with_suffix(".log"), "--data-dir", str(data_dir),
                         "--listen", LISTEN, *args)


class Mapper(Script):
    """mapper_peer.py: a PortMapper alone."""

    def __init__(self, net: Network, host: Host, log_path: Path, *args: str) -> None:
        super().__init__(net, host, MAPPER, log_path, "--port", str(PORT), *args)


def start_pair(lab: Lab, tmp_path: Path, home: Host, *home_args: str) -> tuple[Peer, Peer]:
    """A public peer that creates a chat, and a home peer that joins it."""
    public = Peer(lab, lab.pub, tmp_path / "outside", "--create", "--upnp", "off")
    link = public.wait_for("the invite link", event="link")["link"]
    return Peer(lab, home, tmp_path / "home", "--join", link, *home_args), public


def advertised_only_once_reached(peer: Peer) -> None:
    for state in (s for s in peer.seen if s.get("event") == "state"):
        mapped = state["mapping"]
        if mapped and any(a.startswith(mapped + "/p2p/") for a in state["addresses"]):
            assert state["reachable"] is True and state["reached"] == mapped, state
