"""The tray: notifications from the change sets of a real engine when
another member's photos and messages arrive (never our own), batched per
thread; closing hides the window only when there is a tray to return from.

Offscreen Qt has no system tray, so the tests that need TrayIcon's tray
behaviour say `available=True` (what a desktop with a tray reports); the
icon itself is then never seen, but everything the app decides is."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtWidgets import QMainWindow, QSystemTrayIcon

from tests.engine.eventstore.peers import envelopes_of
from tests.engine.modules.images import image_bytes
from tests.ui.waiting import wait_for
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.notifications import NotificationBatcher, NotificationDetail, notification_for
from threads_desktop.ui.operations.notifications import Arrival, News
from threads_desktop.ui.settings import AppSettings
from threads_desktop.ui.tray import TrayIcon, hides_on_close


def _call(qtbot, runtime: EngineRuntime, fn: Callable[..., Any], *args: Any) -> Any:  # type: ignore[no-untyped-def]
    return wait_for(qtbot, runtime.call(fn, *args), timeout=10_000)


@pytest.fixture
def settings(tmp_path: Path) -> AppSettings:
    return AppSettings.from_file(tmp_path / "settings.ini")


@pytest.fixture
def main_window(qtbot) -> QMainWindow:  # type: ignore[no-untyped-def]
    window = QMainWindow()
    qtbot.addWidget(window)
    return window


class _Friend:
    """A second real profile (on the test thread) that joined threads of
    the runtime's profile as a writer; records move between them as sync
    would move them."""

    def __init__(self, qtbot, runtime: EngineRuntime, node: Node) -> None:  # type: ignore[no-untyped-def]
        self.qtbot, self.runtime, self.node = qtbot, runtime, node

    def join(self, thread_id: ThreadId) -> None:
        link = _call(self.qtbot, self.runtime, lambda n: n.invite(thread_id, Role.WRITE).to_uri())
        self.node.join(InviteLink.parse(link))
        request = self.node.membership.admission_request(thread_id)  # admitted as engine/net/joining.py does
        self.node.take_admission(thread_id, _call(self.qtbot, self.runtime, Node.answer_admission, request,
                                                  str(self.node.identity.peer_id)))
        self.node.receive(thread_id, _call(self.qtbot, self.runtime, envelopes_of, thread_id))
        assert self.node.membership.pending_join(thread_id) == (False, None)
        self.deliver(thread_id)

    def deliver(self, thread_id: ThreadId) -> None:
        """Everything this profile holds in the thread, to the runtime's."""
        _call(self.qtbot, self.runtime, Node.receive, thread_id, envelopes_of(self.node, thread_id))


@pytest.fixture
def friend(qtbot, runtime: EngineRuntime, open_node: Callable[[str], Node]) -> _Friend:  # type: ignore[no-untyped-def]
    node = open_node("friend")
    node.set_display_name("Alice")
    return _Friend(qtbot, runtime, node)


def _photos(folder: Path, count: int) -> list[Path]:
    folder.mkdir()
    paths = [folder / f"{n}.jpg" for n in range(count)]
    for n, path in enumerate(paths):
        # Pixels far apart: the album keeps no picture twice, and JPEG blurs close ones together.
        path.write_bytes(image_bytes("JPEG", taken=f"2024:07:0{n + 1} 10:00:00", size=(96, 64), seed=60 * n))
    return paths


# --- text and batching -----------------------------------------------------------------------

def test_the_text_says_who_wrote_or_added_what_and_where(qapp) -> None:  # type: ignore[no-untyped-def]
    chat = Arrival("c", "Alice & Bob", ThreadKind.CHAT, (News("Alice", True, "see you at 6"),))
    album = Arrival("a", "Holidays", ThreadKind.ALBUM, (News("Bob", False, photos=1), News("Bob", False, photos=2)))
    assert notification_for([chat]) == ("Alice & Bob", "Alice: see you at 6")
    assert notification_for([album]) == ("Holidays", "Bob added 3 photos to Holidays")
    assert notification_for([chat, album]) == \
        ("Threads", "Alice in Alice & Bob: see you at 6\nBob added 3 photos to Holidays")
    photo_only = Arrival("c", None, ThreadKind.CHAT, (News("…a1b2c3d4", True, photos=2),))
    assert notification_for([photo_only]) == ("a chat", "…a1b2c3d4 sent 2 photos")


def test_a_long_or_many_line_message_is_shortened_and_many_messages_counted(qapp) -> None:  # type: ignore[no-untyped-def]
    long = "word " * 40 + "\nsecond line"
    said = [News("Ann", True, f"m{n}") for n in range(5)]
    many = Arrival("c", "Family", ThreadKind.CHAT, (*said, News("Ann", True, long)))
    title, body = notification_for([many])
    lines = body.split("\n")
    assert title == "Family" and lines[:2] == ["Ann: m3", "Ann: m4"]
    assert lines[2].startswith("Ann: word word") and lines[2].endswith("…") and len(lines[2]) <= 85
    assert "second line" not in body and lines[3] == "and 3 more messages"


