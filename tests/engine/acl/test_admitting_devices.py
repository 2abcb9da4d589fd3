"""Admissions and verdicts judge a device by its person (issue 19): a device
its person removed is not let in again by an invite it kept; another device
of a person removed from the thread is refused an old link as that person
is; a device of a person whose follow was revoked is told why."""

from __future__ import annotations

from tests.engine.eventstore.peers import force_commit, join, peer, start_thread, sync
from tests.engine.persons.test_two_devices import OpenNode, add_second_device, everyone_syncs
from threads_desktop.engine.acl.admission import AdmissionAnswer, AdmissionRequest, AdmissionStatus
from threads_desktop.engine.acl.control_ops import Admit, Revoke, acl_payload, join_message, make_bind
from threads_desktop.engine.acl.keybox import open_key_box
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.acl.verdicts import sync_cap
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.core.keys import SigningKey
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.node import Node


def _ask(admin: Node, device: Node, thread: ThreadId, link: InviteLink) -> AdmissionAnswer:
    """`device` asks `admin` to be admitted with `link`, as its own person's device (bytes both ways)."""
    invite_key = SigningKey.from_seed(link.invite_seed)
    invite_public = invite_key.peer_id.public_key
    log_id = SigningKey.generate().peer_id
    me = device.identity.peer_id
    bind = make_bind(device.identity, thread, log_id)
    request = AdmissionRequest(thread, invite_public, log_id, me, bind.exchange, bind.signature,
                               invite_key.sign(join_message(thread, invite_public, log_id, me)), None,
                               device.persons.this_cert())
    return admin.membership.answer_admission(AdmissionRequest.from_bytes(request.to_bytes()), peer(device))


def test_a_removed_device_is_not_admitted_again_with_an_invite_it_made_before(open_node: OpenNode) -> None:
    laptop, desktop, friend = open_node("laptop"), open_node("desktop"), open_node("friend")
    album = start_thread(laptop)  # Alice is the album's admin
    join(laptop, friend, album)
    add_second_device(laptop, desktop)
    everyone_syncs([friend, laptop, desktop], album)
    link = desktop.membership.invite(album, Role.WRITE, uses=3)  # made on the desktop, before it was stolen
    everyone_syncs([friend, laptop, desktop], album)
    laptop.persons.remove_device(peer(desktop))  # the keys rotate at once
    everyone_syncs([friend, laptop], album)
    newest = laptop.store.thread_keys(album)[0].epoch

    answer = _ask(laptop, desktop, album, link)

    # Removal is final: it is told nothing (as a stranger), and nothing is sealed to it.
    assert answer.status is AdmissionStatus.UNKNOWN
    assert not answer.box or newest not in {k.epoch for k in open_key_box(desktop.identity, album, answer.box)}
    assert laptop.store.thread_keys(album)[0].epoch == newest  # nothing written, no rotation needed
    assert laptop._services.gate.evaluation(album).removals.is_removed(peer(desktop))
    from_friend = _ask(friend, desktop, album, link)  # no admin: told nothing either
    assert from_friend.status is not AdmissionStatus.ADMITTED and not from_friend.box


def test_another_device_of_a_person_removed_from_the_thread_is_refused_its_old_link(open_node: OpenNode) -> None:
    friend, bob, laptop = open_node("friend"), open_node("bob"), open_node("laptop")
    desktop = open_node("desktop")
    album = start_thread(friend)
    join(friend, bob, album)
    join(friend, laptop, album)
    friend.membership.grant(album, peer(bob), Role.WRITE, "acl")  # a second admin
    add_second_device(laptop, desktop)
    everyone_syncs([friend, bob, laptop, desktop], album)
    old = bob.membership.invite(album, Role.WRITE, uses=5)  # made while the friend removes Alice
    friend.membership.revoke(album, peer(laptop), Role.FOLLOW)  # Alice, the person, is out
    everyone_syncs([friend, bob], album)

    answer = _ask(bob, desktop, album, old)

    assert (answer.status, answer.reason) == (AdmissionStatus.REFUSED, "removed")
    assert Role.FOLLOW not in bob.membership.roles(album, peer(laptop))


def test_a_device_of_a_person_whose_follow_was_revoked_is_told_the_revocation(open_node: OpenNode) -> None:
    friend, laptop, desktop = open_node("friend"), open_node("laptop"), open_node("desktop")
    album = start_thread(friend)
    join(friend, laptop, album)
    add_second_device(laptop, desktop)
    everyone_syncs([friend, laptop, desktop], album)
    friend.membership.revoke(album, peer(laptop), Role.FOLLOW)
    sync(friend, laptop, album)

    evaluation = friend._services.gate.evaluation(album)
    cap = sync_cap(evaluation, peer(desktop))

    [revocation] = [e for e in evaluation.events if any(isinstance(op, Revoke) for op in e.ops)]
    assert cap.get(PeerId(revocation.log), 0) >= revocation.seq


def test_an_admit_of_a_removed_device_written_anyway_is_refused_by_every_peer(open_node: OpenNode) -> None:
    laptop, desktop, friend = open_node("laptop"), open_node("desktop"), open_node("friend")
    album = start_thread(laptop)
    join(laptop, friend, album)
    add_second_device(laptop, desktop)
    everyone_syncs([friend, laptop, desktop], album)
    link = laptop.membership.invite(album, Role.WRITE, uses=3)
    laptop.persons.remove_device(peer(desktop))
    everyone_syncs([friend, laptop], album)
    invite_key = SigningKey.from_seed(link.invite_seed)
    invite_public = invite_key.peer_id.public_key
    log_id = SigningKey.generate().peer_id
    me = desktop.identity.peer_id
    bind = make_bind(desktop.identity, album, log_id)
    admit_op = Admit(invite_public, log_id, me, bind.exchange, bind.signature,
                     invite_key.sign(join_message(album, invite_public, log_id, me)), desktop.persons.this_cert())

    force_commit(laptop, album, [acl_payload(admit_op)], control=True)  # a modified client of Alice's
    sync(laptop, friend, album)

    evaluation = friend._services.gate.evaluation(album)
    [i] = [i for i, e in enumerate(evaluation.events) if any(isinstance(op, Admit) and op.identity == me
                                                              for op in e.ops)]
    assert evaluation.final.valid[i] is False
    assert evaluation.final.reasons[i] == "admits a device its person removed"
