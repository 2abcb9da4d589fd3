"""The chat view against real engines: typing and sending, replies, edits,
deletes, reactions, photos; a message crossing the network between two
windows with the unread marker; a read-only member's composer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QAction, QDropEvent
from PySide6.QtWidgets import QMessageBox

from tests.engine.modules.images import image_bytes
from tests.ui.counting_runtime import RecordingRuntime
from tests.ui.waiting import wait_for
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ChangeSet, ThreadKind, ThreadSummary
from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.operations import chat as chat_ops
from threads_desktop.ui.operations.chat import Reaction
from threads_desktop.ui.views.chat_view import ChatView
from threads_desktop.ui.widgets.message_delegate import layout_message


def _view(qtbot, client: EngineClient, summary: ThreadSummary, *, show: bool = True) -> ChatView:  # type: ignore[no-untyped-def]
    view = ChatView(client)
    qtbot.addWidget(view)
    view.resize(640, 520)
    if show:
        view.show()
    with qtbot.waitSignal(view.messages_loaded, timeout=10_000):
        view.show_thread(summary)
    return view


def _texts(view: ChatView) -> list[str]:
    return [row["text"] for row in view.message_rows()]


def _message(view: ChatView, text: str) -> dict[str, Any]:
    return view.message_rows()[_texts(view).index(text)]


def _row(view: ChatView, text: str) -> int:
    """The model's row of a message (membership notices are rows too)."""
    return int(_message(view, text)["row"])


def _action(view: ChatView, row: int, name: str) -> QAction:
    action = view.menu_for(row).findChild(QAction, name)
    assert action is not None, name
    return action


