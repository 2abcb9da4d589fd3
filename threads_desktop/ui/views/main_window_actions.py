"""The main window's menus and what they open: the actions (with their
shortcuts), the dialogs they ask with, this device's identity and quitting.

A mixin of `MainWindow` (views/main_window.py), which owns the widgets and
state named below; split out so each module reads in one sitting."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, ClassVar

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QInputDialog, QLabel, QMainWindow, QMessageBox

from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import NetworkStatus, ThreadKind, ThreadSummary
from threads_desktop.ui.diagnostics import CopyDiagnosticsAction
from threads_desktop.ui.dialogs.devices_dialog import DevicesDialog
from threads_desktop.ui.dialogs.invite_dialog import InviteDialog
from threads_desktop.ui.dialogs.join_dialog import JoinDialog
from threads_desktop.ui.dialogs.members_dialog import MembersDialog
from threads_desktop.ui.dialogs.name_prompt import NamePrompt
from threads_desktop.ui.dialogs.new_thread_dialog import NewThreadDialog
from threads_desktop.ui.dialogs.settings_dialog import SettingsDialog
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.operations import profile as profile_ops
from threads_desktop.ui.operations import threads as thread_ops
from threads_desktop.ui.people import short_id
from threads_desktop.ui.settings import AppSettings
from threads_desktop.ui.views.album_view import AlbumView

# Typed as the window it is mixed into; a plain class at run time (Qt's base comes from MainWindow).
if TYPE_CHECKING:
    _Base = QMainWindow
else:
    _Base = object


class WindowActions(_Base):
    thread_created: ClassVar[Signal]
    quit_confirmed: ClassVar[Signal]
    _client: EngineClient
    _settings: AppSettings
    _selected: ThreadSummary | None
    _network: NetworkStatus
    _my_id: str
    _quitting: bool
    members_dialog: MembersDialog | None
    rename_dialog: QInputDialog | None
    leave_box: QMessageBox | None
    settings_dialog: SettingsDialog | None
    devices_dialog: DevicesDialog | None
    new_thread_dialog: NewThreadDialog | None
    invite_dialog: InviteDialog | None
    join_dialog: JoinDialog | None
    name_prompt: NamePrompt | None
    name_checked: bool
    quit_box: QMessageBox | None
    album_view: AlbumView
    identity_label: QLabel

    if TYPE_CHECKING:
        def _spawn(self, work: Coroutine[Any, Any, None]) -> None: ...
        def _show_error(self, message: str, expected: bool = True) -> None: ...
        async def _reload(self, only: frozenset[ThreadId] | None = None) -> None: ...
        def select_thread(self, thread_id: str, *, when_listed: bool = False) -> None: ...

    def _build_actions(self) -> None:
        self.new_album_action = QAction(self.tr("New &Album…"), self)
        self.new_album_action.setShortcut(QKeySequence.StandardKey.New)
        self.new_album_action.triggered.connect(lambda: self.ask_new_thread(ThreadKind.ALBUM))
        self.new_chat_action = QAction(self.tr("New &Chat…"), self)
        self.new_chat_action.setShortcut(QKeySequence("Ctrl+Shift+N"))
        self.new_chat_action.triggered.connect(lambda: self.ask_new_thread(ThreadKind.CHAT))
        self.invite_action = QAction(self.tr("&Invite People…"), self)
        self.invite_action.setShortcut(QKeySequence("Ctrl+I"))
        self.invite_action.setEnabled(False)
        self.invite_action.triggered.connect(lambda: self.ask_invite())
        self.join_action = QAction(self.tr("&Join by Link…"), self)
        self.join_action.setShortcut(QKeySequence("Ctrl+J"))
        self.join_action.triggered.connect(lambda: self.ask_join())
        self.add_photos_action = QAction(self.tr("&Add Photos…"), self)
        self.add_photos_action.setShortcut(QKeySequence("Ctrl+O"))
        self.add_photos_action.setEnabled(False)
        self.add_photos_action.triggered.connect(lambda: self.album_view.ask_files())
        self.add_folder_action = QAction(self.tr("Add a &Folder…"), self)
        self.add_folder_action.setShortcut(QKeySequence("Ctrl+Shift+O"))
        self.add_folder_action.setEnabled(False)
        self.add_folder_action.triggered.connect(lambda: self.album_view.ask_folder())
        self.members_action = QAction(self.tr("&Members…"), self)
        self.members_action.setShortcut(QKeySequence("Ctrl+M"))
        self.members_action.setEnabled(False)
        self.members_action.triggered.connect(self.ask_members)
        self.rename_action = QAction(self.tr("&Rename…"), self)
        self.rename_action.setShortcut(QKeySequence("F2"))
        self.rename_action.setEnabled(False)
        self.rename_action.triggered.connect(self.ask_rename)
        self.leave_action = QAction(self.tr("&Leave…"), self)
        self.leave_action.setEnabled(False)
        self.leave_action.triggered.connect(self.ask_leave)
        self.settings_action = QAction(self.tr("&Settings…"), self)
        # The platform's own (Cmd+, on macOS, none on Linux and Windows), and
        # Ctrl+, where it is not that already: an empty one would be listed too.
        preferences = QKeySequence.keyBindings(QKeySequence.StandardKey.Preferences)
        self.settings_action.setShortcuts(preferences + [key for key in [QKeySequence("Ctrl+,")]
                                                         if key not in preferences])
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.settings_action.triggered.connect(self.ask_settings)
        # Quit ends the app; closing the window may only hide it in the tray.
        self.quit_action = QAction(self.tr("&Quit"), self)
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))  # StandardKey.Quit is none on Windows
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.triggered.connect(self.request_quit)
        file_menu = self.menuBar().addMenu(self.tr("&File"))
        file_menu.addActions([self.new_album_action, self.new_chat_action])
        file_menu.addActions([self.add_photos_action, self.add_folder_action])
        file_menu.addSeparator()
        file_menu.addActions([self.invite_action, self.members_action, self.join_action])
        file_menu.addSeparator()
        file_menu.addActions([self.rename_action, self.leave_action])
        file_menu.addSeparator()
        file_menu.addAction(self.settings_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        self.diagnostics_action = CopyDiagnosticsAction(self._client, self)
        self.diagnostics_action.copied.connect(
            lambda _text: self.statusBar().showMessage(self.tr("Diagnostics copied to the clipboard"), 10_000))
        self.diagnostics_action.failed.connect(self._show_error)
        # The whole ID: what is shown is its short form, which nobody can use.
        self.copy_id_action = QAction(self.tr("Copy My ID"), self)
        self.copy_id_action.setEnabled(False)
        self.copy_id_action.triggered.connect(self.copy_my_id)
        # Who we share with and how each is connected (the status bar's network corner opens it too).
        self.devices_action = QAction(self.tr("&Devices…"), self)
        self.devices_action.setShortcut(QKeySequence("Ctrl+D"))
        self.devices_action.triggered.connect(self.ask_devices)
        view_menu = self.menuBar().addMenu(self.tr("&View"))
        view_menu.addAction(self.devices_action)
        help_menu = self.menuBar().addMenu(self.tr("&Help"))
        help_menu.addAction(self.copy_id_action)
        help_menu.addAction(self.diagnostics_action)

    def ask_new_thread(self, kind: ThreadKind) -> NewThreadDialog:
        dialog = NewThreadDialog(kind, self)
        dialog.accepted.connect(lambda: self._spawn(self._create(dialog.kind, dialog.name())))
        dialog.finished.connect(dialog.deleteLater)
        self.new_thread_dialog = dialog
        dialog.open()
        return dialog

    async def _create(self, kind: ThreadKind, name: str) -> None:
        summary = await self._client.create_thread(kind, name)
        await self._reload()
        self.select_thread(str(summary.thread_id))
        self.thread_created.emit(str(summary.thread_id))

    def ask_invite(self, peer_id: str | None = None) -> InviteDialog | None:
        """The invite dialog for the selected thread (a nearby peer preselected)."""
        if self._selected is None:
            return None
        self.invite_dialog = InviteDialog(self._client, self._selected, self, peer_id=peer_id)
        self.invite_dialog.open()
        return self.invite_dialog

    def ask_members(self) -> MembersDialog | None:
        if self._selected is None:
            return None
        self.members_dialog = MembersDialog(self._client, self._selected, self)
        self.members_dialog.open()
        return self.members_dialog

    def ask_rename(self) -> QInputDialog | None:
        summary = self._selected
        if summary is None or not summary.can_write:
            return None
        dialog = QInputDialog(self)
        dialog.setWindowTitle(self.tr("Rename"))
        dialog.setLabelText(self.tr("New name, for everyone in it:"))
        dialog.setTextValue(summary.name or "")
        dialog.setOkButtonText(self.tr("Rename"))
        thread_id = summary.thread_id
        dialog.textValueSelected.connect(
            lambda name: self._spawn(self._rename(thread_id, name)) if name.strip() else None)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        self.rename_dialog = dialog
        return dialog

    async def _rename(self, thread_id: ThreadId, name: str) -> None:
        await self._client.run(thread_ops.rename_thread, thread_id, name)
        await self._reload()

    def ask_leave(self) -> QMessageBox | None:
        summary = self._selected
        if summary is None:
            return None
        name = summary.name or self.tr("this backup")
        box = QMessageBox(QMessageBox.Icon.Warning, self.tr("Leave"),
                          self.tr("Leave “{name}” and delete everything of it from this device?").format(name=name),
                          QMessageBox.StandardButton.Cancel, self)
        box.setTextFormat(Qt.TextFormat.PlainText)  # names come from peers
        box.setInformativeText(self.tr("The others keep it. They still list you as a member until an admin "
                                       "removes you; to come back you need a new invite."))
        leave = box.addButton(self.tr("Leave"), QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        thread_id = summary.thread_id
        leave.clicked.connect(lambda: self._spawn(self._leave(thread_id)))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.leave_box = box
        return box

    async def _leave(self, thread_id: ThreadId) -> None:
        await self._client.run(thread_ops.leave_thread, thread_id)
        self.statusBar().showMessage(self.tr("Left. Its data is gone from this device."), 10_000)

    def ask_devices(self) -> DevicesDialog:
        """The Devices window (one; raised if open already)."""
        if self.devices_dialog is None:
            self.devices_dialog = DevicesDialog(self._client, self)
        self.devices_dialog.show_reachability(self._network.reachability)
        self.devices_dialog.show()
        self.devices_dialog.raise_()
        self.devices_dialog.activateWindow()
        return self.devices_dialog

    def ask_settings(self, page: str = "general") -> SettingsDialog:
        self.settings_dialog = SettingsDialog(self._client, self._settings, self, page=page)
        self.settings_dialog.saved.connect(lambda: self._spawn(self._refresh_identity()))
        self.settings_dialog.open()
        return self.settings_dialog

    def ask_name_once(self) -> None:
        """On a first launch: ask for the name others see (once; it can be skipped)."""
        self._spawn(self._ask_name_once())

    async def _ask_name_once(self) -> None:
        self.name_prompt = await NamePrompt.open_if_new(self._client, self._settings, self)
        self.name_checked = True
        if self.name_prompt is not None:
            self.name_prompt.saved.connect(lambda _name: self._spawn(self._refresh_identity()))
            self.name_prompt.came_back.connect(self._came_back)

    def _came_back(self, text: str) -> None:
        """This computer became a device of someone (added, or restored): say so, show their name."""
        self.statusBar().showMessage(text, 30_000)
        self._spawn(self._refresh_identity())
        self._spawn(self._reload())  # every album and chat it brought

    def ask_join(self, text: str = "") -> JoinDialog:
        """The join dialog (also for a threads:// link opened from outside)."""
        self.join_dialog = JoinDialog(self._client, self, text)
        self.join_dialog.joined.connect(lambda thread_id: self.select_thread(str(thread_id), when_listed=True))
        self.join_dialog.became_device.connect(self._came_back)  # a device link pasted (issue 19)
        self.join_dialog.open()
        return self.join_dialog

    async def _refresh_identity(self) -> None:
        self._show_identity(await self._client.run(profile_ops.me))

    def _show_identity(self, me: profile_ops.Me) -> None:
        # The person's ID, not this device's: others invite the person, the
        # same on each of its devices (the relay settings name the device).
        self._my_id = me.person_id
        self.copy_id_action.setEnabled(True)
        self.identity_label.setText((me.name or self.tr("You")) + f"\n{short_id(me.person_id)}")
        self.identity_label.setToolTip(self.tr("Your ID, the same on each of your devices (others see it when "
                                               "you join): {id}").format(id=me.person_id))

    def copy_my_id(self) -> None:
        """Put the person's whole ID on the clipboard (to be invited by it)."""
        if self._my_id:
            QGuiApplication.clipboard().setText(self._my_id)
            self.statusBar().showMessage(self.tr("Your ID was copied to the clipboard"), 10_000)

    def request_quit(self) -> QMessageBox | None:
        """Quit, after asking when photos are still being added (the
        confirmation box is returned; None when quitting at once)."""
        importer = self.album_view.current_import
        if importer is None:
            self._quitting = True
            self.quit_confirmed.emit()
            return None
        if self.quit_box is not None:
            return self.quit_box
        box = QMessageBox(QMessageBox.Icon.Question, self.tr("Quit Threads"), "",
                          QMessageBox.StandardButton.NoButton, self)
        box.setInformativeText(self.tr("The photos added so far stay in the album. To add the rest later, add "
                                       "the same photos or folder again: those already there are skipped."))
        keep = box.addButton(self.tr("Keep Adding"), QMessageBox.ButtonRole.RejectRole)
        quit_button = box.addButton(self.tr("Quit"), QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(keep)

        def show_progress(done: int, total: int) -> None:
            if self.quit_box is not box:
                return  # answered (and deleted) already
            box.setText(self.tr("Photos are still being added ({done} of {total} so far). Quit anyway?").format(
                done=done, total=total or "…"))

        self.quit_box = box
        show_progress(importer.done, importer.total)
        importer.progressed.connect(show_progress)
        # Done while the question was open: nothing is lost any more, so do what was asked.
        importer.finished.connect(lambda _summary: self._quit_during_import() if self.quit_box is box else None)
        quit_button.clicked.connect(self._quit_during_import)
        box.finished.connect(lambda _result: self._forget_quit_box(box))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box

    def _forget_quit_box(self, box: QMessageBox) -> None:
        if self.quit_box is box:
            self.quit_box = None

    def _quit_during_import(self) -> None:
        box, self.quit_box = self.quit_box, None
        if box is not None:
            box.close()
        importer = self.album_view.current_import
        if importer is not None:
            importer.cancel()
        self._quitting = True
        self.quit_confirmed.emit()
