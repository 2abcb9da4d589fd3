"""What Persons refuses, and what it says, in a person's words."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.engine.eventstore.peers import peer, start_thread
from tests.engine.persons.test_two_devices import add_second_device, everyone_syncs
from threads_desktop.engine.core.errors import ConflictError, InvalidInputError, NotFoundError
from threads_desktop.engine.core.keys import SigningKey
from threads_desktop.engine.core.types import ChangeSet
from threads_desktop.engine.node import Node

OpenNode = Callable[..., Node]


def test_a_profile_that_holds_an_album_cannot_become_another_persons_device(open_node: OpenNode) -> None:
    laptop, desktop = open_node("laptop"), open_node("desktop")
    start_thread(desktop)
    cert = laptop.persons.issue_cert(desktop.identity.peer_id, "desktop")
    with pytest.raises(ConflictError, match="already has albums or chats"):
        desktop.persons.adopt(laptop.persons.person_seed(), cert, [])
    assert desktop.persons.person_id == peer(desktop)


def test_a_certificate_for_another_device_or_from_another_key_is_not_adopted(open_node: OpenNode) -> None:
    laptop, desktop, other = open_node("laptop"), open_node("desktop"), open_node("other")
    for_other = laptop.persons.issue_cert(other.identity.peer_id, "other")
    with pytest.raises(InvalidInputError):
        desktop.persons.adopt(laptop.persons.person_seed(), for_other, [])
    mine = laptop.persons.issue_cert(desktop.identity.peer_id, "desktop")
    with pytest.raises(InvalidInputError):
        desktop.persons.adopt(SigningKey.generate().seed(), mine, [])
    assert desktop.persons.person_id == peer(desktop) and desktop.persons.this_cert() is None


def test_removing_refuses_this_device_and_devices_not_ours_and_a_removed_one_stays_removed(
        open_node: OpenNode) -> None:
    laptop, desktop, stranger = open_node("laptop"), open_node("desktop"), open_node("stranger")
    add_second_device(laptop, desktop)
    with pytest.raises(InvalidInputError, match="remove this device from another one"):
        laptop.persons.remove_device(peer(laptop))
    with pytest.raises(NotFoundError):
        laptop.persons.remove_device(peer(stranger))
    changes: list[ChangeSet] = []
    laptop.subscribe(changes.append)
    laptop.persons.remove_device(peer(desktop))
    assert any(c.devices for c in changes)
    with pytest.raises(NotFoundError):
        laptop.persons.remove_device(peer(desktop))
    with pytest.raises(InvalidInputError, match="cannot be added again"):
        laptop.persons.issue_cert(desktop.identity.peer_id, "desktop again")
    assert [(d.device_id, d.name, d.this_device, d.removed) for d in laptop.persons.devices()] == [
        (peer(laptop), None, True, False), (peer(desktop), "Alice's desktop", False, True)]


def test_a_device_name_is_cleaned_as_a_display_name(open_node: OpenNode) -> None:
    laptop, desktop = open_node("laptop"), open_node("desktop")
    cert = laptop.persons.issue_cert(desktop.identity.peer_id, "  Alice's   desktop ")
    assert cert.name == "Alice's desktop"
    for bad in ["x" * 65, "a\u202eb"]:
        with pytest.raises(InvalidInputError):
            laptop.persons.issue_cert(desktop.identity.peer_id, bad)


def test_a_device_learns_from_a_thread_of_a_device_added_after_it(open_node: OpenNode) -> None:
    laptop, box, desktop = open_node("laptop"), open_node("box"), open_node("desktop")
    album = start_thread(laptop)
    add_second_device(laptop, box, "home box")
    add_second_device(laptop, desktop)  # the box's bundle did not name the desktop
    assert [d.device_id for d in box.persons.devices()] == [peer(laptop), peer(box)]
    everyone_syncs([laptop, box, desktop], album)
    assert [(d.device_id, d.name) for d in box.persons.devices()] == [
        (peer(laptop), None), (peer(box), "home box"), (peer(desktop), "Alice's desktop")]
    laptop.persons.remove_device(peer(desktop))
    everyone_syncs([laptop, box, desktop], album)
    assert [d.removed for d in box.persons.devices()] == [False, False, True]