def _type_and_send(qtbot, view: ChatView, text: str) -> str:  # type: ignore[no-untyped-def]
    lines = text.split("\n")
    for i, line in enumerate(lines):
        qtbot.keyClicks(view.composer, line)
        if i < len(lines) - 1:
            qtbot.keyClick(view.composer, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    with qtbot.waitSignal(view.message_sent, timeout=10_000) as sent:
        qtbot.keyClick(view.composer, Qt.Key.Key_Return)
    return str(sent.args[0])


def test_typing_sends_and_the_context_menu_replies_edits_deletes_and_reacts(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime) -> None:
    client = EngineClient(runtime, qt_loop)
    summary = wait_for(qtbot, client.create_thread(ThreadKind.CHAT, "x"))
    view = _view(qtbot, client, summary)
    assert view.composer.isEnabled() and view.send_button.isEnabled()

    qtbot.keyClicks(view.composer, "hello")
    with qtbot.waitSignal(view.message_sent, timeout=10_000):
        qtbot.keyClick(view.composer, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: _texts(view) == ["hello"], timeout=10_000)
    assert view.composer.toPlainText() == ""
    assert view.message_rows()[0]["mine"] and not view.message_rows()[0]["edited"]

    # Shift+Enter is a new line in the composer, not a message.
    qtbot.keyClicks(view.composer, "two")
    qtbot.keyClick(view.composer, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(view.composer, "lines")
    assert view.composer.toPlainText() == "two\nlines"
    assert _texts(view) == ["hello"]
    with qtbot.waitSignal(view.message_sent, timeout=10_000):
        view.send_button.click()
    qtbot.waitUntil(lambda: _texts(view) == ["hello", "two\nlines"], timeout=10_000)

    # Reply: the bar names what is quoted; the sent message carries the quote.
    _action(view, _row(view, "hello"), "reply").trigger()
    assert not view.mode_bar.isHidden() and "Replying to" in view.mode_label.text()
    assert "hello" in view.mode_label.text()
    _type_and_send(qtbot, view, "answer")
    qtbot.waitUntil(lambda: "answer" in _texts(view), timeout=10_000)
    assert _message(view, "answer")["quote"] == "hello"
    assert view.mode_bar.isHidden() and view.reply_to is None

    # Edit: the text goes into the composer and Enter saves it.
    _action(view, _row(view, "hello"), "edit").trigger()
    assert view.composer.toPlainText() == "hello" and view.editing is not None
    view.composer.clear()
    qtbot.keyClicks(view.composer, "hello again")
    with qtbot.waitSignal(view.message_edited, timeout=10_000):
        qtbot.keyClick(view.composer, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "hello again" in _texts(view), timeout=10_000)
    assert _message(view, "hello again")["edited"]
    qtbot.waitUntil(lambda: _message(view, "answer")["quote"] == "hello again", timeout=10_000)
    assert view.editing is None and view.composer.toPlainText() == ""

    # Delete asks first; Cancel keeps the message, Delete removes it.
    _action(view, _row(view, "two\nlines"), "delete").trigger()
    assert view.confirm_box is not None
    view.confirm_box.button(QMessageBox.StandardButton.Cancel).click()
    assert "two\nlines" in _texts(view)
    _action(view, _row(view, "two\nlines"), "delete").trigger()
    with qtbot.waitSignal(view.message_deleted, timeout=10_000):
        view.confirm_box.button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(lambda: _texts(view) == ["hello again", "answer"], timeout=10_000)

    # React: a chip with a count; the same emoji again switches it off.
    _action(view, _row(view, "answer"), "react-👍").trigger()
    qtbot.waitUntil(lambda: view.message_rows()[1]["reactions"] == [Reaction("👍", 1, True)], timeout=10_000)
    view.list.grab()  # the bubbles, the quote and the chip paint
    _action(view, _row(view, "answer"), "react-🎉").trigger()
    qtbot.waitUntil(lambda: len(view.message_rows()[1]["reactions"]) == 2, timeout=10_000)
    assert _action(view, 1, "react-👍").isChecked()
    _action(view, 1, "react-👍").trigger()
    qtbot.waitUntil(lambda: view.message_rows()[1]["reactions"] == [Reaction("🎉", 1, True)], timeout=10_000)
    assert not view.error.isVisible()


def test_clicking_a_reaction_chip_toggles_it(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime) -> None:
    client = EngineClient(runtime, qt_loop)
    summary = wait_for(qtbot, client.create_thread(ThreadKind.CHAT, "x"))
    view = _view(qtbot, client, summary)
    _type_and_send(qtbot, view, "tap me")
    qtbot.waitUntil(lambda: _texts(view) == ["tap me"], timeout=10_000)
    _action(view, 0, "react-❤️").trigger()
    qtbot.waitUntil(lambda: view.message_rows()[0]["reactions"] == [Reaction("❤️", 1, True)], timeout=10_000)
    index = view.model.index(0)
    row_rect = view.list.visualRect(index)
    [(chip, _reaction)] = layout_message(index, view.list.font(), row_rect.width(), "edited").chips
    with qtbot.waitSignal(view.reaction_toggled, timeout=10_000) as toggled:
        qtbot.mouseClick(view.list.viewport(), Qt.MouseButton.LeftButton, pos=chip.center() + row_rect.topLeft())
    assert toggled.args == [view.message_rows()[0]["id"], "❤️", False]
    qtbot.waitUntil(lambda: view.message_rows()[0]["reactions"] == [], timeout=10_000)


def test_a_photo_dropped_on_the_composer_is_sent_with_the_text_and_shows_its_thumbnail(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, tmp_path: Path) -> None:
    client = EngineClient(runtime, qt_loop)
    summary = wait_for(qtbot, client.create_thread(ThreadKind.CHAT, "x"))
    view = _view(qtbot, client, summary)
    picture = tmp_path / "beach.jpg"
    picture.write_bytes(image_bytes("JPEG", size=(300, 200)))
    (tmp_path / "notes.txt").write_text("not a picture")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(picture)), QUrl.fromLocalFile(str(tmp_path / "notes.txt"))])
    drop = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    view.composer.dropEvent(drop)
    assert view.attachments == [picture] and "beach.jpg" in view.attachment_label.text()
    assert view.composer.toPlainText() == ""  # the path is not pasted as text
    _type_and_send(qtbot, view, "look")
    qtbot.waitUntil(lambda: _texts(view) == ["look"], timeout=15_000)
    # Decoded off the GUI thread: it comes a moment after the message.
    qtbot.waitUntil(lambda: view.message_rows()[0]["thumbnails"] != [None], timeout=10_000)
    [thumbnail] = view.message_rows()[0]["thumbnails"]
    assert thumbnail is not None and thumbnail.width() > thumbnail.height() > 0
    assert view.attachments == [] and view.attachment_bar.isHidden()
    view.list.grab()


