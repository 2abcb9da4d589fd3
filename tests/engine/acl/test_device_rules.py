"""How a thread's ACL treats a person's devices (acl/device_rules.py):
a certified log speaks for its person, nothing but the person key makes or
ends a device, and a second device founds, joins and names itself as the
person."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.engine.eventstore.peers import force_commit, join, join_with, peer, start_thread, sync, texts
from tests.engine.persons.test_two_devices import add_second_device, everyone_syncs
from threads_desktop.engine.acl.admission import AdmissionRequest
from threads_desktop.engine.acl.control_ops import Bind, Undevice, acl_payload, binding_message, parse_acl_payload
from threads_desktop.engine.acl.devices import DeviceCert, issue_cert, sign_removal
from threads_desktop.engine.core.errors import InvalidInputError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.keys import SigningKey
from threads_desktop.engine.core.members import AdmissionStatus, Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.db.documents import db_event
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
