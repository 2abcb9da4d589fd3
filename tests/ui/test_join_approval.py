"""Approving each person who joins, in two real windows: the inviter ticks
"Approve each person who joins"; the joiner's window lists the album as
waiting for the inviter's approval; the inviter's members dialog shows who
asks (by name, which link, since when) with Approve and Decline; Approve lets
them in and the album arrives. A second joiner declined is told so."""

from __future__ import annotations

import asyncio
from pathlib import Path

import qasync
from PySide6.QtWidgets import QPushButton

from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.core.types import ThreadSummary
from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.models.join_request_model import RequestColumn, RequestRole
from threads_desktop.ui.models.thread_list_model import ThreadRole
from threads_desktop.ui.settings import AppSettings
from threads_desktop.ui.views.main_window import MainWindow


def _window(qtbot, loop: qasync.QEventLoop, engine: EngineRuntime, settings: Path) -> MainWindow:  # type: ignore[no-untyped-def]
    window = MainWindow(EngineClient(engine, loop), AppSettings.from_file(settings))
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.threads_loaded, timeout=10_000):
        window.show()
    return window


def _named(qtbot, engine: EngineRuntime, name: str) -> None:  # type: ignore[no-untyped-def]
    done = asyncio.ensure_future(engine.call(Node.set_display_name, name))
    qtbot.waitUntil(done.done, timeout=10_000)


def _join(qtbot, window: MainWindow, link: str) -> None:  # type: ignore[no-untyped-def]
    join = window.ask_join(link)
    qtbot.waitUntil(join.join_button.isEnabled, timeout=10_000)
    with qtbot.waitSignal(join.joined, timeout=10_000):
        join.join_button.click()


def _button(dialog, row: int, column: RequestColumn) -> QPushButton:  # type: ignore[no-untyped-def]
    widget = dialog.request_view.indexWidget(dialog.requests.index(row, column))
    assert isinstance(widget, QPushButton)
    return widget


def test_an_inviter_approves_a_joiner_by_name_and_declines_another(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, two_app_engines: tuple[EngineRuntime, EngineRuntime],
        tmp_path: Path) -> None:
    a, b = two_app_engines
    _named(qtbot, a, "Alice")
    _named(qtbot, b, "Bob")
    window_a = _window(qtbot, qt_loop, a, tmp_path / "a.ini")
    window_b = _window(qtbot, qt_loop, b, tmp_path / "b.ini")
    window_a.empty_new_album.click()
    assert window_a.new_thread_dialog is not None
    qtbot.keyClicks(window_a.new_thread_dialog.name_edit, "Lisbon")
    with qtbot.waitSignal(window_a.thread_created, timeout=10_000):
        window_a.new_thread_dialog.create_button.click()
    invite = window_a.ask_invite()
    assert invite is not None
    invite.uses.setValue(2)
    invite.approve.setChecked(True)
    with qtbot.waitSignal(invite.link_ready, timeout=10_000) as made:
        invite.create_button.click()
    link = made.args[0]
    invite.reject()

    with qtbot.waitSignal(window_a.join_asked, timeout=30_000) as asked:  # said to Alice, badge on the album
        _join(qtbot, window_b, link)
    assert asked.args == ["Bob asks to join “Lisbon”. Open Members to approve or decline."]
    album_row = window_a.threads.index(window_a.threads.row_of(str(InviteLink.parse(link).thread_id)))
    assert album_row.data(ThreadRole.ASKING) == 1
    qtbot.waitUntil(lambda: window_b.join_page.status.text() == "Waiting for Alice to approve you", timeout=30_000)
    assert "Alice decides whether to let you in" in window_b.join_page.explanation.text()
    again = window_b.ask_join(link)  # the same link again: said, not joined twice
    qtbot.waitUntil(lambda: "waiting to be let in" in again.details.text(), timeout=10_000)
    again.reject()

    members = window_a.ask_members()
    assert members is not None
    qtbot.waitUntil(lambda: members.request_box.isVisible() and members.requests.rowCount() == 1, timeout=30_000)
    assert members.request_box.title() == "People asking to join"
    first = members.requests.index(0, RequestColumn.WHO)
    assert first.data() == "Bob" and members.requests.index(0, RequestColumn.LINK).data() == "your link · Add"
    assert members.requests.index(0, RequestColumn.STATUS).data().startswith("waiting since ")
    assert "12D3KooW" not in first.data(RequestRole.READABLE)
    with qtbot.waitSignal(members.changed, timeout=10_000):
        _button(members, 0, RequestColumn.APPROVE).click()

    # Let in: the album and its name come over; the Joining section empties.
    qtbot.waitUntil(lambda: window_b.threads.rowCount() == 1
                    and window_b.threads.index(0).data(ThreadRole.KIND) == "album"
                    and window_b.threads.index(0).data() == "Lisbon", timeout=30_000)
    assert not window_b.joining_list.isVisible()
    qtbot.waitUntil(lambda: album_row.data(ThreadRole.ASKING) == 0, timeout=10_000)  # nobody waits any more
    summary = window_b.threads.index(0).data(ThreadRole.SUMMARY)
    assert isinstance(summary, ThreadSummary) and summary.can_write

    # Someone else with the same link: declined, and told so.
    _declined_joiner(qtbot, qt_loop, tmp_path, link, members)


def _declined_joiner(qtbot, loop: qasync.QEventLoop, tmp_path: Path, link: str,  # type: ignore[no-untyped-def]
                               members) -> None:
    from threads_desktop.app import background_services
    from threads_desktop.cli.commands import forwarding_handler

    carol = EngineRuntime(lambda: Node.open(tmp_path / "carol"),
                          background_services(["/ip4/127.0.0.1/tcp/0"], lan_discovery=False,
                                              commands=forwarding_handler))
    carol.start()
    try:
        window_c = _window(qtbot, loop, carol, tmp_path / "c.ini")
        _join(qtbot, window_c, link)
        qtbot.waitUntil(lambda: members.requests.waiting_count() == 1, timeout=30_000)
        row = next(r for r in range(members.requests.rowCount())
                   if members.requests.index(r, 0).data(RequestRole.STATUS) == "waiting")
        with qtbot.waitSignal(members.changed, timeout=10_000):
            _button(members, row, RequestColumn.DECLINE).click()
        qtbot.waitUntil(lambda: window_c.join_page.status.text() == "Alice declined your request", timeout=40_000)
        assert window_c.join_page.new_link_button.isVisible()
        qtbot.waitUntil(lambda: members.requests.waiting_count() == 0, timeout=10_000)
        # Nobody left to decide on: the box lists refused attempts only, without empty button columns.
        assert members.request_box.title() == "Refused attempts to join"
        assert members.request_view.isColumnHidden(RequestColumn.APPROVE)
        refused = [members.requests.index(r, 0).data(RequestRole.READABLE) for r in range(members.requests.rowCount())]
        assert any(text.endswith(": was declined") for text in refused)
        window_c.close()
    finally:
        carol.stop()
