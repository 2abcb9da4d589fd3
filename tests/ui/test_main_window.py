"""The main window against a real engine (its own thread, a real profile)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QMessageBox

from tests.ui.album import new_thread
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.models.thread_list_model import ThreadRole
from threads_desktop.ui.settings import AppSettings
from threads_desktop.ui.views.main_window import MainWindow


def _names(view) -> list[str]:  # type: ignore[no-untyped-def]
    model = view.model()
    return [model.index(row, 0).data(ThreadRole.NAME) for row in range(model.rowCount())]


def test_the_window_opens_with_the_identity_and_an_empty_start_page(window: MainWindow) -> None:
    assert window.isVisible()
    assert "12D3KooW" in window.identity_label.toolTip()
    assert window.threads.rowCount() == 0
    assert window.pages.currentIndex() == 0
    assert window.empty_new_album.isVisible()


def test_copy_my_id_copies_the_whole_id_not_its_short_form(window: MainWindow, runtime: EngineRuntime) -> None:
    from PySide6.QtGui import QGuiApplication

    from threads_desktop.engine.core.ids import PeerId
    from threads_desktop.ui.people import short_id

    whole = window.identity_label.toolTip().rsplit(" ", 1)[-1]
    assert short_id(whole) in window.identity_label.text() and whole not in window.identity_label.text()
    assert window.copy_id_action in window.identity_label.actions()  # its context menu
    window.copy_id_action.trigger()
    assert QGuiApplication.clipboard().text() == whole
    assert str(PeerId.parse(whole)) == whole  # a whole, valid ID: another device can add it


def test_creating_an_album_shows_it_in_the_list_and_selects_it(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    window.empty_new_album.click()
    dialog = window.new_thread_dialog
    assert dialog is not None and dialog.isVisible()
    assert not dialog.create_button.isEnabled()
    qtbot.keyClicks(dialog.name_edit, "Summer in Lisbon")
    assert dialog.create_button.isEnabled()
    with qtbot.waitSignal(window.thread_created, timeout=10_000):
        qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
    assert _names(window.album_list) == ["Summer in Lisbon"]
    assert _names(window.chat_list) == []
    assert window.pages.currentWidget() is window.album_view
    assert window.album_view.title.text() == "Summer in Lisbon"
    assert window.album_view.add_button.isEnabled()


def test_a_new_chat_goes_to_the_chats_section(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    window.new_chat_action.trigger()
    dialog = window.new_thread_dialog
    assert dialog is not None
    qtbot.keyClicks(dialog.name_edit, "Family")
    with qtbot.waitSignal(window.thread_created, timeout=10_000):
        qtbot.keyClick(dialog.name_edit, Qt.Key.Key_Return)
    assert _names(window.chat_list) == ["Family"]
    assert _names(window.album_list) == []


def test_a_refused_name_shows_the_error_and_creates_nothing(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    dialog = window.ask_new_thread(ThreadKind.ALBUM)
    dialog.name_edit.setText("bell\x07")
    with qtbot.waitSignal(window.operation_failed, timeout=10_000) as failed:
        dialog.create_button.click()
    assert "control characters" in failed.args[0]
    assert "control characters" in window.statusBar().currentMessage()
    assert window.threads.rowCount() == 0


def test_threads_made_elsewhere_appear_without_polling(qtbot, window: MainWindow, runtime: EngineRuntime) -> None:  # type: ignore[no-untyped-def]
    # As when a sync brings a thread in: the engine pushes, the window follows.
    with qtbot.waitSignal(window.threads.rowsInserted, timeout=10_000):
        task = asyncio.ensure_future(runtime.call(Node.create_thread, ThreadKind.CHAT, "From the CLI"))
    assert _names(window.chat_list) == ["From the CLI"]
    qtbot.waitUntil(task.done, timeout=10_000)
    assert task.result().name == "From the CLI"


def test_names_are_shown_as_plain_text_never_as_markup(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    dialog = window.ask_new_thread(ThreadKind.ALBUM)
    dialog.name_edit.setText('<img src="file:///etc/passwd"> party')
    with qtbot.waitSignal(window.thread_created, timeout=10_000):
        dialog.create_button.click()
    assert window.album_view.title.textFormat() == Qt.TextFormat.PlainText
    assert window.album_view.title.text() == '<img src="file:///etc/passwd"> party'


def test_a_message_posted_elsewhere_updates_the_chats_count(qtbot, window: MainWindow, runtime: EngineRuntime) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.threads.rowsInserted, timeout=10_000):
        created = asyncio.ensure_future(runtime.call(Node.create_thread, ThreadKind.CHAT, "Family"))
    qtbot.waitUntil(created.done, timeout=10_000)
    thread_id = created.result().thread_id
    with qtbot.waitSignal(window.threads.dataChanged, timeout=10_000):
        posted = asyncio.ensure_future(runtime.call(lambda node: node.chat(thread_id).post("Dinner at 8?")))
    qtbot.waitUntil(posted.done, timeout=10_000)
    assert posted.exception() is None
    row = window.threads.row_of(str(thread_id))
    assert window.threads.index(row).data(ThreadRole.ITEM_COUNT) == 1


def test_the_members_and_settings_dialogs_open_from_the_menu(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    assert not window.members_action.isEnabled()  # nothing selected yet
    new_thread(qtbot, window, "Team")
    assert window.members_action.isEnabled()
    with qtbot.waitSignal(window.album_view.members_requested, timeout=1_000):
        window.album_view.members_button.click()
    members = window.members_dialog
    assert members is not None
    qtbot.waitUntil(lambda: members.isVisible() and members.members.rowCount() == 1, timeout=10_000)
    window.settings_action.trigger()
    assert window.settings_dialog is not None and window.settings_dialog.isVisible()


def test_every_shortcut_of_settings_is_a_key_and_ctrl_comma_is_one(window: MainWindow) -> None:
    """The platform's Preferences key has no binding on Linux: it was listed
    as an empty shortcut beside Ctrl+, (found by mypy: a StandardKey in a
    list of key sequences)."""
    shortcuts = window.settings_action.shortcuts()
    assert [key for key in shortcuts if key.isEmpty()] == []
    assert QKeySequence("Ctrl+,") in shortcuts
    assert len(shortcuts) == len({key.toString() for key in shortcuts})


def test_a_chat_opens_in_the_chat_view_and_its_unread_count_shows_in_the_list(  # type: ignore[no-untyped-def]
        qtbot, window: MainWindow) -> None:
    new_thread(qtbot, window, "Plans", chat=True)
    assert window.pages.currentWidget() is window.chat_view
    qtbot.keyClicks(window.chat_view.composer, "See you at 8")
    with qtbot.waitSignal(window.chat_view.message_sent, timeout=10_000):
        qtbot.keyClick(window.chat_view.composer, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.threads.index(0).data(ThreadRole.ITEM_COUNT) == 1, timeout=10_000)
    assert window.threads.index(0).data(ThreadRole.UNREAD) == 0  # our own message
    assert window.threads.index(0).data(ThreadRole.LAST_ACTIVITY_MS) is not None


def test_a_chat_clicked_in_the_list_is_ready_to_write_in_while_arrow_keys_stay_in_the_list(  # type: ignore[no-untyped-def]
        qtbot, window: MainWindow) -> None:
    new_thread(qtbot, window, "Plans", chat=True)
    new_thread(qtbot, window, "Family", chat=True)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    view = window.chat_list
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Down if view.currentIndex().row() == 0 else Qt.Key.Key_Up)
    qtbot.waitUntil(lambda: window.pages.currentWidget() is window.chat_view, timeout=10_000)
    assert view.hasFocus()  # moving through the list with the keys
    row = 1 - view.currentIndex().row()
    where = view.visualRect(view.model().index(row, 0)).center()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=where)
    qtbot.waitUntil(lambda: window.chat_view.current_thread is not None
                    and window.chat_view.current_thread.name == view.model().index(row, 0).data(ThreadRole.NAME),
                    timeout=10_000)
    qtbot.waitUntil(window.chat_view.composer.hasFocus, timeout=5000)


def test_renaming_and_leaving_from_the_menu(qtbot, window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    new_thread(qtbot, window, "Trip")
    rename = window.ask_rename()
    assert rename is not None and rename.textValue() == "Trip"
    rename.setTextValue("Lisbon 2024")
    rename.accept()
    qtbot.waitUntil(lambda: window.threads.index(0).data(ThreadRole.NAME) == "Lisbon 2024", timeout=10_000)
    # The album view's title follows the album's change set, which can arrive after the list's.
    qtbot.waitUntil(lambda: window.album_view.title.text() == "Lisbon 2024", timeout=10_000)
    box = window.ask_leave()
    assert box is not None and "Lisbon 2024" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert window.threads.rowCount() == 1
    box = window.ask_leave()
    assert box is not None
    with qtbot.waitSignal(window.threads.modelReset, timeout=10_000):
        next(b for b in box.buttons() if b.text() == "Leave").click()
    assert window.threads.rowCount() == 0 and window.pages.currentIndex() == 0
    assert not window.leave_action.isEnabled()


def test_the_window_size_the_shown_album_and_the_sort_order_come_back_after_a_restart(  # type: ignore[no-untyped-def]
        qtbot, qt_loop, window: MainWindow, runtime: EngineRuntime, tmp_path: Path) -> None:
    first = new_thread(qtbot, window, "Lisbon")
    new_thread(qtbot, window, "Porto")
    window.select_thread(first)
    window.album_view.sort.setCurrentIndex(1)  # oldest first
    window.resize(760, 540)  # offscreen's screen is 800x600: a restored size is kept on it
    size = (window.width(), window.height())
    window.close()

    settings = AppSettings.from_file(tmp_path / "settings.ini")
    again = MainWindow(EngineClient(runtime, qt_loop), settings)
    qtbot.addWidget(again)
    with qtbot.waitSignal(again.threads_loaded, timeout=10_000):
        again.show()
    qtbot.waitUntil(lambda: again.pages.currentWidget() is again.album_view, timeout=10_000)
    assert again.album_view.title.text() == "Lisbon"
    assert again.album_view.sort.currentIndex() == 1
    # Restored onto the (800x600 offscreen) screen: the height as it was,
    # the width as near as the window's own minimum allows.
    assert again.height() == size[1] != 660 and again.width() < 1000


def test_the_users_own_settings_are_never_touched_by_a_test(qtbot, qt_loop, runtime: EngineRuntime,  # type: ignore[no-untyped-def]
                                                             private_user_settings: Path) -> None:
    window = MainWindow(EngineClient(runtime, qt_loop))  # the user's settings, as the app opens them
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.threads_loaded, timeout=10_000):
        window.show()
    new_thread(qtbot, window, "Lisbon")
    window.close()
    assert AppSettings.user().store.fileName().startswith(str(private_user_settings))
    assert AppSettings.user().last_thread is not None