def test_older_messages_page_in_when_scrolled_to_the_top(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime) -> None:
    client = EngineClient(runtime, qt_loop)
    summary = wait_for(qtbot, client.create_thread(ThreadKind.CHAT, "x"))

    def many(node: Node, thread_id: ThreadId) -> None:
        chat = node.chat(thread_id)
        for i in range(chat_ops.PAGE_SIZE + 50):
            chat.post(f"message {i}")
    wait_for(qtbot, client.run(many, summary.thread_id), timeout=60_000)
    view = _view(qtbot, client, summary)
    assert view.model.rowCount() == chat_ops.PAGE_SIZE and view.model.has_older
    assert _texts(view)[-1] == f"message {chat_ops.PAGE_SIZE + 49}"
    bar = view.list.verticalScrollBar()
    assert bar.value() == bar.maximum()  # opened at the newest message
    with qtbot.waitSignal(view.messages_loaded, timeout=10_000):
        bar.setValue(bar.minimum())
    assert view.model.rowCount() == chat_ops.PAGE_SIZE + 50 and not view.model.has_older
    assert _texts(view)[0] == "message 0"
    # The rows added above leave the view on what it showed, not on the oldest.
    viewport = view.list.viewport().rect()
    assert view.list.visualRect(view.model.index(_row(view, "message 50"))).intersects(viewport)
    assert not view.list.visualRect(view.model.index(0)).intersects(viewport)

    # At the bottom, a message arriving keeps the view at the bottom.
    bar.setValue(bar.maximum())
    wait_for(qtbot, client.run(lambda node: node.chat(summary.thread_id).post("latest")))
    qtbot.waitUntil(lambda: _texts(view)[-1] == "latest", timeout=10_000)
    assert bar.value() == bar.maximum() and view.model.rowCount() == chat_ops.PAGE_SIZE + 51
    assert view.list.visualRect(view.model.index(view.model.rowCount() - 1)).intersects(viewport)


def _summary(qtbot, client: EngineClient, thread_id: ThreadId) -> ThreadSummary:  # type: ignore[no-untyped-def]
    return wait_for(qtbot, client.run(chat_ops.thread_summary, thread_id))


def _admitted_by(qtbot, client: EngineClient, owner: Node, thread_id: ThreadId) -> None:  # type: ignore[no-untyped-def]
    """The runtime's pending join, admitted by `owner` in process (the bytes
    engine/net/joining.py would carry)."""
    request = wait_for(qtbot, client.run(lambda node: node.membership.admission_request(thread_id)))
    me = wait_for(qtbot, client.run(lambda node: str(node.identity.peer_id)))
    wait_for(qtbot, client.run(Node.take_admission, thread_id, owner.answer_admission(request, me)))


async def _let_in(client: EngineClient, thread_id: ThreadId) -> ThreadId:
    """Once the network's join loop got the joiner admitted (both online)."""
    for _ in range(300):  # bounded: 30 s
        state = await client.run(lambda node: node.join_state(thread_id))
        if state is None or state.status == "admitted":
            return thread_id
        await asyncio.sleep(0.1)
    raise AssertionError(f"not let in: {state}")


