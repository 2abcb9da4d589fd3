#!/usr/bin/env python3
"""Syncthing's throughput on the workload of `threads-desktop bench sync`'s photos.

200 files of 1 MiB random bytes named .jpg (noise: they do not compress) are synced
from one Syncthing instance to a second one, both on 127.0.0.1, and one JSON line
is printed:

    {"tool": "syncthing", "version": ..., "files": 200, "megabytes": ...,
     "seconds": ..., "megabytes_per_second": ..., ...}

`seconds` is timed like our benchmark's photos: the sender has already scanned
(hashed) its folder and the two devices are connected; the clock starts when the
receiver is told to share the folder (REST POST /rest/config/folders) and stops
when the receiver's folder holds every file completely (db/status: nothing
needed, every file and byte local, checked on disk as well). MB = 10^6 bytes.
Also given: `transfer_seconds` (the receiver's first sync-preparing/syncing state
to the end, from its event timestamps), `scan_seconds` (the sender hashing its
folder) and `cold_seconds` (from launching the sender to the end, one step after
the other: the sender starts and scans, the receiver starts and connects, then
the transfer as above; each Syncthing start-up includes a ~1 s hashing self-test).

Only 127.0.0.1 is used: both instances listen on tcp://127.0.0.1:PORT, the
GUI/REST on 127.0.0.1, and global and local discovery, relays, NAT traversal,
usage and crash reporting and auto-upgrade are off in config.xml before either
starts. Everything lives in one temporary directory, removed at the end; the two
processes are stopped by their PIDs.

Note: our benchmark also moves a preview (~0.3 MB) per photo, so it moves ~1.3x
the bytes of the originals alone; `--file-bytes` lets Syncthing move the same total.

Usage: scripts/bench-syncthing.py [--files 200] [--file-bytes 1048576] [--timeout 600] [--warm-memory MIB]
Exit codes: 0 ok, 1 failure, 2 syncthing is not installed.
Standard library only; needs the `syncthing` binary (Debian: apt-get install syncthing).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

FOLDER_ID = "bench-photos"
API_KEY = "bench-syncthing-api-key"
SYNC_STATES = ("sync-preparing", "syncing")


def log(message: str) -> None:
    print(f"[bench-syncthing] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its descendants (from /proc), in seconds."""
    total, todo, tick = 0.0, [pid], os.sysconf("SC_CLK_TCK")
    for _ in range(64):  # a bounded walk: syncthing runs one or two processes
        if not todo:
            break
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
    return total


def event_time(stamp: str) -> float:
    """Syncthing's RFC 3339 timestamps (nanoseconds) as seconds since the epoch."""
    m = re.fullmatch(r"(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", stamp)
    if not m:
        raise ValueError(f"unexpected event time {stamp!r}")
    frac = (m.group(2) or "0")[:6].ljust(6, "0")
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    return dt.datetime.fromisoformat(f"{m.group(1)}.{frac}{zone}").timestamp()


