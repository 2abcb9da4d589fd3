"""Keys smuggled or planted by removed admins are never written with."""

from __future__ import annotations

from collections.abc import Callable

from tests.engine.eventstore.peers import join, newest_record_opens_with, peer, start_thread, sync, with_second_admin
from threads_desktop.engine.acl.control_ops import Keys, acl_payload
from threads_desktop.engine.acl.keybox import seal_key_box
from threads_desktop.engine.core.keys import ThreadKey
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]



def test_a_key_smuggled_in_a_box_under_another_epoch_becomes_clean(open_node: OpenNode) -> None:
    """b, a removed admin, plants epoch P as an extra key in a box whose op
    names a legitimate epoch: P is attributed to nobody, so a's delivery
    (op.epoch = newest held = P) makes it 'clean' and writers use it."""
    a, b, c, thread = with_second_admin(open_node)
    a.membership.revoke(thread, peer(b), Role.FOLLOW)                 # b out entirely, keys rotated
    planted = ThreadKey(b"\x01" * 32, b"\x02" * 32, 1 << 62)         # b knows this key
    evaluation = b._services.gate.evaluation(thread)
    exchange = {x.member: x.exchange for x in evaluation.bindings.values()}
    legit = b.store.thread_keys(thread)[0].epoch                     # an epoch b legitimately made/knows
    boxes = tuple((peer(n), seal_key_box(exchange[peer(n)], thread, [planted]), True) for n in (a, c))
    b.commit(thread, [acl_payload(Keys(legit, boxes))], control=True)  # b has not seen its removal yet
    for source, target in ((b, a), (b, c), (a, c), (c, a), (a, c)):
        sync(source, target, thread)
    c.chat(thread).post("for members only")
    assert not newest_record_opens_with(c, thread, [planted]), "the removed admin reads what c wrote after the removal"
    assert newest_record_opens_with(c, thread, c.store.thread_keys(thread))  # while the members' keys do


def test_a_planted_epoch_lends_its_follow_key_to_the_next_read_rotation(open_node: OpenNode) -> None:
    """b, a removed admin, plants epoch 1<<62 (attributed to b, so unclean):
    it still sorts first in a's keys, and a's next read-only rotation reuses
    its follow key, so b opens every control event sealed with the new epoch."""
    a, b, c, d = open_node("a"), open_node("b"), open_node("c"), open_node("d")
    thread = start_thread(a)
    join(a, b, thread)
    join(a, c, thread)
    join(a, d, thread)
    a.membership.grant(thread, peer(b), Role.WRITE, "acl")
    for n in (b, c, d):
        sync(a, n, thread)
    a.membership.revoke(thread, peer(b), Role.FOLLOW)                 # b out entirely, keys rotated
    planted = ThreadKey(b"\x01" * 32, b"\x02" * 32, 1 << 62)
    [keys_op] = b.membership._boxes(thread, {peer(a): True}, planted)
    b.commit(thread, [acl_payload(keys_op)], control=True)            # concurrent with its removal
    sync(b, a, thread)
    assert a.store.thread_keys(thread)[0].epoch == 1 << 62            # the planted key sorts first
    a.membership.revoke(thread, peer(d), Role.READ)                   # read-only rotation
    a.membership.grant(thread, peer(c), Role.DELETE)                  # a control event after it
    assert not newest_record_opens_with(a, thread, [planted.follow_only()]), \
        "the removed admin opens control events written after its removal"
