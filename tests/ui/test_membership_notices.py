"""Membership in the window, with real engines: notices between a chat's
messages, an album's activity, and a removed member's window (the banner,
no write control, the thread listed as removed, "Remove from this device").

The history is written by real profiles first (tests/engine/eventstore/
peers.py joins them the way the app does); then each profile runs on its
own engine thread, and records move between them as sync moves them."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path

import pytest
import qasync
from PySide6.QtCore import QDate, QLocale

from tests.engine.eventstore.peers import envelopes_of, join, peer, start_thread, sync
from tests.ui.waiting import wait_for
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.logstore.envelopes import Envelope
from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.models.thread_list_model import ThreadRole
from threads_desktop.ui.operations.members import remove_member, set_member_role
from threads_desktop.ui.people import short_id
from threads_desktop.ui.settings import AppSettings
from threads_desktop.ui.views.chat_view import ChatView
from threads_desktop.ui.views.main_window import MainWindow


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[dict[str, EngineRuntime]]:
    """Alice's and Bob's profiles on engine threads of their own (started by the test once written)."""
    started: dict[str, EngineRuntime] = {}
    yield started
    for engine in started.values():
        engine.stop()


def _start(engines: dict[str, EngineRuntime], tmp_path: Path, name: str) -> EngineRuntime:
    engine = EngineRuntime(lambda: Node.open(tmp_path / name))
    engine.start()
    engines[name] = engine
    return engine


def _records(node: Node, thread_id: ThreadId) -> list[Envelope]:
    return envelopes_of(node, thread_id)


def _receive(node: Node, thread_id: ThreadId, envelopes: list[Envelope]) -> None:
    node.receive(thread_id, envelopes)


def _move(qtbot, source: EngineClient, target: EngineClient, thread_id: ThreadId) -> None:  # type: ignore[no-untyped-def]
    """What a sync round does: the target takes every record the source holds."""
    envelopes = wait_for(qtbot, source.run(_records, thread_id))
    wait_for(qtbot, target.run(_receive, thread_id, envelopes))


def _profiles(tmp_path: Path) -> tuple[Node, Node]:
    alice, bob = Node.open(tmp_path / "alice"), Node.open(tmp_path / "bob")
    alice.set_display_name("Alice")
    bob.set_display_name("Bob")
    return alice, bob


def _day(moment: datetime.datetime) -> str:
    return QLocale().toString(QDate(moment.year, moment.month, moment.day), "d MMM")


def test_a_chat_shows_membership_notices_between_its_messages_in_order(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, tmp_path: Path, engines: dict[str, EngineRuntime]) -> None:
    alice, bob = _profiles(tmp_path)
    thread_id = start_thread(alice, ThreadKind.CHAT, "Family")
    alice.chat(thread_id).post("before anyone came")
    join(alice, bob, thread_id)
    alice.chat(thread_id).post("welcome Bob")
    sync(alice, bob, thread_id)
    bob_id = peer(bob)
    alice.close()
    bob.close()
    client_a = EngineClient(_start(engines, tmp_path, "alice"), qt_loop)
    client_b = EngineClient(_start(engines, tmp_path, "bob"), qt_loop)
    view = ChatView(client_b)
    qtbot.addWidget(view)
    view.resize(640, 520)
    view.show()
    opened = wait_for(qtbot, client_b.run(Node.get_thread, thread_id))
    with qtbot.waitSignal(view.membership_loaded, timeout=10_000):
        view.show_thread(opened)
    qtbot.waitUntil(lambda: len(view.message_rows()) == 2, timeout=10_000)
    assert [row["text"] for row in view.message_rows(with_notices=True)] == [
        "before anyone came", "You joined (invited by Alice)", "welcome Bob"]

    # Alice takes Bob's right to write; the notice goes at the end, in Bob's words.
    wait_for(qtbot, client_a.run(set_member_role, thread_id, bob_id, Role.READ))
    with qtbot.waitSignal(view.membership_loaded, timeout=10_000):
        _move(qtbot, client_a, client_b, thread_id)
    qtbot.waitUntil(lambda: view.removal_banner.isVisible(), timeout=10_000)
    rows = view.message_rows(with_notices=True)
    assert [row["text"] for row in rows] == [
        "before anyone came", "You joined (invited by Alice)", "welcome Bob", "Alice changed your role to View"]
    assert [row["notice"] is not None for row in rows] == [False, True, False, True]
    assert view.removal_banner.headline.text() == \
        f"Your access to Family was changed to View by Alice on {_day(datetime.datetime.now())}"
    assert not view.removal_banner.remove_button.isVisible()  # Bob still views it
    qtbot.waitUntil(lambda: not view.composer.isEnabled(), timeout=10_000)
    assert not view.send_button.isEnabled() and not view.attach_button.isEnabled()
    assert view.menu_for(rows[1]["row"]) is None  # a notice offers nothing to reply to or react to
    view.list.grab()  # notices paint

    # Alice sees the same story with Bob's name.
    alice_view = ChatView(client_a)
    qtbot.addWidget(alice_view)
    opened = wait_for(qtbot, client_a.run(Node.get_thread, thread_id))
    with qtbot.waitSignal(alice_view.membership_loaded, timeout=10_000):
        alice_view.show_thread(opened)
    qtbot.waitUntil(lambda: len(alice_view.message_rows()) == 2, timeout=10_000)
    assert [row["notice"] for row in alice_view.message_rows(with_notices=True) if row["notice"]] == [
        "Bob joined (invited by you)", "You changed Bob's role to View"]


def test_a_removed_members_window_says_so_and_offers_no_write(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, tmp_path: Path, engines: dict[str, EngineRuntime]) -> None:
    alice, bob = _profiles(tmp_path)
    thread_id = start_thread(alice, ThreadKind.ALBUM, "Lisbon 2024")
    join(alice, bob, thread_id)
    sync(alice, bob, thread_id)
    bob_id = peer(bob)
    alice.close()
    bob.close()
    client_a = EngineClient(_start(engines, tmp_path, "alice"), qt_loop)
    client_b = EngineClient(_start(engines, tmp_path, "bob"), qt_loop)
    window = MainWindow(client_b, AppSettings.from_file(tmp_path / "settings.ini"))
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.threads_loaded, timeout=10_000):
        window.show()
    album = window.album_view
    with qtbot.waitSignal(album.membership_loaded, timeout=10_000):
        window.select_thread(str(thread_id))
    assert album.add_button.isEnabled() and not album.removal_banner.isVisible()
    assert not album.invite_button.isVisible() and not window.invite_action.isEnabled()  # only admins invite

    # Alice removes Bob (follow revoked); Bob's profile gets the signed revocation.
    wait_for(qtbot, client_a.run(remove_member, thread_id, bob_id))
    _move(qtbot, client_a, client_b, thread_id)
    qtbot.waitUntil(lambda: album.removal_banner.isVisible(), timeout=10_000)
    assert album.removal_banner.headline.text() == \
        f"Alice removed you from Lisbon 2024 on {_day(datetime.datetime.now())}"
    qtbot.waitUntil(lambda: not album.add_button.isEnabled(), timeout=10_000)
    assert not album.invite_button.isVisible() and not album.delete_button.isEnabled()
    assert not album.grid.acceptDrops()
    for action in (window.invite_action, window.rename_action, window.add_photos_action, window.add_folder_action):
        assert not action.isEnabled()
    row = window.threads.row_of(str(thread_id))
    assert window.threads.index(row).data(ThreadRole.REMOVED)
    album.activity_button.setChecked(True)  # the album's activity: newest first
    qtbot.waitUntil(lambda: album.activity.texts() == ["Alice removed you", "You joined (invited by Alice)"],
                    timeout=10_000)
    window.grab()

    # "Remove from this device" deletes it here at once.
    album.removal_banner.remove_button.click()
    qtbot.waitUntil(lambda: window.threads.row_of(str(thread_id)) < 0, timeout=10_000)
    window.close()


def test_a_backup_device_whose_follow_right_is_taken_says_so_on_its_page(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, tmp_path: Path, engines: dict[str, EngineRuntime]) -> None:
    alice, bob = _profiles(tmp_path)
    thread_id = start_thread(alice, ThreadKind.ALBUM, "Lisbon 2024")
    join(alice, bob, thread_id, role=Role.FOLLOW)
    bob_id = peer(bob)
    alice.close()
    bob.close()
    client_a = EngineClient(_start(engines, tmp_path, "alice"), qt_loop)
    client_b = EngineClient(_start(engines, tmp_path, "bob"), qt_loop)
    window = MainWindow(client_b, AppSettings.from_file(tmp_path / "settings.ini"))
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.threads_loaded, timeout=10_000):
        window.show()
    window.select_thread(str(thread_id))
    qtbot.waitUntil(lambda: window.pages.currentWidget() is window.thread_page, timeout=10_000)
    assert not window.thread_page.removal_banner.isVisible()

    wait_for(qtbot, client_a.run(remove_member, thread_id, bob_id))
    _move(qtbot, client_a, client_b, thread_id)
    banner = window.thread_page.removal_banner
    qtbot.waitUntil(banner.isVisible, timeout=10_000)
    # A backup reads no names: the remover is shown by its short ID, never the whole peer ID.
    assert banner.headline.text().endswith(f"removed you from this backup on {_day(datetime.datetime.now())}")
    assert alice_id_tail(client_a, qtbot) in banner.headline.text()
    row = window.threads.row_of(str(thread_id))
    assert window.threads.index(row).data(ThreadRole.REMOVED)
    banner.remove_button.click()
    qtbot.waitUntil(lambda: window.threads.row_of(str(thread_id)) < 0, timeout=10_000)
    window.close()


def alice_id_tail(client: EngineClient, qtbot) -> str:  # type: ignore[no-untyped-def]
    card = wait_for(qtbot, client.identity())
    return short_id(str(card.peer_id))


def test_admin_rights_and_a_default_role_are_told_in_the_chat_and_in_the_albums_activity(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, tmp_path: Path, engines: dict[str, EngineRuntime]) -> None:
    alice, bob = _profiles(tmp_path)
    chat = start_thread(alice, ThreadKind.CHAT, "Family")
    album = start_thread(alice, ThreadKind.ALBUM, "Lisbon 2024")
    for thread_id in (chat, album):
        join(alice, bob, thread_id)
    alice.chat(chat).post("welcome Bob")
    alice.membership.grant(chat, peer(bob), Role.WRITE, "acl")  # Bob is made an admin of the chat
    alice.membership.set_default(album, Role.READ)  # anyone with the album's keys may view it
    for thread_id in (chat, album):
        sync(alice, bob, thread_id)
    alice.close()
    bob.close()
    client_b = EngineClient(_start(engines, tmp_path, "bob"), qt_loop)

    view = ChatView(client_b)
    qtbot.addWidget(view)
    view.resize(640, 520)
    view.show()
    opened = wait_for(qtbot, client_b.run(Node.get_thread, chat))
    with qtbot.waitSignal(view.membership_loaded, timeout=10_000):
        view.show_thread(opened)
    qtbot.waitUntil(lambda: len(view.message_rows()) == 1, timeout=10_000)
    assert [row["text"] for row in view.message_rows(with_notices=True)] == [
        "You joined (invited by Alice)", "welcome Bob", "Alice made you an admin"]
    view.list.grab()  # the new row paints

    window = MainWindow(client_b, AppSettings.from_file(tmp_path / "settings.ini"))
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.threads_loaded, timeout=10_000):
        window.show()
    with qtbot.waitSignal(window.album_view.membership_loaded, timeout=10_000):
        window.select_thread(str(album))
    window.album_view.activity_button.setChecked(True)  # newest first
    qtbot.waitUntil(lambda: window.album_view.activity.texts() == [
        "Alice let anyone with the album's keys view it", "You joined (invited by Alice)"], timeout=10_000)
    window.album_view.activity.grab()
    window.close()
