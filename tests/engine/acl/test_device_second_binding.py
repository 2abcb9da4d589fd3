"""A device's key alone signs a Bind, so a modified client may bind a
second log of its device in a thread, as itself or as a made-up person.
That changes nothing of what its person's removal means, nor of which
epochs are clean, nor does any verdict depend on the order the two
bindings arrived in (review of issue 19, findings 1 and 2)."""

from __future__ import annotations

from tests.engine.eventstore.peers import force_commit, join, peer, start_thread, sync, texts
from tests.engine.persons.test_two_devices import OpenNode, add_second_device, everyone_syncs
from threads_desktop.engine.acl.control_ops import (
    ACL_ENTITY,
    Genesis,
    Grant,
    Keys,
    Undevice,
    acl_payload,
    make_bind,
    owner_random,
)
from threads_desktop.engine.acl.devices import DeviceCert, issue_cert, sign_removal
from threads_desktop.engine.acl.keybox import open_key_box
from threads_desktop.engine.acl.policy import AclEvent, Evaluation
from threads_desktop.engine.core.errors import AccessDeniedError
from threads_desktop.engine.core.ids import PeerId, ThreadId, ThreadVariant
from threads_desktop.engine.core.keys import Identity, SigningKey
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.eventstore.stamps import stamp
from threads_desktop.engine.logstore.store import _log_label
from threads_desktop.engine.node import Node


def _second_log(node: Node, thread: ThreadId, cert: DeviceCert | None) -> None:
    """What a modified client does: a second log of its own in the thread, bound with `cert`."""
    key = SigningKey.generate()
    store = node.store
    with node.database.write() as sql:
        sql.execute("INSERT INTO logs (thread_id, log_id, wrapped_private_key) VALUES (?, ?, ?)",
                    (thread.raw, key.peer_id.raw, store._vault.wrap(key.seed(), _log_label(thread, key.peer_id))))
    store._log_keys[(thread, key.peer_id)] = key
    first = store.own_log(thread)
    store._own_logs[thread] = key.peer_id
    force_commit(node, thread, [acl_payload(make_bind(node.identity, thread, key.peer_id, cert))], control=True,
                 apply_locally=False)
    if first is not None:
        store._own_logs[thread] = first


def test_a_removed_device_binding_a_second_log_stays_removed(open_node: OpenNode) -> None:
    friend, laptop, desktop = open_node("friend"), open_node("laptop"), open_node("desktop")
    album = start_thread(friend)
    join(friend, laptop, album)
    add_second_device(laptop, desktop)
    everyone_syncs([friend, laptop, desktop], album)
    laptop.persons.remove_device(peer(desktop))  # stolen
    everyone_syncs([friend, laptop], album)
    rotated = friend.store.thread_keys(album)[0].epoch

    _second_log(desktop, album, None)  # the thief binds a log as the device itself
    sync(desktop, friend, album)

    evaluation = friend._services.gate.evaluation(album)
    assert evaluation.removals.is_removed(peer(desktop))
    assert not friend.membership.may_sync(album, peer(desktop), b"")
    sealed_to_it = {k.epoch for event in evaluation.events for op in event.ops if isinstance(op, Keys)
                    for device, box, _read in op.boxes if device == peer(desktop)
                    for k in open_key_box(desktop.identity, album, box) if k.can_read}
    assert rotated not in sealed_to_it
    try:
        desktop.chat(album).post("the thief, as Alice")
    except AccessDeniedError:
        pass  # its own app knows it holds no clean key
    sync(desktop, friend, album)
    assert "the thief, as Alice" not in texts(friend, album)
    assert friend.membership._clean_key(album) is not None


def test_a_members_second_binding_as_a_made_up_person_leaves_the_admin_a_clean_epoch(open_node: OpenNode) -> None:
    admin, member = open_node("admin"), open_node("member")
    album = start_thread(admin)
    join(admin, member, album)
    _second_log(member, album, issue_cert(SigningKey.generate(), member.identity.peer_id, "x", 1))
    sync(member, admin, album)

    admin.chat(album).post("still writing")  # before: each rotation was unclean again, and the post never returned

    assert admin.membership._clean_key(album) is not None
    assert len(admin.store.thread_keys(album)) <= 2


FOUNDER = Identity.from_seeds(bytes([1]) * 32, bytes([11]) * 32)
DEVICE = Identity.from_seeds(bytes([2]) * 32, bytes([12]) * 32)  # Mallory's device
PERSON = SigningKey.from_seed(bytes([3]) * 32)  # Mallory's person key (a member)
L0, LA, LB = (SigningKey.from_seed(bytes([i]) * 32).peer_id for i in (21, 22, 23))
NONCE = bytes(16)
THREAD = ThreadId.from_random(ThreadVariant.ACCESS_CONTROLLED, owner_random(FOUNDER.peer_id, NONCE))
X = str(SigningKey.from_seed(bytes([9]) * 32).peer_id)


def _event(log: PeerId, seq: int, deps: dict[PeerId, int], *ops: object, t: int) -> AclEvent:
    return AclEvent(log.raw, seq, stamp(1000 + t, log, seq), (1000 + t) << 16, {k.raw: v for k, v in deps.items()},
                    tuple(ops))


def test_verdicts_do_not_depend_on_the_order_two_bindings_of_one_device_arrived_in() -> None:
    person = str(PERSON.peer_id)
    f1 = _event(L0, 1, {}, make_bind(FOUNDER, THREAD, L0), Genesis(NONCE), t=1)
    f2 = _event(L0, 2, {}, Grant(person, Role.WRITE), Grant(person, Role.WRITE, ACL_ENTITY), t=2)
    a1 = _event(LA, 1, {L0: 2}, make_bind(DEVICE, THREAD, LA, issue_cert(PERSON, DEVICE.peer_id, "phone", 5)), t=3)
    b1 = _event(LB, 1, {L0: 2}, make_bind(DEVICE, THREAD, LB), t=4)  # the same device, no certificate
    f3 = _event(L0, 3, {LA: 1, LB: 1}, Undevice(sign_removal(PERSON, DEVICE.peer_id, 7)), t=5)
    a2 = _event(LA, 2, {L0: 2}, Grant(X, Role.READ), t=6)  # concurrent with the removal

    one = Evaluation(THREAD, [f1, f2, a1, b1, f3, a2])
    two = Evaluation(THREAD, [f1, f2, b1, a1, f3, a2])
    # As events come: the removal (f3) judges everything again; before it, the
    # second binding changes no verdict (acl/policy.py's extend).
    incremental = Evaluation(THREAD, [f1, f2, a1])
    for event in (b1, f3, a2):
        if not incremental.extend(event):
            incremental = Evaluation(THREAD, [*incremental.events, event])
    assert incremental.final.valid == one.final.valid

    for evaluation in (one, two):
        assert evaluation.removals.is_removed(str(DEVICE.peer_id))
        assert evaluation.final.valid[5] is False  # written by a removed device, not in its removal's past
        assert Role.READ not in evaluation.current().roles(X)
