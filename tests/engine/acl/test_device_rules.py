"""How a thread's ACL treats a person's devices (acl/device_rules.py):
a certified log speaks for its person, nothing but the person key makes or
ends a device, and a second device founds, joins and names itself as the
person."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.engine.eventstore.peers import force_commit, join, join_with, peer, start_thread, sync, texts
from tests.engine.persons.test_two_devices import add_second_device, everyone_syncs
from threads_desktop.engine.acl.admission import AdmissionRequest
from threads_desktop.engine.acl.control_ops import (
    Bind,
    Keys,
    Undevice,
    acl_payload,
    binding_message,
    make_bind,
    parse_acl_payload,
)
from threads_desktop.engine.acl.devices import DeviceCert, issue_cert, sign_removal
from threads_desktop.engine.acl.keybox import open_key_box
from threads_desktop.engine.core.errors import InvalidInputError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.keys import SigningKey
from threads_desktop.engine.core.members import AdmissionStatus, Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.db.documents import db_event
from threads_desktop.engine.eventstore.store import AppliedChanges, EventStore
from threads_desktop.engine.logstore.store import _log_label
from threads_desktop.engine.node import Node

OpenNode = Callable[..., Node]


def _intruder_with_bind(friend: Node, intruder: Node, album: ThreadId, cert_for: Callable[[Node], DeviceCert]) -> None:
    """`intruder` holds the album's keys (as a stolen backup would give) and
    writes a log bound with `cert_for(intruder)`, then a message."""
    keys = friend.store.thread_keys(album)
    intruder.store.create_thread(album, keys[0])
    log_id = intruder.store.create_own_log(album)
    exchange = intruder.identity.exchange_public_key()
    signature = intruder.identity.signing.sign(binding_message(album, log_id, intruder.identity.peer_id, exchange))
    bind = Bind(intruder.identity.peer_id, exchange, signature, cert_for(intruder))
    force_commit(intruder, album, [acl_payload(bind)], control=True, apply_locally=False)
    force_commit(intruder, album, [db_event({"op": "create", "c": "message", "id": "m1", "set": {"text": "hi"}})],
                 apply_locally=False)


def test_a_certificate_not_signed_by_the_person_key_binds_nothing(open_node: OpenNode) -> None:
    friend, laptop, intruder = open_node("friend"), open_node("laptop"), open_node("intruder")
    album = start_thread(friend)
    join(friend, laptop, album)
    mallory = SigningKey.generate()

    def forged(node: Node) -> DeviceCert:  # claims Alice, signed by another key
        cert = issue_cert(mallory, node.identity.peer_id, "mine", 1)
        return DeviceCert(laptop.identity.peer_id, cert.device, cert.name, cert.added_ms, cert.sig)

    _intruder_with_bind(friend, intruder, album, forged)
    sync(intruder, friend, album)
    assert texts(friend, album) == []
    assert peer(intruder) not in friend.author_members(album)
    assert {m.peer_id for m in friend.membership.members(album)} == {peer(friend), peer(laptop)}


def test_a_certificate_of_another_device_binds_nothing(open_node: OpenNode) -> None:
    friend, laptop, desktop, intruder = (open_node(n) for n in ("friend", "laptop", "desktop", "intruder"))
    album = start_thread(friend)
    join(friend, laptop, album)
    desktops_cert = laptop.persons.issue_cert(desktop.identity.peer_id, "desktop")  # a real one, copied
    _intruder_with_bind(friend, intruder, album, lambda _node: desktops_cert)
    sync(intruder, friend, album)
    assert texts(friend, album) == [] and peer(intruder) not in friend.author_members(album)


def test_only_the_person_key_removes_a_device(open_node: OpenNode) -> None:
    friend, laptop, desktop = open_node("friend"), open_node("laptop"), open_node("desktop")
    album = start_thread(friend)
    join(friend, laptop, album)
    add_second_device(laptop, desktop)
    everyone_syncs([friend, laptop, desktop], album)
    epoch = friend.store.thread_keys(album)[0].epoch
    # The friend, an admin, signs a removal of Alice's desktop with its own key.
    fake = sign_removal(friend.identity.signing, desktop.identity.peer_id, 5)
    friend.commit(album, [acl_payload(Undevice(fake))], control=True)
    everyone_syncs([friend, laptop, desktop], album)
    desktop.chat(album).post("still Alice's")
    everyone_syncs([friend, laptop, desktop], album)
    assert texts(friend, album) == ["still Alice's"]
    assert friend.store.thread_keys(album)[0].epoch == epoch  # nothing to heal
    assert desktop.persons.removed_notice() is None


def test_an_admin_removing_a_device_rotates_the_keys_in_the_same_step(open_node: OpenNode) -> None:
    laptop, desktop, friend = open_node("laptop"), open_node("desktop"), open_node("friend")
    album = start_thread(laptop)
    join(laptop, friend, album)
    add_second_device(laptop, desktop)
    everyone_syncs([friend, laptop, desktop], album)
    epoch = laptop.store.thread_keys(album)[0].epoch
    laptop.persons.remove_device(peer(desktop))
    assert laptop.store.thread_keys(album)[0].epoch > epoch
    holders = laptop._services.gate.evaluation(album).key_holdings()
    assert holders[peer(friend)][0] > epoch and holders[peer(desktop)][0] == epoch


def test_the_first_device_can_be_removed_from_another_and_the_person_carries_on(open_node: OpenNode) -> None:
    friend, laptop, desktop = open_node("friend"), open_node("laptop"), open_node("desktop")
    album = start_thread(friend)
    join(friend, laptop, album)
    add_second_device(laptop, desktop)
    everyone_syncs([friend, laptop, desktop], album)
    epoch = friend.store.thread_keys(album)[0].epoch
    desktop.persons.remove_device(peer(laptop))  # the laptop is the person key's own device
    sync(desktop, friend, album)
    sync(friend, desktop, album)
    assert friend.store.thread_keys(album)[0].epoch > epoch
    desktop.chat(album).post("Alice, from the desktop")
    everyone_syncs([friend, laptop, desktop], album)
    assert texts(friend, album) == ["Alice, from the desktop"]
    assert Role.WRITE in friend.membership.roles(album, peer(laptop))  # the person keeps its role
    assert not friend.membership.may_sync(album, peer(laptop), b"")
    assert laptop.persons.removed_notice() is not None and desktop.persons.removed_notice() is None


def test_a_second_device_founds_an_album_as_its_person(open_node: OpenNode) -> None:
    laptop, desktop, friend = open_node("laptop"), open_node("desktop"), open_node("friend")
    add_second_device(laptop, desktop)
    album = start_thread(desktop, ThreadKind.ALBUM, "From the desktop")
    join(desktop, friend, album)
    alice = peer(laptop)
    assert desktop.membership.is_admin(album)
    assert {m.peer_id: m.admin for m in friend.membership.members(album)} == {alice: True, peer(friend): False}


def test_a_second_device_joining_by_link_is_let_in_as_its_person(open_node: OpenNode) -> None:
    laptop, desktop, friend = open_node("laptop"), open_node("desktop"), open_node("friend")
    add_second_device(laptop, desktop)
    album = start_thread(friend)
    join_with(friend, desktop, friend.invite(album, Role.WRITE))
    sync(friend, desktop, album)
    sync(desktop, friend, album)
    desktop.chat(album).post("hello")
    sync(desktop, friend, album)
    alice = peer(laptop)
    assert Role.WRITE in friend.membership.roles(album, alice)
    assert {m.peer_id for m in friend.membership.members(album)} == {peer(friend), alice}
    assert texts(friend, album) == ["hello"]
    assert [n.subject for n in friend.membership_notices(album).notices if n.subject != peer(friend)] == [alice]
    # The laptop, added by the desktop's bundle later, needs no invite of its own.
    laptop.persons.add_thread(album, ThreadKind.CHAT, None, desktop.store.thread_keys(album))
    everyone_syncs([friend, laptop, desktop], album)
    laptop.chat(album).post("from the laptop")
    sync(laptop, friend, album)
    assert texts(friend, album) == ["from the laptop", "hello"]


def test_a_person_is_named_by_the_newest_name_any_of_its_devices_gave(open_node: OpenNode) -> None:
    friend, laptop, desktop = open_node("friend"), open_node("laptop"), open_node("desktop")
    album = start_thread(friend)
    join(friend, laptop, album)
    laptop.set_display_name("Alice")
    add_second_device(laptop, desktop)
    everyone_syncs([friend, laptop, desktop], album)
    assert friend.member_names(album)[peer(laptop)] == "Alice"
    desktop.set_display_name("Alice B.")
    everyone_syncs([friend, laptop, desktop], album)
    assert friend.member_names(album)[peer(laptop)] == "Alice B."
    assert peer(desktop) not in friend.member_names(album)


_value = st.none() | st.booleans() | st.integers(-(2**64), 2**64 - 1) | st.binary(max_size=80) | st.text(max_size=70)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["bind", "admit", "undevice"]),
       st.dictionaries(st.sampled_from(["identity", "exchange", "sig", "cert", "invite", "log", "bind", "removal"]),
                       _value | st.dictionaries(st.sampled_from(["person", "device", "name", "added", "removed",
                                                                 "sig"]), _value, max_size=6), max_size=8))
def test_any_device_op_from_a_peer_parses_strictly_or_is_refused(name: str, fields: dict[str, object]) -> None:
    payload = {"type": "acl", "ops": [{"op": name, **fields}]}
    try:
        ops = parse_acl_payload(payload)
    except InvalidInputError:
        return
    assert acl_payload(*ops) == payload  # one spelling only


def test_an_admission_request_carries_the_devices_certificate_and_a_forged_one_gets_nothing(
        open_node: OpenNode) -> None:
    laptop, desktop, friend = open_node("laptop"), open_node("desktop"), open_node("friend")
    add_second_device(laptop, desktop)
    album = start_thread(friend)
    thread_id = desktop.join(friend.invite(album, Role.WRITE))
    request = desktop.membership.admission_request(thread_id)
    assert AdmissionRequest.from_bytes(request.to_bytes()) == request and request.cert is not None
    assert request.member == peer(laptop)
    mallory = SigningKey.generate()
    forged_cert = issue_cert(mallory, desktop.identity.peer_id, "x", 1)
    forged = replace(request, cert=DeviceCert(laptop.identity.peer_id, forged_cert.device, "x", 1, forged_cert.sig))
    answer = friend.membership.answer_admission(AdmissionRequest.from_bytes(forged.to_bytes()), peer(desktop))
    assert answer.status is AdmissionStatus.UNKNOWN
    assert {m.peer_id for m in friend.membership.members(album)} == {peer(friend)}


def _second_log(node: Node, album: ThreadId, cert: DeviceCert | None) -> None:
    """What a modified client does: bind a second log of its own in the
    thread (its identity key alone signs that), with `cert` or none."""
    key = SigningKey.generate()
    store = node.store
    with node.database.write() as sql:
        sql.execute("INSERT INTO logs (thread_id, log_id, wrapped_private_key) VALUES (?, ?, ?)",
                    (album.raw, key.peer_id.raw, store._vault.wrap(key.seed(), _log_label(album, key.peer_id))))
    store._log_keys[(album, key.peer_id)] = key
    first = store.own_log(album)
    assert first is not None
    store._own_logs[album] = key.peer_id
    force_commit(node, album, [acl_payload(make_bind(node.identity, album, key.peer_id, cert))], control=True,
                 apply_locally=False)
    store._own_logs[album] = first


def test_a_removed_device_cannot_undo_its_removal_with_a_second_binding(open_node: OpenNode) -> None:
    friend, laptop, desktop = open_node("friend"), open_node("laptop"), open_node("desktop")
    album = start_thread(friend)
    join(friend, laptop, album)
    add_second_device(laptop, desktop)
    everyone_syncs([friend, laptop, desktop], album)
    laptop.persons.remove_device(peer(desktop))  # the desktop was stolen
    everyone_syncs([friend, laptop], album)
    _second_log(desktop, album, None)  # the thief binds a log without a certificate
    sync(desktop, friend, album)
    evaluation = friend._services.gate.evaluation(album)
    assert evaluation.removals.is_removed(peer(desktop))
    assert not friend.membership.may_sync(album, peer(desktop), b"")
    friend.membership.heal(album)
    friend.membership.deliver_missing_keys(album)
    sealed = [box for event in friend._services.gate.evaluation(album).events for op in event.ops
              if isinstance(op, Keys) for device, box, _read in op.boxes if device == peer(desktop)]
    newest = friend.store.thread_keys(album)[0].epoch
    assert all(newest not in {k.epoch for k in open_key_box(desktop.identity, album, box)} for box in sealed)
    force_commit(desktop, album, [db_event({"op": "create", "c": "message", "id": "m9",
                                            "set": {"text": "the thief, as Alice"}})], apply_locally=False)
    sync(desktop, friend, album)
    assert "the thief, as Alice" not in texts(friend, album)
    assert friend.membership._clean_key(album) is not None


@pytest.mark.timeout(90)  # before the fix, the admin's post rotated the keys without end
def test_a_members_second_binding_under_a_made_up_person_leaves_the_admin_a_clean_epoch(
        open_node: OpenNode) -> None:
    admin, member = open_node("admin"), open_node("member")
    album = start_thread(admin)
    join(admin, member, album)
    sync(admin, member, album)
    epochs = len(admin.store.thread_keys(album))
    _second_log(member, album, issue_cert(SigningKey.generate(), member.identity.peer_id, "x", 1))
    sync(member, admin, album)
    admin.chat(album).post("still writing")  # would rotate without end
    assert admin.membership._clean_key(album) is not None
    assert len(admin.store.thread_keys(album)) == epochs
    assert texts(admin, album) == ["still writing"]


def test_a_removal_of_a_made_up_device_by_a_stranger_key_rotates_nothing(open_node: OpenNode) -> None:
    admin, reader = open_node("admin"), open_node("reader")
    album = start_thread(admin)
    join(admin, reader, album, role=Role.READ)
    sync(reader, admin, album)
    sync(admin, reader, album)
    start = admin.store.thread_keys(album)[0].epoch
    for _ in range(3):
        stranger = SigningKey.generate()  # no device of anyone in the thread
        reader.commit(album, [acl_payload(Undevice(sign_removal(stranger, stranger.peer_id, 1)))], control=True)
        sync(reader, admin, album)
    assert admin.store.thread_keys(album)[0].epoch == start


def test_a_removal_the_thread_ignores_rebuilds_nothing(open_node: OpenNode, monkeypatch: pytest.MonkeyPatch) -> None:
    admin, mallory, victim = open_node("admin"), open_node("mallory"), open_node("victim")
    album = start_thread(admin)
    join(admin, mallory, album)
    join(admin, victim, album)
    sync(admin, mallory, album)
    victim.chat(album).post("hello")  # Mallory has not seen it yet
    sync(victim, admin, album)
    # Mallory "removes" the victim's device with her own key: the thread ignores it.
    fake = sign_removal(mallory.identity.signing, victim.identity.peer_id, 1)
    mallory.commit(album, [acl_payload(Undevice(fake))], control=True)
    rebuilt: list[ThreadId] = []
    real = EventStore.rebuild

    def counted(store: EventStore, thread_id: ThreadId, *, from_snapshot: bool) -> AppliedChanges:
        rebuilt.append(thread_id)  # the real rebuild still runs: this only counts
        return real(store, thread_id, from_snapshot=from_snapshot)

    monkeypatch.setattr(EventStore, "rebuild", counted)
    sync(mallory, admin, album)
    assert texts(admin, album) == ["hello"]
    assert rebuilt == []


def test_an_admin_whose_device_book_holds_the_removal_does_not_admit_the_device(open_node: OpenNode) -> None:
    laptop, desktop, friend = open_node("laptop"), open_node("desktop"), open_node("friend")
    add_second_device(laptop, desktop)
    album = start_thread(friend)  # the desktop was never in it: no undevice there
    thread_id = desktop.join(friend.invite(album, Role.WRITE))
    request = desktop.membership.admission_request(thread_id)
    removal = sign_removal(laptop.persons.book.person_key(), desktop.identity.peer_id, 9)
    assert friend.persons.record([removal]) == [removal]  # as a hello or another thread told it
    answer = friend.membership.answer_admission(AdmissionRequest.from_bytes(request.to_bytes()), peer(desktop))
    assert answer.status is not AdmissionStatus.ADMITTED and not answer.box
    assert {m.peer_id for m in friend.membership.members(album)} == {peer(friend)}


def test_a_removed_device_asking_again_with_its_own_admission_gets_no_key(open_node: OpenNode) -> None:
    laptop, desktop, friend = open_node("laptop"), open_node("desktop"), open_node("friend")
    add_second_device(laptop, desktop)
    album = start_thread(friend)
    thread_id = desktop.join(friend.invite(album, Role.WRITE))
    request = desktop.membership.admission_request(thread_id)  # kept by the thief
    assert friend.membership.answer_admission(request, peer(desktop)).status is AdmissionStatus.ADMITTED
    laptop.persons.add_thread(album, ThreadKind.CHAT, None, friend.store.thread_keys(album))
    everyone_syncs([friend, laptop], album)
    laptop.persons.remove_device(peer(desktop))
    everyone_syncs([friend, laptop], album)
    newest = friend.store.thread_keys(album)[0].epoch
    answer = friend.membership.answer_admission(AdmissionRequest.from_bytes(request.to_bytes()), peer(desktop))
    got = set() if not answer.box else {k.epoch for k in open_key_box(desktop.identity, album, answer.box)}
    assert newest not in got and answer.status is not AdmissionStatus.ADMITTED