def test_arrivals_within_the_delay_make_one_notification_gathered_per_thread(qtbot) -> None:  # type: ignore[no-untyped-def]
    batcher = NotificationBatcher(delay_ms=100)
    shown: list[tuple[str, str]] = []
    batcher.ready.connect(lambda title, body: shown.append((title, body)))
    with qtbot.waitSignal(batcher.ready, timeout=2000):
        batcher.add([Arrival("a", "Lisbon", ThreadKind.ALBUM, (News("Bob", False, photos=1),))])
        batcher.add([Arrival("a", "Lisbon", ThreadKind.ALBUM, (News("Bob", False, photos=2),)),
                     Arrival("c", "Family", ThreadKind.CHAT, (News("Ann", True, "hi"),))])
    assert shown == [("Threads", "Bob added 3 photos to Lisbon\nAnn in Family: hi")]
    with qtbot.waitSignal(batcher.ready, timeout=2000):
        batcher.add([Arrival("a", "Lisbon", ThreadKind.ALBUM, (News("Bob", False, photos=1),))])
    assert shown[1] == ("Lisbon", "Bob added a photo to Lisbon")  # a new batch starts from nothing


def test_notifications_say_only_as_much_as_the_setting_allows(qapp) -> None:  # type: ignore[no-untyped-def]
    chat = Arrival("c", "Alice & Bob", ThreadKind.CHAT, (News("Alice", True, "the door code is 4711"),))
    album = Arrival("a", "Holidays", ThreadKind.ALBUM, (News("Bob", False, photos=2),))
    assert notification_for([chat], NotificationDetail.NAMES) == ("Alice & Bob", "Alice sent a message")
    assert notification_for([chat, album], NotificationDetail.NAMES) == \
        ("Threads", "Alice sent a message in Alice & Bob\nBob added 2 photos to Holidays")
    assert notification_for([chat, album], NotificationDetail.NOTHING) == ("Threads", "1 new message, 2 new photos")
    assert notification_for([chat], NotificationDetail.NOTHING) == ("Threads", "1 new message")


def test_with_notifications_off_a_batch_shows_nothing(qtbot) -> None:  # type: ignore[no-untyped-def]
    detail = [NotificationDetail.OFF]
    batcher = NotificationBatcher(delay_ms=50, detail=lambda: detail[0])
    batcher.add([Arrival("c", "Family", ThreadKind.CHAT, (News("Ann", True, "hi"),))])
    with qtbot.assertNotEmitted(batcher.ready, wait=300):
        pass
    assert batcher.pending() == []  # dropped, not kept for later
    detail[0] = NotificationDetail.NAMES  # read at each batch: a change applies at once
    with qtbot.waitSignal(batcher.ready, timeout=2000) as ready:
        batcher.add([Arrival("c", "Family", ThreadKind.CHAT, (News("Ann", True, "hi"),))])
    assert ready.args == ["Family", "Ann sent a message"]


# --- from a real engine --------------------------------------------------------------------

def test_photos_and_messages_from_another_member_become_one_notification(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, friend: _Friend, settings: AppSettings,
        main_window: QMainWindow, tmp_path: Path) -> None:
    album = _call(qtbot, runtime, Node.create_thread, ThreadKind.ALBUM, "Lisbon").thread_id
    chat = _call(qtbot, runtime, Node.create_thread, ThreadKind.CHAT, "Family").thread_id
    friend.join(album)
    friend.join(chat)
    client = EngineClient(runtime, qt_loop)
    tray = TrayIcon(main_window, settings, client, available=True, batch_ms=300)
    assert not main_window.isActiveWindow()

    friend.node.photos(album).add_files(_photos(tmp_path / "pictures", 3))
    friend.node.chat(chat).post("Dinner at 8?")
    friend.node.chat(chat).post("Bring the photos")
    with qtbot.waitSignal(tray.notified, timeout=10_000) as notified:
        friend.deliver(album)
        friend.deliver(chat)
    assert notified.args == ["Threads", "Alice added 3 photos to Lisbon\n"
                             "Alice in Family: Dinner at 8?\nAlice in Family: Bring the photos"]


def test_with_names_only_a_message_from_another_member_is_notified_without_its_words(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, friend: _Friend, settings: AppSettings,
        main_window: QMainWindow) -> None:
    chat = _call(qtbot, runtime, Node.create_thread, ThreadKind.CHAT, "Family").thread_id
    friend.join(chat)
    settings.notification_detail = NotificationDetail.NAMES
    tray = TrayIcon(main_window, settings, EngineClient(runtime, qt_loop), available=True, batch_ms=100)
    friend.node.chat(chat).post("the door code is 4711")
    with qtbot.waitSignal(tray.notified, timeout=10_000) as notified:
        friend.deliver(chat)
    assert notified.args == ["Family", "Alice sent a message"]