class Instance:
    """One Syncthing home: generated and locked down before it ever starts."""

    def __init__(self, name: str, root: Path) -> None:
        self.name = name
        self.home = root / f"{name}-home"
        self.folder = root / f"{name}-folder"
        self.listen_port = free_port()
        self.gui_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = root / f"{name}.log"
        out = subprocess.run(["syncthing", "generate", "--home", str(self.home), "--no-default-folder",
                              "--skip-port-probing"], capture_output=True, text=True, timeout=60, check=True)
        m = re.search(r"Device ID:\s*([A-Z0-9-]{63})", out.stdout + out.stderr)
        if not m:
            raise RuntimeError(f"no device ID in `syncthing generate` output: {out.stdout}{out.stderr}")
        self.device_id = m.group(1)

    @property
    def address(self) -> str:
        return f"tcp://127.0.0.1:{self.listen_port}"

    # --- config.xml, edited before the first start -----------------------------------------

    def configure(self, peer: Instance, share_folder: bool, dial_peer: bool) -> None:
        path = self.home / "config.xml"
        tree = ET.parse(path)
        config = tree.getroot()
        options = config.find("options")
        assert options is not None
        settings = {
            "listenAddress": self.address,
            "globalAnnounceEnabled": "false",
            "localAnnounceEnabled": "false",   # no LAN broadcast/multicast
            "relaysEnabled": "false",
            "natEnabled": "false",             # also turns STUN off
            "stunKeepaliveStartS": "0",
            "announceLANAddresses": "false",
            "urAccepted": "-1",                # usage reporting declined
            "crashReportingEnabled": "false",
            "autoUpgradeIntervalH": "0",
            "startBrowser": "false",
        }
        for key, value in settings.items():
            for old in options.findall(key):   # listenAddress etc. may be repeated
                options.remove(old)
            ET.SubElement(options, key).text = value

        gui = config.find("gui")
        assert gui is not None
        gui.set("enabled", "true")
        gui.set("tls", "false")
        gui.find("address").text = f"127.0.0.1:{self.gui_port}"  # type: ignore[union-attr]
        gui.find("apikey").text = API_KEY  # type: ignore[union-attr]

        own = config.find(f"device[@id='{self.device_id}']")
        assert own is not None
        own.set("name", self.name)
        own.find("address").text = self.address  # type: ignore[union-attr]
        other = ET.fromstring(ET.tostring(own))  # same defaults, the peer's identity
        other.set("id", peer.device_id)
        other.set("name", peer.name)
        # Only one side dials: when both dial at once, the Hello exchange can stall for 20 s. "dynamic"
        # with discovery off means no address, so that side just accepts.
        other.find("address").text = peer.address if dial_peer else "dynamic"  # type: ignore[union-attr]
        config.insert(list(config).index(own) + 1, other)

        if share_folder:
            folder = ET.Element("folder", {
                "id": FOLDER_ID, "label": FOLDER_ID, "path": str(self.folder), "type": "sendreceive",
                "rescanIntervalS": "3600", "fsWatcherEnabled": "false", "fsWatcherDelayS": "10",
                "ignorePerms": "false", "autoNormalize": "true"})
            for device_id in (self.device_id, peer.device_id):
                ET.SubElement(folder, "device", {"id": device_id, "introducedBy": ""})
            config.insert(0, folder)
        tree.write(path, encoding="utf-8")

    # --- the process and its REST API --------------------------------------------------------

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env.update(STNORESTART="1", STNOUPGRADE="1", STNODEFAULTFOLDER="1")
        with open(self.log_path, "wb") as out:
            self.process = subprocess.Popen(
                ["syncthing", "serve", "--home", str(self.home), "--no-browser", "--no-restart",
                 "--no-upgrade", "--gui-address", f"http://127.0.0.1:{self.gui_port}", "--gui-apikey", API_KEY],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)

    def api(self, method: str, path: str, body: Any = None, timeout: float = 10.0) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.gui_port}{path}", data=data, method=method,
                                         headers={"X-API-Key": API_KEY, "Content-Type": "application/json"})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
        with opener.open(request, timeout=timeout) as response:
            text = response.read().decode()
        return json.loads(text) if text.strip() else None

    def wait_ready(self, deadline: float) -> None:
        while True:
            self.check_alive()
            try:
                if self.api("GET", "/rest/system/ping", timeout=2).get("ping") == "pong":
                    return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: REST API did not come up")
            time.sleep(0.05)

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see its log:\n"
                               + self.log_path.read_text(errors="replace")[-3000:])

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            self.api("POST", "/rest/system/shutdown", timeout=5)
            self.process.wait(timeout=15)
        except (OSError, urllib.error.URLError, subprocess.TimeoutExpired):
            self.process.terminate()  # by PID, via our own Popen handle
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


