"""UPnP in the lab (lab.py), with the real CLI: a peer behind the UPnP home
router maps its port as soon as it serves, but its invite links carry the
mapped address only once a public peer that shares a thread has dialled it
back there; when it stops, the mapping is gone from the router."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import miniupnpc  # type: ignore[import-not-found]  # no stubs; py-libp2p depends on it
import pytest

from threads_desktop.bench.lab import LISTEN_PORT, Lab, home_networks
from threads_desktop.bench.netns import Host
from threads_desktop.engine.acl.links import InviteLink

DEADLINE = 45.0  # each step (discovery ~2 s, a dial-back of an unmapped port 5 s, a busy machine)
POLL_SECONDS = 1.0
STOP_SECONDS = 15.0
UPNP_DISCOVERY_MS = 1000
T = TypeVar("T")


def poll(what: str, probe: Callable[[], T | None], deadline: float = DEADLINE) -> T:
    end = time.monotonic() + deadline
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > end:
            pytest.fail(f"{what}: not within {deadline:g} s")
        time.sleep(POLL_SECONDS)


def mapped_port_target(lab: Lab, host: Host) -> str | None:
    """Where the router forwards LISTEN_PORT (lan ip), asked from the host's LAN."""
    def ask() -> str | None:
        upnp = miniupnpc.UPnP()
        upnp.discoverdelay = UPNP_DISCOVERY_MS
        if not upnp.discover():
            return None
        upnp.selectigd()
        found = upnp.getspecificportmapping(LISTEN_PORT, "TCP")
        return str(found[0]) if found else None
    return lab.call(host, ask)


def test_a_peer_behind_the_upnp_router_advertises_its_mapping_once_dialled_back_and_removes_it_on_exit(
        tmp_path: Path) -> None:
    with home_networks("upnp") as lab:
        [router] = lab.routers
        [host] = router.hosts
        public, home = tmp_path / "pub", tmp_path / "home"
        lab.serve(lab.pub, public).ready()
        served = lab.serve(host, home)
        peer_id = served.ready()["serving"]
        mapped = f"/ip4/{router.wan_ip}/tcp/{LISTEN_PORT}/p2p/{peer_id}"
        thread = lab.cli(host, home, "create", "chat", "Ours").strip()

        def link_addresses() -> tuple[str, ...]:
            return InviteLink.parse(lab.cli(host, home, "invite", thread).strip()).addresses

        # Mapped in the background at once; not advertised while nobody has dialled it.
        poll("the mapping on the router", lambda: mapped_port_target(lab, host) == host.ip or None)
        assert mapped not in link_addresses()

        pub_thread = lab.cli(lab.pub, public, "create", "chat", "Theirs").strip()
        lab.cli(host, home, "join", lab.cli(lab.pub, public, "invite", pub_thread).strip(), "--wait", "0", expect=75)
        started = time.monotonic()
        poll("the mapped address in the invite link", lambda: mapped in link_addresses() or None)
        print(f"joined to advertised: {time.monotonic() - started:.1f} s")

        served.process.terminate()
        served.stderr.wait_for(lambda line: line.strip() == "stopped", STOP_SECONDS)
        assert served.process.wait(STOP_SECONDS) == 0
        assert mapped_port_target(lab, host) is None, "the mapping outlived the peer"
