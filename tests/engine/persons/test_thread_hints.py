"""A thread a device bundle or a backup brings is listed with the bundle's
kind and name until its own data arrives (as a join shows the link's
name), not as "Encrypted backup"; then the thread's own name wins."""

from __future__ import annotations

from tests.engine.eventstore.peers import join, start_thread, sync
from tests.engine.persons.test_two_devices import OpenNode
from threads_desktop.engine.core.types import ThreadKind


def test_a_thread_added_from_a_bundle_shows_its_kind_and_name_until_its_data_arrives(open_node: OpenNode) -> None:
    friend, laptop, desktop = open_node("friend"), open_node("laptop"), open_node("desktop")
    album = start_thread(friend, ThreadKind.ALBUM, "Trip")
    join(friend, laptop, album)
    cert = laptop.persons.issue_cert(desktop.identity.peer_id, "Alice's desktop")
    desktop.persons.adopt(laptop.persons.person_seed(), cert, laptop.persons.book.items())

    desktop.persons.add_thread(album, ThreadKind.ALBUM, "  Trip\u00a0 ", laptop.store.thread_keys(album))

    [summary] = desktop.list_threads()
    assert (summary.kind, summary.name) == (ThreadKind.ALBUM, "Trip")
    assert desktop.directory.kind(album) is ThreadKind.ALBUM

    friend.rename_thread(album, "Trip 2026")
    sync(friend, desktop, album)
    [summary] = desktop.list_threads()
    assert (summary.kind, summary.name) == (ThreadKind.ALBUM, "Trip 2026")


def test_a_bundle_name_that_is_no_name_is_left_out_and_the_thread_is_added(open_node: OpenNode) -> None:
    friend, laptop, desktop = open_node("friend"), open_node("laptop"), open_node("desktop")
    chat = start_thread(friend, ThreadKind.CHAT, "Us")
    join(friend, laptop, chat)
    cert = laptop.persons.issue_cert(desktop.identity.peer_id, "Alice's desktop")
    desktop.persons.adopt(laptop.persons.person_seed(), cert, laptop.persons.book.items())

    desktop.persons.add_thread(chat, ThreadKind.CHAT, "a\u202ename", laptop.store.thread_keys(chat))

    [summary] = desktop.list_threads()
    assert (summary.kind, summary.name) == (ThreadKind.CHAT, None)
