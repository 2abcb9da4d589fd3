"""A member removed while away learns it from its peers, in the signed
events that removed it, and nothing written after them (issue 16 item 5).
Real peers on 127.0.0.1, each a profile on disk."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import trio

from tests.engine.eventstore.peers import WallClock, admit, join, peer, sync, texts
from tests.engine.net.running import running_peers, wait_until
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.acl.verdicts import deciding_events
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.core.members import AdmissionStatus, Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]
PULL_SECONDS = 1.0  # the pull timer, as the app's (60 s) but short: nobody asks b to sync by hand


def _seq(node: Node, thread_id: ThreadId, log: PeerId) -> int:
    return next((h.seq for h in node.store.logs(thread_id) if h.log_id == log), 0)


@dataclass(frozen=True)
class Removal:
    thread_id: ThreadId
    remover: str
    removed: str
    remover_log: PeerId
    revoked_at: int  # the revocation's seq in the remover's log
    other_log: PeerId  # c's log, and how far it was when a revoked
    other_seq: int
    window_ms: tuple[int, int]


def _removed_while_away(tmp_path: Path, role: Role) -> Removal:
    """a founds a chat with b and c; while b is away, a takes `role` from b,
    then a and c both write. Profiles closed, ready to run."""
    a, b, c = (Node.open(tmp_path / name) for name in "abc")
    try:
        thread_id = a.create_thread(ThreadKind.CHAT, "Lisbon").thread_id
        a.chat(thread_id).post("before")
        join(a, b, thread_id)
        join(a, c, thread_id)
        sync(a, b, thread_id)
        sync(a, c, thread_id)
        a_log, c_log = a.store.own_log(thread_id), c.store.own_log(thread_id)
        assert a_log is not None and c_log is not None
        started = int(time.time() * 1000)
        a.membership.revoke(thread_id, peer(b), role)
        removal = Removal(thread_id, peer(a), peer(b), a_log, _seq(a, thread_id, a_log), c_log,
                          _seq(a, thread_id, c_log), (started, int(time.time() * 1000)))
        a.chat(thread_id).post("after, from the remover")
        sync(a, c, thread_id)
        c.chat(thread_id).post("after, from another member")
        sync(c, a, thread_id)
        assert _seq(a, thread_id, c_log) > removal.other_seq
        return removal
    finally:
        for node in (a, b, c):
            node.close()


def test_a_member_removed_while_away_learns_who_removed_it_and_nothing_written_after(tmp_path: Path) -> None:
    removal = _removed_while_away(tmp_path, Role.FOLLOW)
    thread_id = removal.thread_id

    async def main() -> None:
        async with running_peers(tmp_path, "a", "b", pull_interval=PULL_SECONDS) as peers:
            a, b = peers["a"], peers["b"]
            a_peer = a.node.identity.peer_id
            b.node.peers.remember(thread_id, a_peer, a.service.addresses())
            b.service.schedule(a_peer)
            await wait_until(b.node, lambda: Role.FOLLOW not in b.node.membership.roles(thread_id), timeout=30)
            # Its own store judged the signed revocation: by a, when a wrote it.
            evaluation = b.node._services.gate.evaluation(thread_id)
            [(log, seq)] = deciding_events(evaluation, removal.removed)
            assert (log, seq) == (removal.remover_log, removal.revoked_at)
            assert evaluation.identity_of(log.raw) == removal.remover
            hlc_ms = evaluation.events[evaluation.index[(log.raw, seq)]].hlc >> 16
            assert removal.window_ms[0] <= hlc_ms <= removal.window_ms[1]
            assert not b.node.get_thread(thread_id).can_write
            # More pull passes (the timer's): still nothing written after the removal.
            link = b.service._links[a_peer]
            passes = link.passes
            await wait_until(b.node, lambda: link.passes >= passes + 3, timeout=30)
            assert texts(b.node, thread_id) == ["before"]
            assert _seq(b.node, thread_id, removal.remover_log) == removal.revoked_at
            assert _seq(b.node, thread_id, removal.other_log) == removal.other_seq
            assert _seq(a.node, thread_id, removal.remover_log) > removal.revoked_at

    trio.run(main)


def test_a_member_whose_read_was_revoked_stays_a_follower_and_keeps_everything_it_cannot_read(
        tmp_path: Path) -> None:
    removal = _removed_while_away(tmp_path, Role.READ)
    thread_id = removal.thread_id

    async def main() -> None:
        async with running_peers(tmp_path, "a", "b", pull_interval=PULL_SECONDS) as peers:
            a, b = peers["a"], peers["b"]
            a_peer = a.node.identity.peer_id
            b.node.peers.remember(thread_id, a_peer, a.service.addresses())
            b.service.schedule(a_peer)
            # A follower (a backup) now: it stores everything, reads nothing new.
            await wait_until(b.node, lambda: b.node.membership.roles(thread_id) == {Role.FOLLOW} and all(
                _seq(b.node, thread_id, h.log_id) == h.seq for h in a.node.store.logs(thread_id)), timeout=30)
            assert deciding_events(b.node._services.gate.evaluation(thread_id), removal.removed) == []
            assert texts(b.node, thread_id) == ["before"]
            assert not b.node.get_thread(thread_id).can_write

    trio.run(main)


def test_the_loser_of_a_race_for_an_invites_last_use_is_told_over_the_network(tmp_path: Path) -> None:
    """Two admins let two joiners in with the last use of one link, each
    before seeing the other's admit. The one stamped later got keys and then
    lost: the keys are rotated away from it, and its app learns it lost from
    the two admits (issue 16 item 3)."""
    clock = WallClock()
    a, b, j1, j2 = (Node.open(tmp_path / name, now_seconds=clock) for name in ("a", "b", "j1", "j2"))
    try:
        thread_id = a.create_thread(ThreadKind.CHAT, "Lisbon").thread_id
        join(a, b, thread_id)
        a.membership.grant(thread_id, peer(b), Role.WRITE, "acl")
        link = InviteLink.parse(a.membership.invite(thread_id, Role.WRITE, uses=1).to_uri())
        sync(a, b, thread_id)
        j1.membership.join(link)
        j2.membership.join(link)
        assert admit(a, j1, thread_id).status is AdmissionStatus.ADMITTED
        clock.advance(0.01)
        assert admit(b, j2, thread_id).status is AdmissionStatus.ADMITTED  # b has not seen a's admit
        sync(b, j2, thread_id)  # j2 is in, as far as it knows
        sync(b, a, thread_id)  # a sees both admits: j2's lost; a rotates the keys it got
        sync(a, b, thread_id)
        a.chat(thread_id).post("after the race")
        j2_epochs = {key.epoch for key in j2.store.thread_keys(thread_id)}
        assert Role.FOLLOW in j2.membership.roles(thread_id)
        assert Role.FOLLOW not in a.membership.roles(thread_id, peer(j2))
        assert a.store.thread_keys(thread_id)[0].epoch not in j2_epochs
    finally:
        for node in (a, b, j1, j2):
            node.close()

    async def main() -> None:
        async with running_peers(tmp_path, "a", "j2", pull_interval=PULL_SECONDS) as peers:
            a_node, j2_node = peers["a"].node, peers["j2"].node
            a_peer = a_node.identity.peer_id
            j2_node.peers.remember(thread_id, a_peer, peers["a"].service.addresses())
            peers["j2"].service.schedule(a_peer)
            await wait_until(j2_node, lambda: Role.FOLLOW not in j2_node.membership.roles(thread_id), timeout=30)
            assert "after the race" not in texts(j2_node, thread_id)

    trio.run(main)
