"""UPnP end to end, in network namespaces: a peer behind a home router with
miniupnpd maps its port in the background, a peer outside dials it back at
the mapping, only then is the mapping advertised, and it is removed on exit
and when the setting is turned off."""

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

from tests.engine.net.netns import Host, Network, network
from tests.engine.net.upnp_router import EXTERNAL_IP, UpnpRouter, upnp_router

ROOT = Path(__file__).parents[3]
PEER = Path(__file__).with_name("reach_peer.py")
MAPPER = Path(__file__).with_name("mapper_peer.py")
PORT = 4141
LISTEN = f"/ip4/0.0.0.0/tcp/{PORT}"
MAPPED = f"/ip4/{EXTERNAL_IP}/tcp/{PORT}"
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


def start_pair(net: Network, tmp_path: Path, *home_args: str) -> tuple[Peer, Peer]:
    """An outside peer that creates a chat, and a home peer that joins it."""
    home, outside = net.hosts[0], net.hosts[-1]
    public = Peer(net, outside, tmp_path / "outside", "--create", "--upnp", "off")
    link = public.wait_for("the invite link", event="link")["link"]
    return Peer(net, home, tmp_path / "home", "--join", link, *home_args), public


def advertised_only_once_reached(peer: Peer) -> None:
    for state in (s for s in peer.seen if s.get("event") == "state"):
        mapped = state["mapping"]
        if mapped and any(a.startswith(mapped + "/p2p/") for a in state["addresses"]):
            assert state["reachable"] is True and state["reached"] == mapped, state


def mapped_to_home(router: UpnpRouter) -> bool:
    return f"{PORT}" in router.mappings() and "10.77.0.1" in router.mappings()


def test_a_peer_behind_a_upnp_router_is_dialled_back_at_its_mapping_then_advertises_it(tmp_path: Path) -> None:
    with network(1, 1, router=True) as net:
        router = upnp_router(net, tmp_path)
        home, outside = start_pair(net, tmp_path)
        ready = home.wait_for("online", event="ready")
        started = time.monotonic()
        first = home.wait_for("its first state", event="state")
        assert first["mapping"] is None  # online before the router was even found: start-up never waits
        state = home.wait_for("reachable at the mapping", event="state", reachable=True)
        seconds = time.monotonic() - started
        mapped = f"/ip4/{EXTERNAL_IP}/tcp/{PORT}"  # the same port outside, as it was free
        assert state["mapping"] == mapped and state["reached"] == mapped
        assert state["behind_nat"] is True and state["observed"].startswith(f"/ip4/{EXTERNAL_IP}/tcp/")
        assert f"{mapped}/p2p/{ready['peer_id']}" in state["addresses"]
        advertised_only_once_reached(home)
        assert mapped_to_home(router), router.log()
        print(f"online to reachable at the mapping: {seconds:.2f} s")
        assert home.stop() == 0
        assert router.mappings() == "", "the mapping outlived the peer"
        outside.stop()


def test_turning_upnp_off_removes_the_mapping_and_on_maps_again(tmp_path: Path) -> None:
    with network(1, 1, router=True) as net:
        router = upnp_router(net, tmp_path)
        home, _outside = start_pair(net, tmp_path, "--upnp", "off")
        # Without a mapping the router drops the dial-back: behind NAT, unreachable.
        state = home.wait_for("unreachable", event="state", reachable=False)
        assert state["mapping"] is None and state["behind_nat"] is True
        assert not any(EXTERNAL_IP in a for a in state["addresses"])
        assert router.mappings() == ""
        home.send("upnp on")
        state = home.wait_for("reachable at the mapping", event="state", reachable=True)
        assert state["mapping"] == f"/ip4/{EXTERNAL_IP}/tcp/{PORT}" and mapped_to_home(router)
        home.send("upnp off")
        state = home.wait_for("the mapping gone", event="state", mapping=None)
        assert router.mappings() == ""
        assert not any(EXTERNAL_IP in a for a in state["addresses"])
        advertised_only_once_reached(home)


def test_an_external_port_taken_by_another_device_is_mapped_at_another_port(tmp_path: Path) -> None:
    with network(2, 1, router=True) as net:
        router = upnp_router(net, tmp_path)
        other = Mapper(net, net.hosts[1], tmp_path / "other.log")
        assert other.wait_for("the other device's mapping", event="mapping")["address"] == \
            f"/ip4/{EXTERNAL_IP}/tcp/{PORT}"
        home, _outside = start_pair(net, tmp_path)
        state = home.wait_for("reachable at a mapping", event="state", reachable=True)
        assert state["mapping"].startswith(f"/ip4/{EXTERNAL_IP}/tcp/") and state["mapping"] != \
            f"/ip4/{EXTERNAL_IP}/tcp/{PORT}"
        assert state["reached"] == state["mapping"]
        assert any(a.startswith(state["mapping"] + "/p2p/") for a in state["addresses"])
        assert home.stop() == 0
        assert "10.77.0.1" not in router.mappings() and "10.77.0.2" in router.mappings()
        assert other.stop() == 0
        assert router.mappings() == ""


def test_the_lease_is_renewed_before_it_ends(tmp_path: Path) -> None:
    lease = 3
    with network(1, 1, router=True) as net:
        router = upnp_router(net, tmp_path)
        mapper = Mapper(net, net.hosts[0], tmp_path / "mapper.log", "--lease", str(lease))
        mapper.wait_for("a mapping", event="mapping", address=f"/ip4/{EXTERNAL_IP}/tcp/{PORT}")
        deadline = time.monotonic() + 4 * lease
        while time.monotonic() < deadline:  # the router drops a mapping whose lease ran out
            assert mapped_to_home(router), f"the mapping expired\n{router.log()}"
            time.sleep(0.2)
        renewals = router.log().count(f"leaseduration={lease}")
        assert renewals >= 4, router.log()
        assert mapper.stop() == 0
        assert router.mappings() == ""


def test_a_neighbour_on_the_lan_does_not_make_a_peer_reachable_and_a_peer_outside_is_asked_when_it_comes(
        tmp_path: Path) -> None:
    with network(2, 1, router=True) as net:
        upnp_router(net, tmp_path)
        home_host, lan_host, outside_host = net.hosts
        neighbour = Peer(net, lan_host, tmp_path / "neighbour", "--create", "--upnp", "off")
        home = Peer(net, home_host, tmp_path / "home", "--join",
                    neighbour.wait_for("the neighbour's link", event="link")["link"])
        # The neighbour dials the home peer back at its LAN address: that is no reach from outside.
        state = home.wait_for("a LAN-only answer", event="state", reachable=False)
        assert state["observed"].startswith("/ip4/10.77.0.1/tcp/") and state["behind_nat"] is False
        # Mapped too (that asks the neighbour again, which is quick): from here on only
        # the new peer outside can start a check, or the 30 min recheck.
        if state["mapping"] is None:
            state = home.wait_for("the mapping", event="state", reachable=False, mapping=MAPPED)
        assert not any(EXTERNAL_IP in a for a in state["addresses"])
        outside = Peer(net, outside_host, tmp_path / "outside", "--create", "--upnp", "off")
        home.send("join " + outside.wait_for("the outside link", event="link")["link"])
        started = time.monotonic()
        state = home.wait_for("reachable, asked by the peer outside", event="state", reachable=True)
        print(f"joined outside to reachable: {time.monotonic() - started:.1f} s")
        assert state["reached"] == state["mapping"] and state["behind_nat"] is True
        advertised_only_once_reached(home)
