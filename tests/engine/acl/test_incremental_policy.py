"""Evaluation.extend equals a full recompute; the optimised
AclState.merge equals the straightforward one (kept here as the reference)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.engine.acl.test_policy import IDENTITIES, LOGS, PEERS, THREAD, Draft, causal_order, to_events
from tests.engine.acl.test_policy import histories as policy_histories
from threads_desktop.engine.acl.control_ops import (
    AclOp,
    Grant,
    Invite,
    Join,
    Keys,
    Revoke,
    SetDefault,
    Undevice,
    Uninvite,
    join_message,
)
from threads_desktop.engine.acl.crdt import AclState, Dot, _merge_entries
from threads_desktop.engine.acl.devices import sign_removal
from threads_desktop.engine.acl.policy import Evaluation
from threads_desktop.engine.core.keys import SigningKey
from threads_desktop.engine.core.members import Role

INVITES = [SigningKey.from_seed(bytes([i + 40]) * 32) for i in range(2)]
DEVICES = [identity.peer_id for identity in IDENTITIES] + [SigningKey.from_seed(bytes([50]) * 32).peer_id]


def join_op(author: int, invite: int) -> Join:
    key = INVITES[invite]
    public = key.peer_id.public_key
    return Join(public, key.sign(join_message(THREAD, public, LOGS[author], IDENTITIES[author].peer_id)))


def op_for(author: int) -> st.SearchStrategy[AclOp]:
    roles = st.sampled_from([Role.FOLLOW, Role.READ, Role.WRITE, Role.DELETE])
    return st.one_of(
        st.builds(Grant, st.sampled_from(PEERS), roles, st.sampled_from([None, "acl"])),
        st.builds(Revoke, st.sampled_from(PEERS), roles, st.sampled_from([None, "acl"])),
        st.builds(SetDefault, st.sampled_from(list(Role)), st.sampled_from([None, "acl"])),
        st.builds(lambda i, r, u: Invite(INVITES[i].peer_id.public_key, r, 0, u, 0),
                  st.integers(0, 1), st.sampled_from([Role.FOLLOW, Role.READ, Role.WRITE]), st.integers(1, 2)),
        st.builds(lambda i: Uninvite(INVITES[i].peer_id.public_key), st.integers(0, 1)),
        st.builds(lambda i: join_op(author, i), st.integers(0, 1)),
        st.builds(lambda e, who, r: Keys(e, tuple((PEERS[w], b"box", r) for w in sorted(set(who)))),
                  st.integers(1, 5), st.lists(st.integers(0, 2), max_size=3), st.booleans()),
        # Removals of a member's own device (each is its own person: these count), or of another's, or of
        # a device bound nowhere (they count for a bound person).
        st.builds(lambda by, of: Undevice(sign_removal(IDENTITIES[by].signing, DEVICES[of], 1)),
                  st.integers(0, 2), st.integers(0, 3)),
    )


def histories() -> st.SearchStrategy[list[Draft]]:
    """The policy tests' histories, with every kind of ACL op (invites,
    joins, key boxes) and a few more events."""
    return policy_histories(lambda author: st.lists(op_for(author), min_size=1, max_size=3), max_events=16)


def snapshot(ev: Evaluation) -> object:
    book = ev.current()
    return (list(ev.causal.valid), list(ev.final.valid), list(ev.causal.reasons), list(ev.final.reasons),
            book.thread.to_document("t"), {n: s.to_document(n) for n, s in sorted(book.entities.items())},
            sorted(book.invites.items()), sorted(book.uninvited),
            sorted((sorted(e), p, r) for e, p, r in ev.key_knowledge()),
            [ev.state_before(e.log, e.seq, e.deps).thread.to_document("t") for e in ev.events])


@settings(max_examples=80, deadline=None)
@given(histories(), st.integers(0, 10_000))
def test_extend_equals_a_full_recompute(drafts: list[Draft], seed: int) -> None:
    rng = random.Random(seed)
    events = causal_order(to_events(drafts), rng)
    incremental = Evaluation(THREAD, [])
    for n, event in enumerate(events, 1):
        if rng.random() < 0.5:
            incremental.key_knowledge()          # the incremental knowledge is built as it goes
            incremental.current()
        if not incremental.extend(event):
            incremental = Evaluation(THREAD, events[:n])
    assert snapshot(incremental) == snapshot(Evaluation(THREAD, events))


# --- merge -----------------------------------------------------------------------------------

def reference_merge(a: AclState, b: AclState) -> AclState:
    peers: dict[str, dict[Role, dict[Dot, bool]]] = {}
    for peer in set(a.peers) | set(b.peers):
        mine, theirs = a.peers.get(peer, {}), b.peers.get(peer, {})
        roles = {}
        for role in set(mine) | set(theirs):
            entries = _merge_entries(mine.get(role, {}), a.context, theirs.get(role, {}), b.context)
            if entries:
                roles[role] = entries
        if roles:
            peers[peer] = roles
    return AclState(peers, _merge_entries(a.default, a.context, b.default, b.context), a.context | b.context)


def plain(s: AclState) -> object:
    return ({p: {r: dict(e) for r, e in roles.items()} for p, roles in s.peers.items()}, dict(s.default),
            s.context)


MEMBERS = ["p0", "p1", "p2", "p3"]


@st.composite
def replicas(draw: st.DrawFn) -> list[tuple[AclState, AclState]]:
    """Three replicas making changes and merging each other's states (both
    the optimised merge and the reference, side by side)."""
    states = [(AclState(), AclState()) for _ in range(3)]
    counters = [0, 0, 0]
    pairs = []
    for _ in range(draw(st.integers(1, 30))):
        r = draw(st.integers(0, 2))
        kind = draw(st.integers(0, 4))
        opt, ref = states[r]
        if kind == 4:
            other = draw(st.integers(0, 2))
            o_opt, o_ref = states[other]
            pairs.append((opt, o_opt))
            states[r] = (opt.merge(o_opt) if draw(st.booleans()) else o_opt.merge(opt), reference_merge(ref, o_ref))
            continue
        counters[r] += 1
        dot = (bytes([r]), counters[r])
        peer, role = draw(st.sampled_from(MEMBERS)), draw(st.sampled_from(list(Role)))
        if kind == 0:
            d_opt, d_ref = opt.grant(peer, role, dot), ref.grant(peer, role, dot)
        elif kind == 1:
            d_opt, d_ref = opt.revoke(peer, role, dot), ref.revoke(peer, role, dot)
        elif kind == 2:
            d_opt, d_ref = opt.remove_member(peer), ref.remove_member(peer)
        else:
            d_opt, d_ref = opt.set_default(role, dot), ref.set_default(role, dot)
        pairs.append((opt, d_opt))
        states[r] = (opt.merge(d_opt) if draw(st.booleans()) else d_opt.merge(opt), reference_merge(ref, d_ref))
    return [*states, *pairs]  # type: ignore[list-item]


@settings(max_examples=200, deadline=None)
@given(replicas())
def test_optimised_merge_equals_reference(found: list) -> None:
    for opt, ref in found[:3]:
        assert plain(opt) == plain(ref)
        assert opt == ref
    for a, b in found[3:]:
        assert plain(a.merge(b)) == plain(reference_merge(a, b)) == plain(b.merge(a))
        assert plain(a.merge(b).merge(b)) == plain(a.merge(b))