class Events:
    """The long-polled event stream of one instance (GET /rest/events), waiting up to `timeout` s.

    With `only` (e.g. "StateChanged") the poller wakes for those alone and stays light during the
    transfer, but Syncthing subscribes such a filter at its first request: events before it are lost.
    The default stream is subscribed at start-up.
    """

    def __init__(self, instance: Instance, only: str | None = None) -> None:
        self.instance = instance
        self.filter = f"events={only}&" if only else ""
        self.last_id = 0

    def poll(self, timeout: int = 1) -> list[dict[str, Any]]:
        self.instance.check_alive()
        events = self.instance.api("GET", f"/rest/events?{self.filter}since={self.last_id}&timeout={timeout}",
                                   timeout=timeout + 10) or []
        if events:
            self.last_id = events[-1]["id"]
        return events


def make_files(folder: Path, count: int, size: int) -> int:
    folder.mkdir(parents=True)
    for i in range(count):
        (folder / f"{i:04}.jpg").write_bytes(os.urandom(size))
    return count * size


def on_disk(folder: Path, count: int, size: int) -> bool:
    files = [p for p in folder.glob("*.jpg")]
    return len(files) == count and all(p.stat().st_size == size for p in files)


def same_contents(a: Path, b: Path) -> bool:
    return all((b / p.name).read_bytes() == p.read_bytes() for p in a.glob("*.jpg"))


def touch_memory(mib: int) -> None:
    """Write `mib` MiB once and free them, just before the clock starts, as
    `threads-desktop bench sync --warm-memory` does (a VM's balloon may have
    taken freed memory back; docs/BENCHMARKS.md transfer18i)."""
    if mib > 0:
        with contextlib.suppress(MemoryError):  # refused: the run goes on unwarmed
            block = bytearray(mib << 20)  # zero-filled: every page written
            del block