def test_our_own_posts_edits_and_captions_notify_nobody(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, friend: _Friend, settings: AppSettings,
        main_window: QMainWindow, tmp_path: Path) -> None:
    chat = _call(qtbot, runtime, Node.create_thread, ThreadKind.CHAT, "Family").thread_id
    friend.join(chat)
    message_id = friend.node.chat(chat).post("first")
    friend.deliver(chat)
    client = EngineClient(runtime, qt_loop)
    tray = TrayIcon(main_window, settings, client, available=True, batch_ms=100)

    with qtbot.waitSignal(tray.described, timeout=10_000) as described:
        _call(qtbot, runtime, lambda node: node.chat(chat).post("mine"))
    assert described.args == [[]]
    friend.node.chat(chat).edit(message_id, "first, edited")
    with qtbot.waitSignal(tray.described, timeout=10_000) as described:
        friend.deliver(chat)
    assert described.args == [[]]  # an edit is not news
    assert tray.batcher.pending() == []


def test_nothing_is_notified_while_the_window_is_active(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, friend: _Friend, settings: AppSettings,
        main_window: QMainWindow) -> None:
    chat = _call(qtbot, runtime, Node.create_thread, ThreadKind.CHAT, "Family").thread_id
    friend.join(chat)
    client = EngineClient(runtime, qt_loop)
    tray = TrayIcon(main_window, settings, client, available=True, batch_ms=50)
    main_window.show()
    main_window.activateWindow()
    qtbot.waitUntil(main_window.isActiveWindow, timeout=5000)
    friend.node.chat(chat).post("you are looking already")
    described: list[object] = []
    tray.described.connect(described.append)
    with qtbot.waitSignal(client.changed, timeout=10_000):
        friend.deliver(chat)
    with qtbot.assertNotEmitted(tray.notified, wait=300):
        pass
    assert described == []  # not even asked the engine


# --- the window and the menu -----------------------------------------------------------------

def test_hiding_on_close_needs_a_tray_and_the_setting(settings: AppSettings) -> None:
    assert hides_on_close(True, settings)  # the default: keep running in the tray
    assert not hides_on_close(False, settings)  # no tray: closing must not make the app unreachable
    settings.close_to_tray = False
    assert not hides_on_close(True, settings)


def test_closing_the_window_hides_it_in_the_tray(qtbot, settings: AppSettings, main_window: QMainWindow) -> None:  # type: ignore[no-untyped-def]
    tray = TrayIcon(main_window, settings, available=True)
    main_window.show()
    with qtbot.waitSignal(tray.window_hidden, timeout=2000):
        assert main_window.close() is False  # the close was turned into a hide
    assert not main_window.isVisible()
    tray.show_action.trigger()  # Show from the tray menu brings it back
    assert main_window.isVisible()


@pytest.mark.parametrize("available, close_to_tray", [(False, True), (True, False)])
def test_without_a_tray_or_with_the_setting_off_closing_closes(  # type: ignore[no-untyped-def]
        qtbot, settings: AppSettings, main_window: QMainWindow, available: bool, close_to_tray: bool) -> None:
    settings.close_to_tray = close_to_tray
    tray = TrayIcon(main_window, settings, available=available)
    hidden: list[bool] = []
    tray.window_hidden.connect(lambda: hidden.append(True))
    main_window.show()
    assert main_window.close() is True
    assert hidden == [] and not main_window.isVisible()


def test_quit_from_the_tray_closes_for_real_and_asks_the_app_to_end(  # type: ignore[no-untyped-def]
        qtbot, settings: AppSettings, main_window: QMainWindow) -> None:
    tray = TrayIcon(main_window, settings, available=True)
    hidden: list[bool] = []
    tray.window_hidden.connect(lambda: hidden.append(True))
    main_window.show()
    with qtbot.waitSignal(tray.quit_requested, timeout=2000):
        tray.quit_action.trigger()
    assert hidden == [] and not main_window.isVisible()


def test_new_album_from_the_tray_shows_the_window_and_asks_for_an_album(  # type: ignore[no-untyped-def]
        qtbot, settings: AppSettings, main_window: QMainWindow) -> None:
    asked: list[bool] = []
    tray = TrayIcon(main_window, settings, available=True, new_album=lambda: asked.append(True))
    tray.new_album_action.trigger()
    assert asked == [True] and main_window.isVisible()
    assert [a.text() for a in tray.menu.actions() if not a.isSeparator()] == \
        ["Hide Threads", "New Album…", "Quit"]


def test_the_icon_is_in_the_real_tray(qtbot, settings: AppSettings, main_window: QMainWindow) -> None:  # type: ignore[no-untyped-def]
    if not QSystemTrayIcon.isSystemTrayAvailable():
        pytest.skip("needs a desktop with a system tray (offscreen Qt has none)")
    tray = TrayIcon(main_window, settings)
    assert tray.available and tray.icon is not None and tray.icon.isVisible()


def test_someone_asking_to_join_is_notified_while_the_window_is_elsewhere(  # type: ignore[no-untyped-def]
        qtbot, settings: AppSettings, main_window: QMainWindow) -> None:
    tray = TrayIcon(main_window, settings, available=True)
    assert not main_window.isActiveWindow()
    with qtbot.waitSignal(tray.notified, timeout=10_000) as notified:
        tray.notify("Someone asks to join", "Bob asks to join “Lisbon”. Open Members to approve or decline.")
    assert notified.args == ["Someone asks to join", "Bob asks to join “Lisbon”. Open Members to approve or decline."]
