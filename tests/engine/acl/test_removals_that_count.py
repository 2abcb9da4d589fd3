"""Only removals a thread counts cost anything (review of issue 19,
findings 5 and 6): a made-up key "removing itself" forces no key rotation;
a person's removals count for at most MAX_DEVICES devices; a removal the
thread ignores makes no peer replay the thread."""

from __future__ import annotations

import pytest

from tests.engine.acl.test_device_second_binding import FOUNDER, L0, NONCE, PERSON, THREAD, _event
from tests.engine.eventstore.peers import join, start_thread, sync, texts
from tests.engine.persons.test_two_devices import OpenNode
from threads_desktop.engine.acl.control_ops import ACL_ENTITY, Genesis, Grant, Undevice, acl_payload, make_bind
from threads_desktop.engine.acl.devices import MAX_DEVICES, sign_removal
from threads_desktop.engine.acl.policy import Evaluation
from threads_desktop.engine.core.keys import Identity, SigningKey
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.eventstore.store import EventStore


def test_a_reader_cannot_force_rotations_with_made_up_devices(open_node: OpenNode) -> None:
    admin, reader = open_node("admin"), open_node("reader")
    album = start_thread(admin)
    join(admin, reader, album, role=Role.READ)
    start = admin.store.thread_keys(album)[0].epoch

    for _ in range(3):
        stranger = SigningKey.generate()  # no device of anyone in the thread
        reader.commit(album, [acl_payload(Undevice(sign_removal(stranger, stranger.peer_id, 1)))], control=True)
        sync(reader, admin, album)

    assert admin.store.thread_keys(album)[0].epoch == start
    assert not admin._services.gate.evaluation(album).removals.removed_devices()


def test_a_person_removes_at_most_max_devices_devices_in_a_thread() -> None:
    person = str(PERSON.peer_id)
    events = [_event(L0, 1, {}, make_bind(FOUNDER, THREAD, L0), Genesis(NONCE), t=1),
              _event(L0, 2, {}, Grant(person, Role.WRITE), Grant(person, Role.WRITE, ACL_ENTITY), t=2)]
    member_log = SigningKey.generate().peer_id
    events.append(_event(member_log, 1, {L0: 2}, make_bind(_identity_of(PERSON), THREAD, member_log), t=3))
    removals = [Undevice(sign_removal(PERSON, SigningKey.generate().peer_id, 5)) for _ in range(MAX_DEVICES + 3)]
    events.append(_event(member_log, 2, {L0: 2}, *removals, t=4))

    evaluation = Evaluation(THREAD, events)

    assert len(evaluation.removals.removed_devices(person)) == MAX_DEVICES


def _identity_of(key: SigningKey) -> Identity:
    """The person's first device: its identity is the person key."""
    return Identity.from_seeds(key.seed(), bytes([13]) * 32)


def test_a_removal_the_thread_ignores_makes_no_peer_replay_the_thread(
        open_node: OpenNode, monkeypatch: pytest.MonkeyPatch) -> None:
    admin, mallory, victim = open_node("admin"), open_node("mallory"), open_node("victim")
    album = start_thread(admin)
    join(admin, mallory, album)
    join(admin, victim, album)
    sync(admin, mallory, album)
    victim.chat(album).post("hello")  # Mallory has not seen it
    sync(victim, admin, album)
    fake = sign_removal(mallory.identity.signing, victim.identity.peer_id, 1)  # not the victim's person
    mallory.commit(album, [acl_payload(Undevice(fake))], control=True)
    rebuilds: list[object] = []
    real = EventStore.rebuild
    monkeypatch.setattr(EventStore, "rebuild",  # counts the real rebuilds, which still run
                        lambda self, thread, **kw: rebuilds.append(thread) or real(self, thread, **kw))

    sync(mallory, admin, album)

    assert texts(admin, album) == ["hello"]
    assert rebuilds == []
