"""End to end in the lab, with real `threads-desktop serve` peers: what a
peer behind a home router can do today, before issue 15's relay, hole
punching and UPnP. A template for the end-to-end tests of that work.

A serves on a1 behind natA (port-preserving); P serves on pub. P cannot dial
A (A's only addresses are its LAN's), so P's join by A's link stays pending;
A can dial P, so A joins P's chat by P's link and both see each other's
messages over the connection A opened.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from threads_desktop.bench.lab import Lab, Peer, home_networks
from threads_desktop.bench.netns import Host

SYNC_DEADLINE = 30.0  # each step: a dial to fail, a member to appear, a message to cross
POLL_INTERVAL = 0.5

T = TypeVar("T")


@pytest.fixture
def lab() -> Iterator[Lab]:
    with home_networks("port_preserving") as built:
        yield built


def poll(what: str, probe: Callable[[], T | None], peers: list[Peer], deadline: float = SYNC_DEADLINE) -> T:
    """`probe` every POLL_INTERVAL until it returns something, at most `deadline` s."""
    end = time.monotonic() + deadline
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > end:
            pytest.fail(f"{what}: not within {deadline:g} s\n" + "\n".join(p.log() for p in peers))
        time.sleep(POLL_INTERVAL)


def cli_json(lab: Lab, node: Host, data_dir: Path, *args: str) -> Any:
    return json.loads(lab.cli(node, data_dir, *args, "--json"))


def test_today_a_peer_behind_a_home_router_syncs_only_with_the_peers_it_dials(lab: Lab, tmp_path: Path) -> None:
    [a1] = lab.hosts
    pub = lab.pub
    a_dir, p_dir = tmp_path / "A", tmp_path / "P"
    a = lab.serve(a1, a_dir, "--no-mdns", "--pull-interval", "2")
    p = lab.serve(pub, p_dir, "--no-mdns", "--pull-interval", "2",
                  listen=["/ip4/0.0.0.0/tcp/4141", "/ip6/::/tcp/4141"])
    peers = [a, p]
    a_id, p_id = a.ready()["serving"], p.ready()["serving"]
    assert f"/ip4/{a1.ip}/tcp/4141/p2p/{a_id}" in a.ready()["addresses"]
    assert f"/ip4/{pub.ip}/tcp/4141/p2p/{p_id}" in p.ready()["addresses"]
    # P listens on IPv6 too, and A reaches it there (routed, no NAT).
    assert pub.ip6 is not None
    with lab.socket(a1, socket.AF_INET6) as v6:
        v6.settimeout(SYNC_DEADLINE)
        v6.connect((pub.ip6, 4141))

    # P joins A's chat by link: the link names A's LAN address, which P
    # dials and cannot reach, so the join waits.
    a_chat = lab.cli(a1, a_dir, "create", "chat", "A's").strip()
    a_link = lab.cli(a1, a_dir, "invite", a_chat, "--role", "write").strip()
    assert lab.cli(pub, p_dir, "join", a_link, "--wait", "0", expect=75).strip() == a_chat  # 75: still waiting
    p.stderr.wait_for(lambda line: f"/ip4/{a1.ip}/tcp/4141/" in line and "did not answer" in line, SYNC_DEADLINE)
    assert f"{a_chat}  joining" in lab.cli(pub, p_dir, "ls")  # not let in: no thread, only the pending join

    # A joins P's chat by link: A dials P through natA, and they sync both ways.
    p_chat = lab.cli(pub, p_dir, "create", "chat", "P's").strip()
    p_link = lab.cli(pub, p_dir, "invite", p_chat, "--role", "write").strip()
    assert lab.cli(a1, a_dir, "join", p_link, "--wait", "0", expect=75).strip() == p_chat

    def a_is_member() -> list[str] | None:
        members = [m["peer"] for m in cli_json(lab, pub, p_dir, "members", p_chat)["members"]]
        return members if a_id in members else None

    assert sorted(poll("P lists A as a member", a_is_member, peers)) == sorted([a_id, p_id])

    def texts(node: Host, data_dir: Path, text: str) -> list[str] | None:
        items = cli_json(lab, node, data_dir, "show", p_chat)["items"]
        shown = [i.get("text") for i in items]
        return shown if text in shown else None

    lab.cli(pub, p_dir, "say", p_chat, "from pub")
    assert poll("P's message on A", lambda: texts(a1, a_dir, "from pub"), peers) == ["from pub"]
    lab.cli(a1, a_dir, "say", p_chat, "from behind natA")
    assert sorted(poll("A's message on P", lambda: texts(pub, p_dir, "from behind natA"), peers)) == [
        "from behind natA", "from pub"]
