"""Healing settles (no rotation storm) with two admins, a follower
and a member whose exchange key no box can be sealed to."""

from __future__ import annotations

from collections.abc import Callable

from tests.engine.acl.test_hostile_members import join_with_exchange
from tests.engine.eventstore.peers import WallClock, join, peer, start_thread, sync
from threads_desktop.engine.acl.control_ops import Admit, Keys
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]



def keys_events(node: Node, thread) -> int:
    """Rotations and deliveries (an admit's keys for its joiner are no healing)."""
    return sum(1 for e in node._services.gate.evaluation(thread).events
               if any(isinstance(o, Keys) for o in e.ops) and not any(isinstance(o, Admit) for o in e.ops))


def test_concurrent_removals_heal_once_and_settle(open_node: Callable[..., Node]) -> None:
    clock = WallClock()
    a, b, w, x, y, f = (open_node(n, now_seconds=clock) for n in "abwxyf")
    thread = start_thread(a)
    join(a, b, thread)
    join(a, w, thread)
    join(a, x, thread, role=Role.READ)
    join(a, y, thread, role=Role.READ)
    join(a, f, thread, role=Role.FOLLOW)
    join_with_exchange(a, open_node("bad", now_seconds=clock), thread, bytes(32))
    a.membership.grant(thread, peer(b), Role.WRITE, "acl")
    nodes = (a, b, w, x, y, f)
    for n in nodes:
        sync(a, n, thread)
    a.membership.revoke(thread, peer(x), Role.READ)
    clock.advance(0.01)
    b.membership.revoke(thread, peer(y), Role.READ)
    counts = []
    for _round in range(4):
        for s in nodes:
            for t in nodes:
                if s is not t:
                    sync(s, t, thread)
        counts.append(keys_events(a, thread))
    assert counts[-1] == counts[-2] == counts[-3], counts
    assert counts[-1] <= 2 + 2 + 2, counts       # two removals, at most one heal per admin, deliveries
    w.chat(thread).post("w writes")                     # a writer is not blocked
    for s in (w,):
        for t in (x, y):
            sync(s, t, thread)
    assert not x.chat(thread).messages.find() and not y.chat(thread).messages.find()
