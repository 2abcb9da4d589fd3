"""Hostile members and crafted events: each of these once got through (found in review)."""

from __future__ import annotations

from collections.abc import Callable

from tests.engine.eventstore.peers import (
    WallClock,
    admit,
    force_commit,
    join,
    newest_record_opens_with,
    peer,
    start_thread,
    sync,
    texts,
    with_second_admin,
)
from threads_desktop.engine.acl.control_ops import Bind, Join, acl_payload, binding_message, join_message
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.keys import SigningKey
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.logstore.store import NewEvent
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]





# --- a crafted control payload makes every receive of the page raise ---------------------------

def test_a_control_event_naming_an_invalid_peer_does_not_break_receive(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    join(a, b, thread, role=Role.FOLLOW)            # a follower: it can seal control events
    force_commit(b, thread, [{"type": "acl", "ops": [{"op": "grant", "peer": "not-a-peer", "role": "read"}]}],
                 control=True, apply_locally=False)
    outcomes = a.receive(thread, [r.envelope for r in b.store.records_after(thread, b.store.own_log(thread), 0)])
    assert len(outcomes) == 2
    # The crafted record is refused alone; b's log moved on.
    assert [log.seq for log in a.store.logs(thread) if log.log_id == b.store.own_log(thread)] == [2]


# --- a joiner binding a low-order X25519 key blocks every rotation -----------------------------

def join_with_exchange(a: Node, intruder: Node, thread: ThreadId, exchange: bytes, role: Role = Role.READ) -> None:
    link = a.membership.invite(thread, role)
    intruder.store.create_thread(thread, a.store.thread_keys(thread)[0])  # as a v1 link gave them
    log = intruder.store.create_own_log(thread)
    sync(a, intruder, thread)
    invite = SigningKey.from_seed(link.invite_seed)
    me = intruder.identity
    bind = Bind(me.peer_id, exchange, me.signing.sign(binding_message(thread, log, me.peer_id, exchange)))
    join_op = Join(invite.peer_id.public_key, invite.sign(join_message(thread, invite.peer_id.public_key, log,
                                                                         me.peer_id)))
    force_commit(intruder, thread, [acl_payload(bind, join_op)], control=True)
    sync(intruder, a, thread)


def test_a_member_with_an_unusable_exchange_key_does_not_stop_the_admin_revoking_others(open_node: OpenNode) -> None:
    a, b, intruder = open_node("a"), open_node("b"), open_node("intruder")
    thread = start_thread(a)
    join(a, b, thread, role=Role.READ)
    join_with_exchange(a, intruder, thread, bytes(32))
    assert Role.READ in a.membership.roles(thread, peer(intruder))   # the join held
    a.membership.revoke(thread, peer(b), Role.READ)                   # raises InvalidInputError
    assert Role.READ not in a.membership.roles(thread, peer(b))


# --- concurrent rotations: the newest epoch may be sealed to a member the other removed ---------

def test_a_member_removed_during_a_concurrent_rotation_cannot_read_what_follows(
        open_node: Callable[..., Node]) -> None:
    clock = WallClock()
    a, b, x, y = (open_node(name, now_seconds=clock) for name in "abxy")
    thread = start_thread(a)
    join(a, b, thread)
    join(a, x, thread, role=Role.READ)
    join(a, y, thread, role=Role.READ)
    a.membership.grant(thread, peer(b), Role.WRITE, "acl")            # b is an admin too
    for node in (b, x, y):
        sync(a, node, thread)
    a.membership.revoke(thread, peer(x), Role.READ)                   # a removes x (new epoch, not for x)
    clock.advance(0.01)
    b.membership.revoke(thread, peer(y), Role.READ)                   # b, concurrently, removes y
    for source, target in ((a, b), (b, a)):
        sync(source, target, thread)
    a.chat(thread).post("after both removals")
    for node in (a, b):
        sync(node, x, thread)
        sync(node, y, thread)
    assert Role.READ not in a.membership.roles(thread, peer(x))
    assert texts(x, thread) == [] and texts(y, thread) == []


def test_an_admin_removed_concurrently_cannot_plant_the_next_epoch_key(open_node: OpenNode) -> None:
    from threads_desktop.engine.acl.control_ops import Keys
    from threads_desktop.engine.core.keys import ThreadKey

    a, b, c, thread = with_second_admin(open_node)
    a.membership.revoke(thread, peer(b), Role.FOLLOW)                 # b out entirely, keys rotated
    planted = ThreadKey(b"\x01" * 32, b"\x02" * 32, 1 << 62)         # b knows this key
    [keys_op] = b.membership._boxes(thread, {peer(a): True, peer(c): True}, planted)
    assert isinstance(keys_op, Keys)
    b.commit(thread, [acl_payload(keys_op)], control=True)            # b has not seen its removal yet
    for source, target in ((b, a), (b, c), (a, c)):
        sync(source, target, thread)
    c.chat(thread).post("for members only")
    assert not newest_record_opens_with(c, thread, [planted]), "the removed admin reads what c wrote after the removal"


# --- a removed founder takes the thread back with a second genesis ----------------------------

def test_a_removed_founder_cannot_start_the_acl_again_in_a_new_log(open_node: OpenNode) -> None:
    import os

    from threads_desktop.engine.acl.control_ops import Genesis, make_bind
    from threads_desktop.engine.logstore.envelopes import build_envelope

    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    join(a, b, thread)
    a.membership.grant(thread, peer(b), Role.WRITE, "acl")
    sync(a, b, thread)
    b.membership.revoke(thread, peer(a), Role.WRITE, "acl")
    b.membership.revoke(thread, peer(a), Role.FOLLOW)                 # a is out, keys rotated
    sync(b, a, thread)
    assert Role.FOLLOW not in b.membership.roles(thread, peer(a))
    genesis = next(op for e in a._services.gate.evaluation(thread).events for op in e.ops
                   if isinstance(op, Genesis))
    log_key = SigningKey.generate()
    envelope = build_envelope(
        thread_id=thread, key=a.store.thread_keys(thread)[0], log_key=log_key, prev_cid=None, seq=1,
        payload=acl_payload(make_bind(a.identity, thread, log_key.peer_id), genesis),
        hlc=a._services.clock.tick(), deps=tuple(a.events.frontier(thread)), random_bytes=os.urandom,
        control=True).envelope
    b.receive(thread, [envelope])
    assert Role.FOLLOW not in b.membership.roles(thread, peer(a))
    assert not any(m.admin for m in b.membership.members(thread) if m.peer_id == peer(a))


# --- two concurrent invites with one key: the terms depend on arrival order --------------------

def test_peers_agree_on_what_a_join_grants_whatever_the_order_invites_arrived_in(open_node: OpenNode) -> None:
    from threads_desktop.engine.acl.control_ops import Invite, make_bind

    a, b, j = open_node("a"), open_node("b"), open_node("j")
    first, second = open_node("first"), open_node("second")
    thread = start_thread(a)
    join(a, b, thread)
    join(a, first, thread, role=Role.READ)
    join(a, second, thread, role=Role.READ)
    a.membership.grant(thread, peer(b), Role.WRITE, "acl")
    for node in (b, first, second):
        sync(a, node, thread)
    key = SigningKey.generate()
    epoch = a.store.thread_keys(thread)[0].epoch
    # Two admins (or one admin with a modified client) publish the same invite key with other terms.
    force_commit(a, thread, [acl_payload(Invite(key.peer_id.public_key, Role.READ, 0, 1, epoch))], control=True)
    force_commit(b, thread, [acl_payload(Invite(key.peer_id.public_key, Role.WRITE, 0, 1, epoch))], control=True)
    j.store.create_thread(thread, a.store.thread_keys(thread)[0])
    log = j.store.create_own_log(thread)
    sync(a, j, thread)
    sync(b, j, thread)
    join_op = Join(key.peer_id.public_key, key.sign(join_message(thread, key.peer_id.public_key, log,
                                                                   j.identity.peer_id)))
    force_commit(j, thread, [acl_payload(make_bind(j.identity, thread, log), join_op)], control=True)
    sync(a, first, thread)
    sync(b, first, thread)      # first: a's invite, then b's
    sync(b, second, thread)
    sync(a, second, thread)     # second: b's invite, then a's
    sync(j, first, thread)
    sync(j, second, thread)
    assert first.membership.roles(thread, peer(j)) == second.membership.roles(thread, peer(j))


# --- a link made before a follow-key rotation ---------------------------------------------------

def test_a_link_older_than_a_follow_rotation_is_revoked_with_a_clear_reason(open_node: OpenNode) -> None:
    a, removed, late = open_node("a"), open_node("removed"), open_node("late")
    thread = start_thread(a)
    link = a.membership.invite(thread, Role.READ)        # made before the rotation
    join(a, removed, thread, role=Role.READ)
    a.membership.revoke(thread, peer(removed), Role.FOLLOW)   # new follow key: links still out are revoked
    key = SigningKey.from_seed(link.invite_seed).peer_id.public_key
    assert [i.revoked for i in a.membership.invites(thread) if i.key == key] == [True]
    a.chat(thread).post("after the rotation")
    late.membership.join(InviteLink.parse(link.to_uri()))
    assert admit(a, late, thread).reason == "revoked"
    assert late.membership.pending_join(thread) == (False, "revoked")
    assert late.list_threads() == []


# --- a writer without delete deletes another's item by claiming to have co-created it ----------

def test_a_writer_without_delete_cannot_delete_anothers_message_via_a_concurrent_create(
        open_node: OpenNode) -> None:
    from threads_desktop.engine.db.documents import db_event

    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    join(a, b, thread)                                   # write, no delete
    b_log = b.store.own_log(thread)
    old_deps = tuple((log, seq) for log, seq in b.events.frontier(thread) if log != b_log)
    a.chat(thread).post("mine")
    sync(a, b, thread)
    [message] = b.chat(thread).messages.find()
    clock = b._services.clock
    with b.database.write():                             # "I had not seen it": a create of the same ID
        b.store.append_many(thread, [NewEvent(db_event({"op": "create", "c": "message", "id": message.id,
                                                        "set": {"text": "mine too"}}), clock.tick(), old_deps)])
    force_commit(b, thread, [db_event({"op": "delete", "c": "message", "id": message.id})], apply_locally=False)
    sync(b, a, thread)
    assert texts(a, thread) == ["mine"]


# --- keys taken on opening, before the event is judged: a removed admin plants a key ------------

def test_a_removed_admin_cannot_plant_a_key_in_the_page_that_brings_its_removal(open_node: OpenNode) -> None:
    from tests.engine.eventstore.peers import envelopes_of
    from threads_desktop.engine.core.keys import ThreadKey

    a, b, c, thread = with_second_admin(open_node)
    a.membership.revoke(thread, peer(b), Role.FOLLOW)     # b out entirely, keys rotated
    sync(a, b, thread)                                    # b knows: what it writes now is after it
    planted = ThreadKey(b"\x01" * 32, b"\x02" * 32, 1 << 62)
    [keys_op] = b.membership._boxes(thread, {peer(c): True}, planted)
    force_commit(b, thread, [acl_payload(keys_op)], control=True, apply_locally=False)
    c.receive(thread, envelopes_of(a, thread) + envelopes_of(b, thread))   # one page, as sync sends it
    c.chat(thread).post("for members only")
    assert not newest_record_opens_with(c, thread, [planted]), "the removed admin reads what c wrote after the removal"