def test_a_message_sent_in_one_window_arrives_in_the_other_with_the_unread_marker(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, two_app_engines: tuple[EngineRuntime, EngineRuntime]) -> None:
    a, b = two_app_engines
    client_a, client_b = EngineClient(a, qt_loop), EngineClient(b, qt_loop)
    summary_a = wait_for(qtbot, client_a.create_thread(ThreadKind.CHAT, "Family"))
    link, _qr = wait_for(qtbot, client_a.invite(summary_a.thread_id, Role.WRITE, None))
    thread_id = wait_for(qtbot, client_b.join(InviteLink.parse(link)))
    wait_for(qtbot, _let_in(client_b, thread_id), timeout=40_000)
    view_a = _view(qtbot, client_a, summary_a)
    view_b = _view(qtbot, client_b, _summary(qtbot, client_b, thread_id), show=False)

    # B's view is open but not on screen: the messages arrive unread.
    _type_and_send(qtbot, view_a, "one")
    _type_and_send(qtbot, view_a, "two")
    qtbot.waitUntil(lambda: _texts(view_a) == ["one", "two"], timeout=10_000)  # A's own list: its change feed
    qtbot.waitUntil(lambda: _texts(view_b) == ["one", "two"] and view_b.unread_count == 2, timeout=30_000)
    rows = view_b.message_rows()
    assert not rows[0]["mine"] and rows[0]["author"] != "" and view_a.message_rows()[0]["mine"]

    # Opening it again puts "New messages" above the first unread one;
    # on screen, they are marked read.
    opened = _summary(qtbot, client_b, thread_id)  # asked first: a load ending while we wait must not count
    with qtbot.waitSignal(view_b.messages_loaded, timeout=10_000):
        view_b.show_thread(opened)
    assert [row["unread_marker"] for row in view_b.message_rows()] == [True, False]
    view_b.show()
    qtbot.waitUntil(lambda: view_b.unread_count == 0, timeout=30_000)
    assert wait_for(qtbot, client_b.run(chat_ops.unread_count, thread_id)) == 0
    view_b.list.grab()  # the marker line paints

    # While shown, a new message is read as it arrives; the marker stays put.
    marks: list[int] = []
    view_b.marked_read.connect(marks.append)
    _type_and_send(qtbot, view_a, "three")
    qtbot.waitUntil(lambda: _texts(view_b) == ["one", "two", "three"] and bool(marks), timeout=30_000)
    assert marks[-1] == 0 and view_b.unread_count == 0
    assert wait_for(qtbot, client_b.run(chat_ops.unread_count, thread_id)) == 0
    assert [row["unread_marker"] for row in view_b.message_rows()] == [True, False, False]

    # B may write once its join is through: its answer reaches A.
    qtbot.waitUntil(view_b.composer.isEnabled, timeout=30_000)
    _type_and_send(qtbot, view_b, "hi A")
    qtbot.waitUntil(lambda: _texts(view_a)[-1:] == ["hi A"], timeout=30_000)
    assert not view_a.message_rows()[-1]["mine"]


def test_opening_a_chat_again_while_a_change_is_being_read_shows_every_message_at_each_load(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime) -> None:
    client = EngineClient(runtime, qt_loop)
    summary = wait_for(qtbot, client.create_thread(ThreadKind.CHAT, "x"))
    for text in ("one", "two"):
        wait_for(qtbot, client.run(chat_ops.post, summary.thread_id, text, None, []))
    view = _view(qtbot, client, summary)
    assert _texts(view) == ["one", "two"]
    shown_at_each_load: list[list[str]] = []
    view.messages_loaded.connect(lambda: shown_at_each_load.append(_texts(view)))

    # A new message makes the view read only the messages a change set names
    # (its slot runs before this one). The chat is opened again (switching to
    # another and back does the same) while that read is on its way, or before
    # it starts: its answer must not land in the emptied list, and the next
    # change must still be read.
    reopen_next: list[str] = []
    read_on_its_way: list[bool] = []

    def reopen_after_a_message_change(changes: ChangeSet) -> None:
        if not reopen_next or not any(c == "message" for _t, c, _d in changes.documents):
            return
        if reopen_next.pop() == "at once":
            view.show_thread(summary)
            return

        def reopen() -> None:
            read_on_its_way.append(view._load_lock.locked())  # the view's read has started
            view.show_thread(summary)
        qt_loop.call_soon(reopen)

    client.changed.connect(reopen_after_a_message_change)
    reopen_next.append("while reading")
    wait_for(qtbot, client.run(chat_ops.post, summary.thread_id, "three", None, []))
    qtbot.waitUntil(lambda: _texts(view) == ["one", "two", "three"] and bool(shown_at_each_load), timeout=10_000)
    assert read_on_its_way == [True]
    assert all(shown == ["one", "two", "three"] for shown in shown_at_each_load), shown_at_each_load

    reopen_next.append("at once")
    wait_for(qtbot, client.run(chat_ops.post, summary.thread_id, "four", None, []))
    qtbot.waitUntil(lambda: not reopen_next and _texts(view)[-1:] == ["four"], timeout=10_000)
    wait_for(qtbot, client.run(chat_ops.post, summary.thread_id, "five", None, []))
    qtbot.waitUntil(lambda: _texts(view) == ["one", "two", "three", "four", "five"], timeout=10_000)
    assert all(shown[:3] == ["one", "two", "three"] for shown in shown_at_each_load), shown_at_each_load


