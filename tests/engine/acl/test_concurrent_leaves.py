"""Review finding 9: the last two admins leaving at the same time (neither
having seen the other's leave) left members without an admin. The policy
refuses the leave stamped last (acl/policy.py, Evaluation._leave), so that
admin stays; every peer says so whatever order the events reach it in."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.engine.eventstore.peers import join, peer, start_thread, sync
from threads_desktop.engine.acl.control_ops import Leave
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.logstore.envelopes import Envelope
from threads_desktop.engine.node import Node


def _two_admins_leave(folder: Path) -> tuple[ThreadId, dict[str, int]]:
    """a and b are the admins, c a writer, everyone has seen everything;
    then a and b leave, each before seeing the other's leave. Returns the
    thread and a's and b's seq before leaving; the profiles are left closed."""
    nodes = {name: Node.open(folder / name) for name in ("a", "b", "c")}
    a, b, c = nodes["a"], nodes["b"], nodes["c"]
    thread = start_thread(a)
    join(a, b, thread)
    join(a, c, thread)
    a.membership.grant(thread, peer(b), Role.WRITE, "acl")
    for source, target in ((a, b), (a, c), (b, a), (c, a)):
        sync(source, target, thread)
    before = {name: _seq(nodes[name], thread) for name in ("a", "b")}
    a.membership.leave(thread)
    b.membership.leave(thread)
    for node in nodes.values():
        node.close()
    return thread, before


def _seq(node: Node, thread: ThreadId) -> int:
    own = node.store.own_log(thread)
    return next(h.seq for h in node.store.logs(thread) if h.log_id == own)


def _new_records(node: Node, thread: ThreadId, after: int) -> list[Envelope]:
    own = node.store.own_log(thread)
    assert own is not None
    return [r.envelope for r in node.store.records_after(thread, own, after, limit=1000)]


def _deliver(node: Node, thread: ThreadId, records: Sequence[list[Envelope]], picks: Sequence[int]) -> None:
    """One record at a time, each log in order, logs interleaved as `picks` says."""
    queues = [list(log) for log in records]
    for pick in picks:
        if queues[pick]:
            node.receive(thread, [queues[pick].pop(0)])
    for queue in reversed(queues):
        for envelope in queue:
            node.receive(thread, [envelope])


def _admins(node: Node, thread: ThreadId, names: dict[str, str]) -> set[str]:
    book = node._services.gate.evaluation(thread).current()
    return {name for name, member in names.items() if book.is_admin(member)}


def _leave_stamp(node: Node, thread: ThreadId, member: str) -> bytes:
    evaluation = node._services.gate.evaluation(thread)
    return next(e.stamp for e in evaluation.events
                if evaluation.identity_of(e.log) == member and any(isinstance(op, Leave) for op in e.ops))


def test_concurrent_leaves_of_the_last_admins_keep_the_one_stamped_last_everywhere() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        template = Path(scratch) / "template"
        thread, before = _two_admins_leave(template)
        runs = iter(range(1000))
        picks = st.lists(st.integers(0, 1), max_size=12)

        @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
        @given(picks, picks, picks)
        def check(to_c: list[int], to_a: list[int], to_b: list[int]) -> None:
            folder = Path(scratch) / f"run{next(runs)}"
            shutil.copytree(template, folder)
            nodes = {name: Node.open(folder / name) for name in ("a", "b", "c")}
            try:
                names = {name: peer(nodes[name]) for name in ("a", "b")}
                records = [_new_records(nodes[name], thread, before[name]) for name in ("a", "b")]
                for name, picks_of in (("c", to_c), ("a", to_a), ("b", to_b)):
                    _deliver(nodes[name], thread, records, picks_of)
                admins = [_admins(nodes[name], thread, names) for name in ("a", "b", "c")]
                last = max(names, key=lambda name: _leave_stamp(nodes["c"], thread, names[name]))
                assert admins[0] == admins[1] == admins[2] == {last}
                assert Role.FOLLOW not in nodes["c"].membership.roles(thread, names[({"a", "b"} - {last}).pop()])
            finally:
                for node in nodes.values():
                    node.close()
                shutil.rmtree(folder)

        check()
