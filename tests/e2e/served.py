"""Peers as separate processes: `threads-desktop serve` on 127.0.0.1, and the
CLI, which reaches a served profile through its control socket."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

START_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cli(data_dir: Path, *args: str, check: bool = True, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "threads_desktop", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return done


def cli_json(data_dir: Path, *args: str) -> Any:
    return json.loads(cli(data_dir, *args, "--json").stdout)


class ServedPeer:
    """A `serve` process for one profile, on a port it keeps across restarts."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.process: subprocess.Popen[str] | None = None
        self.peer_id = ""
        self.addresses: list[str] = []
        self._stderr: list[str] = []

    def start(self) -> ServedPeer:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "threads_desktop", "--data-dir", str(self.data_dir), "serve",
             "--listen", f"/ip4/127.0.0.1/tcp/{self.port}", "--no-mdns", "--pull-interval", "2"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        lines: queue.Queue[str] = queue.Queue()
        assert self.process.stdout is not None and self.process.stderr is not None
        threading.Thread(target=_pump, args=(self.process.stdout, lines.put), daemon=True).start()
        threading.Thread(target=_pump, args=(self.process.stderr, self._stderr.append), daemon=True).start()
        try:
            ready = json.loads(lines.get(timeout=START_SECONDS))
        except queue.Empty:
            self.kill()
            raise AssertionError(f"serve did not start: {''.join(self._stderr)[-2000:]}") from None
        self.peer_id, self.addresses = ready["serving"], ready["addresses"]
        return self

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it; returns the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self.process = None
        return code

    def kill(self) -> None:
        """SIGKILL: no clean-up at all."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=30)
            self.process = None

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)


def _pump(stream: Any, sink: Callable[[str], None]) -> None:
    for line in stream:
        sink(line)


def eventually(check: Callable[[], bool], timeout: float = 60.0, every: float = 0.3,
               peers: tuple[ServedPeer, ...] = ()) -> None:
    """Poll a check across processes (nothing to wait on but their output);
    on failure, show what the peers logged."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {p.data_dir.name}:\n{p.stderr[-3000:]}" for p in peers)
            raise AssertionError(f"not true within {timeout:g} s\n{logs}")
        time.sleep(every)