def run(files: int, file_bytes: int, timeout: float, root: Path, warm_memory_mib: int = 0) -> dict[str, Any]:
    version = subprocess.run(["syncthing", "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    sender, receiver = Instance("sender", root), Instance("receiver", root)
    total = make_files(sender.folder, files, file_bytes)
    sender.configure(receiver, share_folder=True, dial_peer=False)
    receiver.configure(sender, share_folder=False, dial_peer=True)  # the receiver dials, like our bench's member
    deadline = time.monotonic() + timeout
    try:
        launched = time.time()
        sender.start()
        sender.wait_ready(deadline)
        sender_events = Events(sender)

        # 1. The sender hashes its folder (alone: the receiver is not started yet).
        scan_seconds: float | None = None
        ready_at: float | None = None
        while True:
            for e in sender_events.poll():
                d = e.get("data") or {}
                if e["type"] == "StateChanged" and d.get("folder") == FOLDER_ID and d.get("from") == "scanning":
                    scan_seconds = d.get("duration")
            status = sender.api("GET", f"/rest/db/status?folder={FOLDER_ID}")
            if status["state"] == "idle" and status["localFiles"] == files:
                # The StateChanged event can trail the state itself: give it a moment to show.
                ready_at = ready_at or time.monotonic()
                if scan_seconds is not None or time.monotonic() - ready_at > 2:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"sender not scanned in time: {status}")

        # 2. The receiver starts and dials the sender (whose listener is up by now).
        receiver.start()
        receiver.wait_ready(deadline)
        receiver_events = Events(receiver, only="StateChanged")
        receiver_events.poll(timeout=0)  # subscribes the filter now, before the clock starts
        while True:
            connection = receiver.api("GET", "/rest/system/connections")["connections"].get(sender.device_id, {})
            if connection.get("connected"):
                break
            if time.monotonic() > deadline:
                raise TimeoutError("the receiver did not connect to the sender in time")
            time.sleep(0.05)
        connected_address = connection.get("address")

        # 3. The receiver is told to share the folder: the clock starts.
        touch_memory(warm_memory_mib)
        receiver.folder.mkdir()
        assert sender.process is not None and receiver.process is not None
        cpu_before = cpu_seconds(sender.process.pid), cpu_seconds(receiver.process.pid)
        started = time.time()
        receiver.api("POST", "/rest/config/folders", {
            "id": FOLDER_ID, "label": FOLDER_ID, "path": str(receiver.folder), "type": "sendreceive",
            "rescanIntervalS": 3600, "fsWatcherEnabled": False,
            "devices": [{"deviceID": receiver.device_id}, {"deviceID": sender.device_id}]})

        # 4. Until the receiver holds every file completely.
        first_sync = last_sync_end = None
        while True:
            for e in receiver_events.poll():
                d = e.get("data") or {}
                if e["type"] == "StateChanged" and d.get("folder") == FOLDER_ID:
                    if d.get("to") in SYNC_STATES and first_sync is None:
                        first_sync = event_time(e["time"])
                    if d.get("from") in SYNC_STATES and d.get("to") not in SYNC_STATES:
                        last_sync_end = event_time(e["time"])
            status = receiver.api("GET", f"/rest/db/status?folder={FOLDER_ID}")
            if (status["state"] == "idle" and status["needFiles"] == 0 and status["localFiles"] == files
                    and status["localBytes"] == total and on_disk(receiver.folder, files, file_bytes)):
                observed = time.time()
                cpu_after = cpu_seconds(sender.process.pid), cpu_seconds(receiver.process.pid)
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"receiver not complete in time: {status}")
        # The end is when the pull ended (event time), not when this loop noticed it.
        finished = last_sync_end if last_sync_end is not None and last_sync_end <= observed else observed
        if not same_contents(sender.folder, receiver.folder):
            raise RuntimeError("the receiver's files differ from the sender's")
    finally:
        for instance in (receiver, sender):
            instance.stop()

    seconds = finished - started
    megabytes = total / 1e6
    result = {
        "tool": "syncthing",
        "version": version.split(" ")[1] if version.startswith("syncthing ") else version,
        "files": files,
        "megabytes": round(megabytes, 1),
        "seconds": round(seconds, 2),
        "megabytes_per_second": round(megabytes / seconds, 1),
        "transfer_seconds": None,
        "transfer_megabytes_per_second": None,
        "scan_seconds": round(scan_seconds, 2) if scan_seconds is not None else None,
        "cold_seconds": round(finished - launched, 2),
        "cold_megabytes_per_second": round(megabytes / (finished - launched), 1),
        "connection": connected_address,
        # CPU from the clock's start until the receiver was seen complete, per 10^9 bytes moved.
        "sender_cpu_seconds_per_gb": round((cpu_after[0] - cpu_before[0]) / (total / 1e9), 2),
        "receiver_cpu_seconds_per_gb": round((cpu_after[1] - cpu_before[1]) / (total / 1e9), 2),
        "cores": os.cpu_count(),
        "how": ("seconds: receiver told to share the folder (sender already scanned and connected) until its "
                "folder holds every file (db/status + disk); transfer: receiver's first sync-preparing/syncing "
                "event to the end; scan: sender hashing its folder; cold: the sender launched to the end"),
    }
    if first_sync is not None and finished > first_sync:
        result["transfer_seconds"] = round(finished - first_sync, 2)
        result["transfer_megabytes_per_second"] = round(megabytes / (finished - first_sync), 1)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--file-bytes", type=int, default=1 << 20)
    parser.add_argument("--timeout", type=float, default=600.0, help="bound for the whole run, in seconds")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs) for a look")
    parser.add_argument("--warm-memory", type=int, default=0, metavar="MIB",
                        help="write and free this many MiB (at most 4096) just before the clock starts")
    args = parser.parse_args()

    if shutil.which("syncthing") is None:
        print("syncthing is not installed. On Debian/Ubuntu: apt-get update && apt-get install -y syncthing",
              file=sys.stderr)
        return 2
    # SIGTERM/SIGHUP end the run through the `finally`s: processes stopped, directory removed.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(1))

    root = Path(tempfile.mkdtemp(prefix="bench-syncthing-"))
    try:
        result = run(args.files, args.file_bytes, args.timeout, root, max(0, min(args.warm_memory, 4096)))
    except Exception as error:  # noqa: BLE001 - one readable line, then exit 1
        log(f"failed: {error}")
        return 1
    finally:
        if args.keep:
            log(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