@pytest.mark.parametrize(("role", "reason"), [(Role.READ, "not write"), (Role.FOLLOW, "cannot read")])
def test_a_member_who_cannot_write_sees_the_composer_disabled_with_the_reason(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, open_node: Callable[[str], Node],
        role: Role, reason: str) -> None:
    owner = open_node("owner")
    thread_id = owner.create_thread(ThreadKind.CHAT, "News").thread_id
    link = owner.invite(thread_id, role).to_uri()
    client = EngineClient(runtime, qt_loop)
    wait_for(qtbot, client.join(InviteLink.parse(link)))
    _admitted_by(qtbot, client, owner, thread_id)
    summary = _summary(qtbot, client, thread_id)
    assert not summary.can_write
    view = _view(qtbot, client, summary)
    for widget in (view.composer, view.send_button, view.attach_button):
        assert not widget.isEnabled()
        assert reason in widget.toolTip()
    qtbot.keyClicks(view.composer, "sneaky")
    qtbot.keyClick(view.composer, Qt.Key.Key_Return)
    view.send()
    assert view.composer.toPlainText() == "" and view.model.rowCount() == 0
    assert (role is Role.FOLLOW) == view.notice.isVisible()


def test_delete_is_offered_on_others_messages_only_to_a_member_with_the_delete_role(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, two_app_engines: tuple[EngineRuntime, EngineRuntime]) -> None:
    from threads_desktop.ui.operations import members as member_calls

    a, b = two_app_engines
    client_a, client_b = EngineClient(a, qt_loop), EngineClient(b, qt_loop)
    summary_a = wait_for(qtbot, client_a.create_thread(ThreadKind.CHAT, "Club"))
    link, _qr = wait_for(qtbot, client_a.invite(summary_a.thread_id, Role.WRITE, None))
    thread_id = wait_for(qtbot, client_b.join(InviteLink.parse(link)))
    wait_for(qtbot, _let_in(client_b, thread_id), timeout=40_000)
    view_a = _view(qtbot, client_a, summary_a)
    view_b = _view(qtbot, client_b, _summary(qtbot, client_b, thread_id))
    _type_and_send(qtbot, view_a, "from A")
    qtbot.waitUntil(lambda: view_b.composer.isEnabled() and _texts(view_b) == ["from A"], timeout=30_000)
    _type_and_send(qtbot, view_b, "from B")
    qtbot.waitUntil(lambda: _texts(view_b) == ["from A", "from B"], timeout=30_000)

    # A writer: delete and edit on its own message, neither on another's.
    assert _action(view_b, _row(view_b, "from B"), "delete").isEnabled()
    assert view_b.menu_for(_row(view_b, "from A")).findChild(QAction, "delete") is None
    assert view_b.menu_for(_row(view_b, "from A")).findChild(QAction, "edit") is None

    # Given the delete role by the admin, B may take down A's message.
    b_id = wait_for(qtbot, client_b.identity()).peer_id
    with qtbot.waitSignal(view_b.rights_checked, timeout=30_000,
                          check_params_cb=lambda: view_b.menu_for(_row(view_b, "from A")).findChild(
                              QAction, "delete") is not None):
        wait_for(qtbot, client_a.run(member_calls.set_member_role, summary_a.thread_id, b_id, Role.DELETE))
    assert view_b.menu_for(_row(view_b, "from A")).findChild(QAction, "edit") is None  # still not B's to edit
    _action(view_b, _row(view_b, "from A"), "delete").trigger()
    box = view_b.confirm_box
    assert box is not None and "by " in box.text() and "12D3KooW" not in box.text()
    with qtbot.waitSignal(view_b.message_deleted, timeout=10_000):
        box.button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(lambda: _texts(view_a) == ["from B"], timeout=30_000)


