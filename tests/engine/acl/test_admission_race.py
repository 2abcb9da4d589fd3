"""Two admins admit different joiners against the last uses of an invite,
neither having seen the other's admit (issue 16, item 3). Whatever order the
events reach the peers in, every peer gives the same verdicts: exactly
`uses` joiners are in. A loser was handed keys: the epoch it holds is no
longer clean, an admin's heal rotates, and it cannot open what comes after."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.engine.eventstore.peers import admit, join, newest_record_opens_with, peer, start_thread, sync, texts
from threads_desktop.engine.acl.control_ops import Admit
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.core.keys import SigningKey
from threads_desktop.engine.core.members import AdmissionStatus, Role
from threads_desktop.engine.logstore.envelopes import Envelope
from threads_desktop.engine.node import Node

Records = list[list[Envelope]]  # per log, oldest first


def _race(folder: Path, uses: int, by_a: int, by_b: int) -> tuple[ThreadId, bytes, dict[str, int]]:
    """a and b are admins, c a reader; a's invite of `uses` uses is known to
    both; a admits `by_a` joiners and b, concurrently, `by_b` others; each
    joiner writes its bind. Returns the thread, the invite's key and each
    log's seq before the race (what every peer had seen); the profiles are
    left closed in `folder`."""
    nodes = {name: Node.open(folder / name) for name in ["a", "b", "c", *_joiners(by_a + by_b)]}
    a, b, c = nodes["a"], nodes["b"], nodes["c"]
    thread = start_thread(a)
    join(a, b, thread)
    join(a, c, thread, role=Role.READ)
    a.membership.grant(thread, peer(b), Role.WRITE, "acl")
    link = InviteLink.parse(a.invite(thread, Role.READ, uses=uses).to_uri())
    for node in (b, c):
        sync(a, node, thread)
    sync(b, a, thread)
    sync(c, a, thread)
    before = {name: _seq(nodes[name], thread) for name in ("a", "b")}
    for n, name in enumerate(_joiners(by_a + by_b)):
        joiner, admin = nodes[name], (a if n < by_a else b)
        joiner.membership.join(link)
        assert admit(admin, joiner, thread).status is AdmissionStatus.ADMITTED  # each admin saw uses left
        sync(admin, joiner, thread)
        assert joiner.membership.join_state(thread) is None                     # its bind is written
        before[name] = 0
    for node in nodes.values():
        node.close()
    return thread, SigningKey.from_seed(link.invite_seed).peer_id.public_key, before


def _joiners(count: int) -> list[str]:
    return [f"j{n}" for n in range(count)]


def _seq(node: Node, thread: ThreadId) -> int:
    own = node.store.own_log(thread)
    return next(h.seq for h in node.store.logs(thread) if h.log_id == own)


def _new_records(node: Node, thread: ThreadId, after: int) -> list[Envelope]:
    own = node.store.own_log(thread)
    assert own is not None
    return [r.envelope for r in node.store.records_after(thread, own, after, limit=1000)]


def _interleavings(logs: int) -> st.SearchStrategy[list[int]]:
    """Which log's next record to deliver, step by step (shuffled per example)."""
    return st.lists(st.integers(0, logs - 1), min_size=0, max_size=40)


def _deliver(node: Node, thread: ThreadId, records: Records, picks: Sequence[int]) -> None:
    """One record at a time: each log in order, logs interleaved as `picks`
    says (what is left after the picks goes log by log, last log first)."""
    queues = [list(log) for log in records]
    for pick in picks:
        if queues[pick]:
            node.receive(thread, [queues[pick].pop(0)])
    for queue in reversed(queues):
        for envelope in queue:
            node.receive(thread, [envelope])


def _admit_verdicts(node: Node, thread: ThreadId, invite: bytes) -> dict[tuple[bytes, int], bool]:
    """The verdict on each admission with the invite."""
    evaluation = node._services.gate.evaluation(thread)
    return {(e.log, e.seq): evaluation.final.valid[i] for i, e in enumerate(evaluation.events)
            if any(isinstance(op, Admit) and op.invite == invite for op in e.ops)}


