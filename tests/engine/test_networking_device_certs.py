"""The device certificate a hello carries (issue 19), as the node takes it
(networking.NodeThreads): kept when it is the sender's own and names a
person we share a thread with; a stranger's made-up person, a certificate
of another device, or bytes that are no certificate leave the device book
as it was."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.engine.eventstore.peers import join
from threads_desktop.engine.acl.devices import issue_cert
from threads_desktop.engine.core.keys import Identity, SigningKey
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.networking import NodeThreads
from threads_desktop.engine.node import Node

OpenNode = Callable[..., Node]


def _book(node: Node) -> list[tuple[str, str]]:
    return node.database.connection.execute("SELECT person_id, device_id FROM device_book ORDER BY 1, 2").fetchall()


def test_a_members_new_device_is_kept_and_a_strangers_made_up_person_is_not(open_node: OpenNode) -> None:
    friend, laptop = open_node("friend"), open_node("laptop")
    chat = friend.create_thread(ThreadKind.CHAT, "Trip").thread_id
    join(friend, laptop, chat)
    threads = NodeThreads(friend)
    desktop = Identity.generate()
    person_key = laptop.persons.book.person_key()
    before = _book(friend)

    stranger = Identity.generate()
    made_up = issue_cert(SigningKey.generate(), stranger.peer_id, "Box", 1)
    threads.peer_device_cert(stranger.peer_id, made_up.to_bytes(), chat)
    someone_elses = issue_cert(person_key, desktop.peer_id, "Desktop", 1)
    threads.peer_device_cert(stranger.peer_id, someone_elses.to_bytes(), chat)  # not the sender's own
    forged = replace(someone_elses, sig=bytes(64))  # the laptop's person, a signature it never made
    threads.peer_device_cert(desktop.peer_id, forged.to_bytes(), chat)
    assert _book(friend) == before
    assert not threads.admits(chat, desktop.peer_id, friend.store.thread_keys(chat)[0])

    threads.peer_device_cert(desktop.peer_id, someone_elses.to_bytes(), chat)
    assert (str(person_key.peer_id), str(desktop.peer_id)) in _book(friend)
    assert threads.admits(chat, desktop.peer_id, friend.store.thread_keys(chat)[0])


def test_any_bytes_as_a_certificate_change_nothing(open_node: OpenNode) -> None:
    friend = open_node("friend")
    chat = friend.create_thread(ThreadKind.CHAT, "Trip").thread_id
    threads = NodeThreads(friend)
    before = _book(friend)

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.binary(max_size=400))
    def check(data: bytes) -> None:
        threads.peer_device_cert(Identity.generate().peer_id, data, chat)
        assert _book(friend) == before

    check()


def test_a_device_with_a_certificate_says_so_in_its_hello(open_node: OpenNode) -> None:
    laptop, desktop = open_node("laptop"), open_node("desktop")
    assert NodeThreads(laptop).device_cert() is None  # the first device: the person itself
    cert = laptop.persons.issue_cert(desktop.identity.peer_id, "Desktop")
    desktop.persons.adopt(laptop.persons.book.person_key().seed(), cert, [])
    assert NodeThreads(desktop).device_cert() == cert.to_bytes()


def test_a_device_that_knows_no_member_yet_keeps_no_made_up_person(open_node: OpenNode) -> None:
    """A thread whose ACL has not reached us yet lets anyone proving its keys
    sync (as a joiner), but that makes nobody a person worth remembering."""
    laptop, desktop = open_node("laptop"), open_node("desktop")
    chat = laptop.create_thread(ThreadKind.CHAT, "Notes").thread_id
    cert = laptop.persons.issue_cert(desktop.identity.peer_id, "Desktop")
    desktop.persons.adopt(laptop.persons.person_seed(), cert, [])
    desktop.persons.add_thread(chat, ThreadKind.CHAT, "Notes", laptop.store.thread_keys(chat))
    before = _book(desktop)
    stranger = Identity.generate()
    NodeThreads(desktop).peer_device_cert(
        stranger.peer_id, issue_cert(SigningKey.generate(), stranger.peer_id, "Box", 1).to_bytes(), chat)
    assert _book(desktop) == before