def test_a_message_arriving_late_with_an_earlier_time_still_appears(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, open_node: Callable[[str], Node]) -> None:
    from tests.engine.eventstore.peers import envelopes_of

    owner = open_node("owner")
    thread_id = owner.create_thread(ThreadKind.CHAT, "Late").thread_id
    link = owner.invite(thread_id, Role.WRITE).to_uri()
    client = EngineClient(runtime, qt_loop)
    wait_for(qtbot, client.join(InviteLink.parse(link)))
    _admitted_by(qtbot, client, owner, thread_id)
    wait_for(qtbot, client.run(Node.receive, thread_id, envelopes_of(owner, thread_id)))
    owner.receive(thread_id, wait_for(qtbot, client.run(envelopes_of, thread_id)))
    wait_for(qtbot, client.run(Node.receive, thread_id, envelopes_of(owner, thread_id)))
    view = _view(qtbot, client, _summary(qtbot, client, thread_id))
    owner.chat(thread_id).post("written first, offline")  # not synced yet
    _type_and_send(qtbot, view, "written second")
    qtbot.waitUntil(lambda: _texts(view) == ["written second"], timeout=10_000)

    wait_for(qtbot, client.run(Node.receive, thread_id, envelopes_of(owner, thread_id)))
    qtbot.waitUntil(lambda: _texts(view) == ["written first, offline", "written second"], timeout=10_000)


def test_a_new_message_is_shown_without_asking_each_shown_messages_actions_again(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, tmp_path: Path) -> None:
    """The reload a new message starts brings each message's actions with
    its page: the rights check it also starts must not ask for them twice."""
    engine = RecordingRuntime(lambda: Node.open(tmp_path / "profile"))
    engine.start()
    try:
        client = EngineClient(engine, qt_loop)
        summary = wait_for(qtbot, client.create_thread(ThreadKind.CHAT, "Busy"))
        view = _view(qtbot, client, summary)
        engine.operations.clear()
        with qtbot.waitSignals([view.rights_checked, view.messages_loaded], timeout=10_000):
            wait_for(qtbot, client.run(chat_ops.post, summary.thread_id, "hello", None, []))
        qtbot.waitUntil(lambda: _texts(view) == ["hello"], timeout=10_000)
        assert chat_ops.load_page in engine.operations and chat_ops.message_actions not in engine.operations
    finally:
        engine.stop()


def test_a_readers_new_messages_marker_clears_once_read_without_writing_to_the_chat(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, open_node: Callable[[str], Node]) -> None:
    """A reader may not write a read marker: its position is kept on this
    device, so "New messages" and the unread count go once it has read."""
    from tests.engine.eventstore.peers import envelopes_of

    owner = open_node("owner")
    thread_id = owner.create_thread(ThreadKind.CHAT, "News").thread_id
    link = owner.invite(thread_id, Role.READ).to_uri()
    client = EngineClient(runtime, qt_loop)
    wait_for(qtbot, client.join(InviteLink.parse(link)))
    _admitted_by(qtbot, client, owner, thread_id)
    owner.chat(thread_id).post("one")
    owner.chat(thread_id).post("two")
    records = envelopes_of(owner, thread_id)
    wait_for(qtbot, client.run(lambda node: node.receive(thread_id, records)))
    summary = _summary(qtbot, client, thread_id)
    assert summary.can_read and not summary.can_write and summary.unread == 2

    def own_records() -> int:
        return wait_for(qtbot, client.run(lambda node: sum(h.seq for h in node.store.logs(thread_id)
                                                        if h.log_id == node.store.own_log(thread_id))))

    written = own_records()
    view = _view(qtbot, client, summary, show=False)
    assert [row["unread_marker"] for row in view.message_rows()] == [True, False]
    view.show()  # on screen: read
    qtbot.waitUntil(lambda: view.unread_count == 0, timeout=10_000)
    assert wait_for(qtbot, client.run(chat_ops.unread_count, thread_id)) == 0
    assert _summary(qtbot, client, thread_id).unread == 0
    assert own_records() == written  # nothing written to the chat

    opened = _summary(qtbot, client, thread_id)  # asked first: a load ending while we wait must not count
    with qtbot.waitSignal(view.messages_loaded, timeout=10_000):
        view.show_thread(opened)
    assert [row["unread_marker"] for row in view.message_rows()] == [False, False]
