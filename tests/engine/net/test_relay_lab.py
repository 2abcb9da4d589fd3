"""Relaying and hole punching between real peers behind the lab's home
routers (network namespaces, tests/engine/net/lab.py): R is public, A and B
are each behind a router of the kind under test. B holds only A's relayed
address (through R) and gets A's messages through R; then DCUtR gives them
a direct connection where both routers map endpoint-independently (port
preserving or remapping), and leaves them on the relay behind symmetric NATs."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest

from tests.engine.eventstore.peers import join_with
from threads_desktop.bench.lab import ROOT, Lab, Spawned, home_networks
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node

SYNC_SECONDS = 40.0
PUNCH_SECONDS = 40.0
STAYS_RELAYED_SECONDS = 15.0


@dataclasses.dataclass
class Watched:
    """A reach_peer process and every JSON line it printed so far."""

    spawned: Spawned
    seen: list[dict[str, object]] = dataclasses.field(default_factory=list)

    def said(self, key: str, matches: object, timeout: float) -> None:
        """Wait (at most `timeout` s) until it printed {key: value} with
        value == matches or a list containing it; earlier lines count too."""
        def fits(message: dict[str, object]) -> bool:
            value = message.get(key)
            return value == matches or (isinstance(value, list) and matches in value)

        def test(line: str) -> bool:
            try:
                message = json.loads(line)
            except ValueError:
                return False
            if not isinstance(message, dict):
                return False
            self.seen.append(message)
            return fits(message)

        if any(fits(m) for m in self.seen):
            return
        try:
            self.spawned.stdout.wait_for(test, timeout)
        except AssertionError as exc:
            raise AssertionError(f"no {key}={matches!r}: {exc}\n{self.spawned.log()}") from None


def peer(lab: Lab, node: object, profile: Path, *args: str) -> Watched:
    return Watched(lab.spawn(node, [sys.executable, "-m", "tests.engine.net.relay_lab_peer", str(profile),  # type: ignore[arg-type]
                                    *args], cwd=ROOT))


@pytest.mark.parametrize(("kind", "punched"), [("port_preserving", True), ("port_remapping", True),
                                               ("symmetric", False)])
def test_a_friend_behind_another_router_gets_the_photos_through_the_relay_then_directly_where_nats_allow(
        tmp_path: Path, kind: str, punched: bool) -> None:
    a, r, b = (Node.open(tmp_path / name) for name in "arb")
    try:
        thread_id = a.create_thread(ThreadKind.CHAT, "Us").thread_id
        a.chat(thread_id).post("hello from A")
        join_with(a, r, a.invite(thread_id, Role.WRITE))  # R follows A's thread (a public follower)
        a_id, r_id, b_id = (n.identity.peer_id for n in (a, r, b))
        link = a.invite(thread_id, Role.WRITE)
    finally:
        for node in (a, r):
            node.close()
    with home_networks(kind, kind) as lab:
        (a1,), (b1,) = (router.hosts for router in lab.routers)
        r_address = f"/ip4/{lab.pub.ip}/tcp/4141/p2p/{r_id}"
        try:
            b.join(dataclasses.replace(link, addresses=(f"{r_address}/p2p-circuit/p2p/{a_id}",)))
        finally:
            b.close()
        a = Node.open(tmp_path / "a")
        try:
            a.peers.remember(thread_id, r_id, [r_address])  # where A's follower is
        finally:
            a.close()
        relay = peer(lab, lab.pub, tmp_path / "r", "--reachable", "yes")
        relay.said("addresses", r_address, 20)
        inviter = peer(lab, a1, tmp_path / "a", "--reachable", "no", "--peer", str(b_id))
        inviter.said("relayed", [f"{r_address}/p2p-circuit/p2p/{a_id}"], SYNC_SECONDS)  # R's public address only
        friend = peer(lab, b1, tmp_path / "b", "--reachable", "no", "--thread", str(thread_id), "--peer", str(a_id))
        friend.said("texts", "hello from A", SYNC_SECONDS)
        if punched:
            friend.said("direct", True, PUNCH_SECONDS)
        else:
            with pytest.raises(AssertionError):  # still relayed, still in sync
                friend.said("direct", True, STAYS_RELAYED_SECONDS)