@pytest.mark.parametrize(("uses", "by_a", "by_b"), [(1, 1, 1), (2, 1, 2), (2, 2, 1)])
def test_concurrent_admissions_against_the_last_uses_agree_everywhere(uses: int, by_a: int, by_b: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        template = Path(scratch) / "template"
        thread, invite, before = _race(template, uses, by_a, by_b)
        names = ["a", "b", *_joiners(by_a + by_b)]
        runs = iter(range(1000))

        @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
        @given(_interleavings(len(names)), _interleavings(len(names)), _interleavings(len(names)))
        def check(to_c: list[int], to_a: list[int], to_b: list[int]) -> None:
            folder = Path(scratch) / f"run{next(runs)}"
            shutil.copytree(template, folder)
            nodes = {name: Node.open(folder / name) for name in ["c", *names]}
            try:
                _check_one_order(nodes, thread, invite, before, names, uses, to_c, to_a, to_b)
            finally:
                for node in nodes.values():
                    node.close()
                shutil.rmtree(folder)

        check()


def _check_one_order(nodes: dict[str, Node], thread: ThreadId, invite: bytes, before: dict[str, int],
                     names: list[str], uses: int, to_c: list[int], to_a: list[int], to_b: list[int]) -> None:
    a, b, c = nodes["a"], nodes["b"], nodes["c"]
    records = [_new_records(nodes[name], thread, before[name]) for name in names]
    _deliver(c, thread, records, to_c)
    _deliver(a, thread, records, to_a)     # a hears of b's admissions (and the joiners' binds)...
    _deliver(b, thread, records, to_b)     # ...and b of a's, each in an order of its own
    verdicts = [_admit_verdicts(node, thread, invite) for node in (a, b, c)]
    assert verdicts[0] == verdicts[1] == verdicts[2] and len(verdicts[0]) == len(names) - 2
    assert sum(verdicts[0].values()) == uses, "exactly `uses` admissions hold"
    joiners = {name: peer(nodes[name]) for name in names[2:]}
    winners = [{name for name, member in joiners.items() if Role.READ in node.membership.roles(thread, member)}
               for node in (a, b, c)]
    assert winners[0] == winners[1] == winners[2] and len(winners[0]) == uses
    losers = set(joiners) - winners[0]
    assert losers
    # What the losers were handed is known to someone without the read role now.
    handed = {nodes[loser].store.thread_keys(thread)[0].epoch for loser in losers}
    assert not any(c._services.gate.evaluation(thread).clean(epoch) for epoch in handed)
    for loser in losers:  # once it hears of the race, it knows it is out too
        sync(a, nodes[loser], thread)
        sync(b, nodes[loser], thread)
        assert nodes[loser].membership.roles(thread) == frozenset()
    # The losers hold the epoch's keys: an admin rotated (heal, as each receive does).
    for source, target in ((a, b), (b, a), (a, c), (b, c)):
        sync(source, target, thread)
    newest = a.store.thread_keys(thread)[0]
    assert newest.epoch != 0 and a._services.gate.evaluation(thread).clean(newest.epoch)
    a.chat(thread).post("after the race")
    for source, target in ((a, c), *((a, nodes[w]) for w in winners[0])):
        sync(source, target, thread)
    assert "after the race" in texts(c, thread)
    assert all("after the race" in texts(nodes[w], thread) for w in winners[0])
    for loser in losers:
        sync(a, nodes[loser], thread)
        assert "after the race" not in _readable_texts(nodes[loser], thread)
        assert not newest_record_opens_with(a, thread, nodes[loser].store.thread_keys(thread))


def _readable_texts(node: Node, thread: ThreadId) -> list[str]:
    try:
        return texts(node, thread)
    except Exception:  # noqa: BLE001 - a loser may read nothing at all: that is the point
        return []


def test_the_race_helpers_deliver_every_record(tmp_path: Path) -> None:
    """Records of each log arrive in order and all of them arrive, whatever the picks."""
    thread, _invite, before = _race(tmp_path, 1, 1, 1)
    nodes = {name: Node.open(tmp_path / name) for name in ("a", "b", "c", "j0", "j1")}
    try:
        records = [_new_records(nodes[n], thread, before[n]) for n in ("a", "b", "j0", "j1")]
        _deliver(nodes["c"], thread, records, [3, 3, 1, 0, 2])
        logs = {h.log_id: h.seq for h in nodes["c"].store.logs(thread)}
        for name in ("a", "b", "j0", "j1"):
            own = nodes[name].store.own_log(thread)
            assert isinstance(own, PeerId) and logs[own] == _seq(nodes[name], thread)
    finally:
        for node in nodes.values():
            node.close()
