"""The policy, pure: verdicts depend only on the set of ACL events, never on
the (causally consistent) order they were judged in; changes by members
without the right change nothing."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from threads_desktop.engine.acl.control_ops import AclOp, Genesis, Grant, Revoke, SetDefault, make_bind, owner_random
from threads_desktop.engine.acl.policy import AclEvent, Evaluation
from threads_desktop.engine.core.ids import ThreadId, ThreadVariant
from threads_desktop.engine.core.keys import Identity, SigningKey
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.eventstore.stamps import stamp

NONCE = bytes(16)
IDENTITIES = [Identity.from_seeds(bytes([i]) * 32, bytes([i + 10]) * 32) for i in range(1, 4)]
LOGS = [SigningKey.from_seed(bytes([i + 20]) * 32).peer_id for i in range(1, 4)]
THREAD = ThreadId.from_random(ThreadVariant.ACCESS_CONTROLLED, owner_random(IDENTITIES[0].peer_id, NONCE))
PEERS = [str(identity.peer_id) for identity in IDENTITIES]


@dataclass
class Draft:
    author: int
    ops: tuple[AclOp, ...]
    vc: dict[int, int]  # author index -> seq seen (its own included)


ops_strategy = st.lists(st.one_of(
    st.builds(Grant, st.sampled_from(PEERS), st.sampled_from([Role.FOLLOW, Role.READ, Role.WRITE, Role.DELETE]),
              st.sampled_from([None, "acl"])),
    st.builds(Revoke, st.sampled_from(PEERS), st.sampled_from([Role.FOLLOW, Role.READ, Role.WRITE, Role.DELETE]),
              st.sampled_from([None, "acl"])),
    st.builds(SetDefault, st.sampled_from(list(Role)), st.sampled_from([None, "acl"])),
), min_size=1, max_size=3)


@st.composite
def histories(draw: st.DrawFn, ops_for: Callable[[int], st.SearchStrategy[Sequence[AclOp]]] = lambda _: ops_strategy,
              max_events: int = 14) -> list[Draft]:
    """Three members writing ACL events (`ops_for(author)` draws each one's
    ops), each after a random part of the others' (a causally closed vector
    clock)."""
    drafts: list[Draft] = []
    last: dict[int, Draft] = {}
    for author in range(3):  # every log starts with its binding (the founder's with genesis)
        first: tuple[AclOp, ...] = (make_bind(IDENTITIES[author], THREAD, LOGS[author]),)
        if author == 0:
            first += (Genesis(NONCE),)
        vc = {0: 1} if author else {}
        vc[author] = 1
        last[author] = Draft(author, first, vc)
        drafts.append(last[author])
    for _ in range(draw(st.integers(1, max_events))):
        author = draw(st.integers(0, 2))
        vc = dict(last[author].vc)
        for seen in draw(st.lists(st.sampled_from(tuple(drafts)), max_size=3)):
            for member, seq in seen.vc.items():
                vc[member] = max(vc.get(member, 0), seq)
        vc[author] = last[author].vc[author] + 1
        last[author] = Draft(author, tuple(draw(ops_for(author))), vc)
        drafts.append(last[author])
    return drafts


def to_events(drafts: list[Draft]) -> list[AclEvent]:
    return [AclEvent(LOGS[d.author].raw, d.vc[d.author], stamp(1000 + i, LOGS[d.author], d.vc[d.author]),
                     (1000 + i) << 16, {LOGS[m].raw: s for m, s in d.vc.items() if m != d.author}, d.ops)
            for i, d in enumerate(drafts)]


def causal_order(events: list[AclEvent], rng: random.Random) -> list[AclEvent]:
    """A random order in which every event comes after its causal past."""
    done: set[tuple[bytes, int]] = set()
    pending, out = list(events), []
    while pending:
        ready = [e for e in pending if (e.seq == 1 or (e.log, e.seq - 1) in done)
                 and all((log, s) in done or s == 0 for log, seq in e.deps.items() for s in range(1, seq + 1))]
        event = rng.choice(ready)
        pending.remove(event)
        done.add((event.log, event.seq))
        out.append(event)
    return out


def verdicts(evaluation: Evaluation) -> dict[tuple[bytes, int], bool]:
    return {(e.log, e.seq): evaluation.final.valid[i] for i, e in enumerate(evaluation.events)}


def summary(evaluation: Evaluation) -> object:
    book = evaluation.current()
    return (book.thread.to_document("t"), {name: state.to_document(name) for name, state in book.entities.items()},
            {peer: book.is_admin(peer) for peer in PEERS})


@settings(max_examples=60, deadline=None)
@given(histories(), st.integers(0, 1000))
def test_verdicts_and_state_do_not_depend_on_the_order_of_judging(drafts: list[Draft], seed: int) -> None:
    events = to_events(drafts)
    reference = Evaluation(THREAD, events)
    for attempt in range(3):
        shuffled = Evaluation(THREAD, causal_order(events, random.Random(seed * 7 + attempt)))
        assert verdicts(shuffled) == verdicts(reference)
        assert summary(shuffled) == summary(reference)


@settings(max_examples=60, deadline=None)
@given(histories())
def test_acl_changes_by_members_without_the_right_change_nothing(drafts: list[Draft]) -> None:
    # Nobody but the founder is ever an admin here: drop the founder's grants
    # and defaults on the ACL entity.
    drafts = [d if d.author or d.vc[0] == 1 else Draft(d.author, tuple(op for op in d.ops if not (
        isinstance(op, (Grant, SetDefault)) and op.entity == "acl")) or (SetDefault(Role.NO_ACCESS),), d.vc)
        for d in drafts]
    events = to_events(drafts)
    evaluation = Evaluation(THREAD, events)
    founder_only = Evaluation(THREAD, [e for e in events if e.log == LOGS[0].raw or e.seq == 1])
    for i, event in enumerate(evaluation.events):
        if event.log != LOGS[0].raw and event.seq > 1:
            assert not evaluation.final.valid[i]
            assert "edit the ACL" in str(evaluation.final.reasons[i])
    assert summary(evaluation) == summary(founder_only)


def test_a_grant_concurrent_with_the_revocation_of_its_authors_admin_right_is_refused() -> None:
    founder, admin, other = (make_bind(IDENTITIES[i], THREAD, LOGS[i]) for i in range(3))
    drafts = [
        Draft(0, (founder, Genesis(NONCE)), {0: 1}),
        Draft(1, (admin,), {0: 1, 1: 1}),
        Draft(2, (other,), {0: 1, 2: 1}),
        Draft(0, (Grant(PEERS[1], Role.WRITE, "acl"), Grant(PEERS[1], Role.WRITE)), {0: 2, 1: 1}),
        Draft(0, (Revoke(PEERS[1], Role.WRITE, "acl"),), {0: 3, 1: 1}),
        # The demoted admin grants a friend, without having seen its demotion.
        Draft(1, (Grant(PEERS[2], Role.WRITE),), {0: 2, 1: 2}),
    ]
    evaluation = Evaluation(THREAD, to_events(drafts))
    assert evaluation.causal.valid[-1] and not evaluation.final.valid[-1]
    assert Role.WRITE not in evaluation.current().roles(PEERS[2])
