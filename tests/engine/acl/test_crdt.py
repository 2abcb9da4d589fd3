"""The ACL CRDT: merge is commutative, associative and idempotent; a grant
concurrent with a revoke of the same role ends revoked; deltas from peers are
read strictly."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threads_desktop.engine.acl.crdt import AclState, merge_all
from threads_desktop.engine.core.errors import InvalidInputError
from threads_desktop.engine.core.keys import SigningKey
from threads_desktop.engine.core.members import Role

PEERS = [str(SigningKey.from_seed(bytes([i]) * 32).peer_id) for i in range(1, 4)]
REPLICAS = [b"log-a", b"log-b", b"log-c"]


def _same(a: AclState, b: AclState) -> bool:
    return a.to_value() == b.to_value()


@st.composite
def histories(draw: st.DrawFn) -> list[AclState]:
    """Three replicas changing the ACL and merging each other's states now and then."""
    states = [AclState() for _ in REPLICAS]
    counters = [0, 0, 0]
    for _ in range(draw(st.integers(0, 25))):
        replica = draw(st.integers(0, 2))
        action = draw(st.sampled_from(["grant", "revoke", "remove", "default", "sync"]))
        state = states[replica]
        counters[replica] += 1
        dot = (REPLICAS[replica], counters[replica])
        if action == "sync":
            states[replica] = state.merge(states[draw(st.integers(0, 2))])
            continue
        peer = draw(st.sampled_from(PEERS))
        role = draw(st.sampled_from(list(Role)))
        if action == "grant":
            delta = state.grant(peer, role, dot)
        elif action == "revoke":
            delta = state.revoke(peer, role, dot)
        elif action == "remove":
            delta = state.remove_member(peer)
        else:
            delta = state.set_default(role, dot)
        states[replica] = state.merge(delta)
    return states


@settings(max_examples=200, deadline=None)
@given(histories())
def test_merge_is_commutative_associative_and_idempotent(states: list[AclState]) -> None:
    a, b, c = states
    assert _same(a.merge(b), b.merge(a))
    assert _same(a.merge(b).merge(c), a.merge(b.merge(c)))
    assert _same(a.merge(a), a)
    assert _same(a.merge(b).merge(b), a.merge(b))
    everyone = merge_all(states)
    assert all(everyone.roles(p) == merge_all(reversed(states)).roles(p) for p in PEERS)


def test_a_grant_concurrent_with_a_revoke_of_the_same_role_ends_revoked() -> None:
    peer = PEERS[0]
    start = AclState().merge(AclState().grant(peer, Role.WRITE, (b"owner", 1)))
    granted_again = start.merge(start.grant(peer, Role.WRITE, (b"alice", 1)))   # alice re-grants
    revoked = start.merge(start.revoke(peer, Role.WRITE, (b"bob", 1)))          # bob revokes, concurrently
    for merged in (granted_again.merge(revoked), revoked.merge(granted_again)):
        assert Role.WRITE not in merged.roles(peer)
    # A grant made after seeing the revoke holds.
    settled = granted_again.merge(revoked)
    assert Role.WRITE in settled.merge(settled.grant(peer, Role.WRITE, (b"alice", 2))).roles(peer)


def test_the_document_looks_like_the_papers_listing() -> None:
    owner, follower = PEERS[0], PEERS[1]
    state = AclState()
    for counter, (peer, role) in enumerate([(owner, Role.WRITE), (owner, Role.DELETE), (follower, Role.FOLLOW)], 1):
        state = state.merge(state.grant(peer, role, (b"owner-log", counter)))
    state = state.merge(state.set_default(Role.NO_ACCESS, (b"owner-log", 9)))
    assert state.to_document("bafy-acl") == {"_id": "bafy-acl", "default": "no-access",
                                             "peers": {owner: ["write", "delete"], follower: ["follow"]}}
    assert state.roles(PEERS[2]) == frozenset()  # not a member: the default, no access


def test_concurrent_defaults_resolve_to_the_least_privileged() -> None:
    base = AclState()
    a = base.merge(base.set_default(Role.READ, (b"a", 1)))
    b = base.merge(base.set_default(Role.FOLLOW, (b"b", 1)))
    assert a.merge(b).default_role() == b.merge(a).default_role() == Role.FOLLOW
    assert a.merge(b).roles(PEERS[2]) == frozenset({Role.FOLLOW})


def test_a_revoked_member_does_not_fall_back_to_the_default_role() -> None:
    peer = PEERS[0]
    state = AclState().merge(AclState().set_default(Role.READ, (b"o", 1)))
    state = state.merge(state.grant(peer, Role.WRITE, (b"o", 2)))
    state = state.merge(state.revoke(peer, Role.WRITE, (b"o", 3)))
    assert state.roles(peer) == frozenset()


@given(histories())
def test_deltas_round_trip_through_their_wire_form(states: list[AclState]) -> None:
    for state in states:
        assert _same(AclState.from_value(state.to_value()), state)


@given(st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8), st.binary(max_size=8)),
                    lambda inner: st.one_of(st.lists(inner, max_size=4),
                                            st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=20))
def test_reading_a_delta_from_a_peer_raises_only_the_projects_errors(value: Any) -> None:
    try:
        AclState.from_value(value)
    except InvalidInputError:
        pass


def test_a_delta_naming_dots_outside_its_context_is_refused() -> None:
    value = AclState().grant(PEERS[0], Role.READ, (b"x", 1)).to_value()
    value["context"] = []
    with pytest.raises(InvalidInputError, match="context"):
        AclState.from_value(value)
