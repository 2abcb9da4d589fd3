"""The main window: albums and chats in the sidebar, the selected one in the
centre, this device's identity at the bottom of the sidebar."""

from __future__ import annotations

from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QByteArray, QItemSelectionModel, QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListView,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from threads_desktop.engine.core.errors import ThreadsError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.members import JoinState
from threads_desktop.engine.core.types import ChangeSet, NetworkStatus, ThreadKind, ThreadSummary
from threads_desktop.ui.dialogs.devices_dialog import DevicesDialog
from threads_desktop.ui.dialogs.invite_dialog import InviteDialog
from threads_desktop.ui.dialogs.join_dialog import JoinDialog
from threads_desktop.ui.dialogs.members_dialog import MembersDialog
from threads_desktop.ui.dialogs.name_prompt import NamePrompt
from threads_desktop.ui.dialogs.new_thread_dialog import NewThreadDialog
from threads_desktop.ui.dialogs.settings_dialog import SettingsDialog
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.models.thread_list_model import PENDING_KIND, ThreadListModel, ThreadRole
from threads_desktop.ui.operations import joins as join_ops
from threads_desktop.ui.operations import notices as notice_ops
from threads_desktop.ui.operations import threads as thread_ops
from threads_desktop.ui.refusals import explain
from threads_desktop.ui.settings import AppSettings
from threads_desktop.ui.tasks import Tasks
from threads_desktop.ui.views.album_view import AlbumView
from threads_desktop.ui.views.chat_view import ChatView
from threads_desktop.ui.views.join_page import JoinPage
from threads_desktop.ui.views.main_window_actions import WindowActions
from threads_desktop.ui.views.thread_page import ThreadPage
from threads_desktop.ui.widgets.invitations_bar import InvitationsBar
from threads_desktop.ui.widgets.nearby_list import NearbyList
from threads_desktop.ui.widgets.network_status import NetworkStatusWidget
from threads_desktop.ui.widgets.removed_device_banner import RemovedDeviceBanner
from threads_desktop.ui.widgets.thread_item_delegate import ThreadItemDelegate


class MainWindow(WindowActions, QMainWindow):
    """The sidebar, the pages and what selecting does; the menus and the
    dialogs they open are in views/main_window_actions.py."""

    threads_loaded = Signal()
    network_status_shown = Signal()
    thread_created = Signal(str)  # thread ID
    operation_failed = Signal(str)
    join_asked = Signal(str)  # someone waits for our approval to join: the sentence shown
    quit_confirmed = Signal()  # Quit chosen (and confirmed when photos were being added): the app ends

    def __init__(self, client: EngineClient, settings: AppSettings | None = None) -> None:
        super().__init__()
        self._client = client
        self._settings = settings or AppSettings.user()
        self.members_dialog: MembersDialog | None = None
        self.rename_dialog: QInputDialog | None = None
        self._select_when_listed: str | None = None
        self.leave_box: QMessageBox | None = None
        self.settings_dialog: SettingsDialog | None = None
        self.devices_dialog: DevicesDialog | None = None
        self._network = NetworkStatus(online=False)  # the last status shown
        self._tasks = Tasks(self._failed)
        self.new_thread_dialog: NewThreadDialog | None = None
        self.invite_dialog: InviteDialog | None = None
        self.join_dialog: JoinDialog | None = None
        self.name_prompt: NamePrompt | None = None
        self.name_checked = False  # the first-launch check for a name has run (asked or not)
        self._my_id = ""
        self.quit_box: QMessageBox | None = None
        self._quitting = False  # quitting was chosen (and confirmed): closing no longer asks
        self._selected: ThreadSummary | None = None
        self.threads = ThreadListModel()
        # Thumbnails and pictures are decoded here, never on the GUI thread.
        self._decoder = ThreadPoolExecutor(max_workers=2, thread_name_prefix="decode")
        self.setWindowTitle(self.tr("Threads"))
        if not self.restoreGeometry(QByteArray(self._settings.window_geometry)):
            self.resize(1000, 660)
        self._build_actions()
        self._build_layout()
        client.changed.connect(self._on_engine_changed)
        self._spawn(self._load())

    # --- construction ---------------------------------------------------------------

    def _build_layout(self) -> None:
        sidebar = QWidget()
        sidebar.setObjectName("sidebar")
        sidebar.setMinimumWidth(240)
        side = QVBoxLayout(sidebar)
        side.setContentsMargins(8, 10, 8, 8)
        self.album_list = self._section(side, self.tr("Albums"), ThreadKind.ALBUM, self.new_album_action)
        self.chat_list = self._section(side, self.tr("Chats"), ThreadKind.CHAT, self.new_chat_action)
        # A chat picked with the mouse (or Enter) is one to write in; arrow
        # keys only move through the list, so focus stays there.
        self.chat_list.clicked.connect(self._focus_composer)
        self.chat_list.activated.connect(self._focus_composer)
        # Threads this device cannot read: a follower's backups, and joins
        # still waiting for a member's records. Shown only when there are some.
        self.backup_list = self._section(side, self.tr("Backups"), None, None)
        # Links joined with and not let in yet (waiting, or refused): shown only when there are some.
        self.joining_list = self._section(side, self.tr("Joining"), PENDING_KIND, None)
        self.threads.modelReset.connect(self._show_backup_section)
        self.threads.rowsInserted.connect(self._show_backup_section)
        self.threads.rowsRemoved.connect(self._show_backup_section)
        self.threads.dataChanged.connect(self._show_backup_section)
        self._show_backup_section()
        self.identity_label = QLabel(self.tr("Opening profile…"))
        self.identity_label.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.identity_label.addAction(self.copy_id_action)
        self.identity_label.setWordWrap(True)
        self.identity_label.setFrameShape(QFrame.Shape.StyledPanel)
        self.identity_label.setMargin(6)
        self.invitations = InvitationsBar(self._client)  # hides itself while nothing waits
        self.invitations.accepted.connect(lambda thread_id: self.select_thread(str(thread_id), when_listed=True))
        self.invitations.count_changed.connect(
            lambda n: self.statusBar().showMessage(self.invitations.badge_text(), 15_000) if n else None)
        side.addWidget(self.invitations)
        self.nearby_list = NearbyList(self._client)
        self.nearby_list.set_invite_enabled(False)
        self.nearby_list.invite_requested.connect(lambda peer_id: self.ask_invite(peer_id))
        side.addWidget(self.nearby_list)
        side.addWidget(self.identity_label)

        self.pages = QStackedWidget()
        self.pages.addWidget(self._empty_page())
        self.thread_page = ThreadPage()
        self.thread_page.removal_banner.remove_requested.connect(
            lambda: self._spawn(self._leave(self._selected.thread_id)) if self._selected is not None else None)
        self.thread_page.invite_button.clicked.connect(lambda: self.ask_invite())
        self.pages.addWidget(self.thread_page)
        self.join_page = JoinPage()
        self.join_page.new_link_requested.connect(lambda: self.ask_join())
        self.join_page.remove_requested.connect(lambda state: self._spawn(self._forget_join(state)))
        self.pages.addWidget(self.join_page)
        self.album_view: AlbumView = AlbumView(self._client, self._decoder, newest_first=self._settings.newest_first)
        self.album_view.sort_changed.connect(lambda newest: setattr(self._settings, "newest_first", newest))
        self.album_view.invite_requested.connect(lambda: self.ask_invite())
        self.album_view.members_requested.connect(self.ask_members)
        self.album_view.message.connect(lambda text: self.statusBar().showMessage(text, 15_000))
        self.album_view.failed.connect(self._show_error)
        self.pages.addWidget(self.album_view)
        self.chat_view = ChatView(self._client, decoder=self._decoder)
        self.chat_view.failed.connect(self._show_error)
        self.chat_view.members_requested.connect(self.ask_members)
        self.chat_view.invite_requested.connect(lambda: self.ask_invite())
        self.chat_view.marked_read.connect(lambda _unread: self._spawn(self._reload()))
        self.pages.addWidget(self.chat_view)

        splitter = QSplitter()
        splitter.addWidget(sidebar)
        splitter.addWidget(self.pages)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([280, 720])
        # Another of the person's devices removed this one (issue 19): a bar across the window.
        self.removed_device_banner = RemovedDeviceBanner(self._client)
        central = QWidget()
        central_layout = QVBoxLayout(central)
        central_layout.setContentsMargins(0, 0, 0, 0)
        central_layout.addWidget(self.removed_device_banner)
        central_layout.addWidget(splitter, 1)
        self.setCentralWidget(central)
        self.network_status = NetworkStatusWidget()
        self.statusBar().addPermanentWidget(self.network_status)
        self.network_status.clicked.connect(self.ask_devices)

    def _section(self, layout: QVBoxLayout, title: str, kind: ThreadKind | str | None,
                 action: QAction | None) -> QListView:
        header_widget = QWidget()
        header = QHBoxLayout(header_widget)
        header.setContentsMargins(0, 0, 0, 0)
        label = QLabel(title.upper())
        font = label.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 0.85)
        label.setFont(font)
        header.addWidget(label)
        header.addStretch()
        if action is not None:
            add = QToolButton()
            add.setText("+")
            add.setToolTip(action.text().replace("&", "") + f" ({action.shortcut().toString()})")
            add.setAutoRaise(True)
            add.clicked.connect(action.trigger)
            add.setAccessibleName(action.text().replace("&", ""))
            header.addWidget(add)
        layout.addWidget(header_widget)
        proxy = QSortFilterProxyModel(self)
        proxy.setSourceModel(self.threads)
        proxy.setFilterRole(ThreadRole.KIND)
        proxy.setFilterFixedString(kind.value if isinstance(kind, ThreadKind) else kind or "backup")
        view = QListView()
        view.setProperty("header", header_widget)
        view.setModel(proxy)
        view.setItemDelegate(ThreadItemDelegate(view))
        view.setMouseTracking(True)
        view.setFrameShape(QFrame.Shape.NoFrame)
        view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        view.selectionModel().currentChanged.connect(
            lambda current, _previous, v=view: self._on_current_changed(v, current))
        layout.addWidget(view, 1)
        return view

    def _show_backup_section(self) -> None:
        for view in (self.backup_list, self.joining_list):
            shown = view.model().rowCount() > 0
            view.setVisible(shown)
            header = view.property("header")
            if isinstance(header, QWidget):
                header.setVisible(shown)

    def _empty_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addStretch()
        title = QLabel(self.tr("Share photos and chats with the people you choose"))
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        title.setFont(font)
        self.empty_title = title
        text = QLabel(self.tr("Everything stays on your devices and theirs, encrypted. No account, no cloud."))
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addStretch()
        self.empty_new_album = QPushButton(self.tr("New album"))
        self.empty_new_album.clicked.connect(self.new_album_action.trigger)
        self.empty_new_album.setDefault(True)
        self.empty_new_chat = QPushButton(self.tr("New chat"))
        self.empty_new_chat.clicked.connect(self.new_chat_action.trigger)
        self.empty_join = QPushButton(self.tr("Join with a link…"))
        self.empty_join.setToolTip(self.tr("Paste an invite link someone sent you"))
        self.empty_join.clicked.connect(self.join_action.trigger)
        buttons.addWidget(self.empty_new_album)
        buttons.addWidget(self.empty_new_chat)
        buttons.addWidget(self.empty_join)
        buttons.addStretch()
        layout.addWidget(title)
        layout.addWidget(text)
        layout.addSpacing(12)
        layout.addLayout(buttons)
        layout.addStretch()
        return page

    # --- behaviour ----------------------------------------------------------------------

    async def _load(self) -> None:
        await self._refresh_identity()
        await self._reload()
        last = self._settings.last_thread
        if last is not None and self._selected is None and self.threads.row_of(last) >= 0:
            self.select_thread(last)  # where the user was when they last closed the app
        self.threads_loaded.emit()
        self._show_network(await self._client.network_status())
        listed = [self.threads.index(row).data(ThreadRole.SUMMARY) for row in range(self.threads.rowCount())]
        await self._reload_asking(frozenset(s.thread_id for s in listed if isinstance(s, ThreadSummary)))

    async def _reload(self, only: frozenset[ThreadId] | None = None) -> None:
        """List the threads again: all of them, or `only` those a change set named."""
        if only is None:
            self.threads.set_threads(await self._client.list_threads())
        elif only:
            self.threads.update_threads(await self._client.run(thread_ops.summaries, sorted(only, key=str)))
        await self._reload_joins()
        if self._select_when_listed is not None and self.threads.row_of(self._select_when_listed) >= 0:
            self.select_thread(self._select_when_listed)
        if self._selected is not None:  # its counts or rights may have changed
            row = self.threads.row_of(str(self._selected.thread_id))
            summary = self.threads.index(row).data(ThreadRole.SUMMARY) if row >= 0 else None
            if isinstance(summary, ThreadSummary) and summary.kind != self._selected.kind:
                # It moved to another list (a thread just let in learns its kind
                # from its first records): select it there, which shows it.
                self.select_thread(str(summary.thread_id))
            elif isinstance(summary, ThreadSummary) and summary != self._selected:
                self._show_selected(summary)
        if self.threads.rowCount() == 0:
            self.pages.setCurrentIndex(0)
        self.empty_title.setText(
            self.tr("Pick an album or a chat, or start a new one") if self.threads.rowCount()
            else self.tr("Share photos and chats with the people you choose"))

    async def _reload_joins(self) -> None:
        """The joins not let in yet, and the page of the one selected."""
        self.threads.set_pending(await self._client.run(join_ops.pending_joins))
        shown = self.join_page.state
        if self.pages.currentWidget() is self.join_page and shown is not None:
            row = self.threads.row_of(str(shown.thread_id))
            state = self.threads.index(row).data(ThreadRole.JOIN_STATE) if row >= 0 else None
            if isinstance(state, JoinState):
                self.join_page.show_join(state)
            elif row >= 0:  # let in: its thread is listed now
                self.select_thread(str(shown.thread_id))
            else:
                self.pages.setCurrentIndex(0)

    async def _reload_asking(self, thread_ids: frozenset[ThreadId]) -> None:
        """Badge the threads where people wait for our approval, and say
        who asks when someone new does."""
        asking = await self._client.run(join_ops.asking_to_join, sorted(thread_ids, key=str))
        for thread_id in thread_ids:
            names = asking.get(thread_id, [])
            before = self.threads.asking(thread_id)
            self.threads.set_asking(thread_id, len(names))
            if len(names) > before:
                row = self.threads.row_of(str(thread_id))
                album = str(self.threads.index(row).data(ThreadRole.NAME) or "") if row >= 0 else ""
                who = names[-1] or self.tr("Someone")
                text = self.tr("%1 asks to join “%2”. Open Members to approve or decline.").replace(
                    "%1", who).replace("%2", album)
                self.statusBar().showMessage(text, 30_000)
                self.join_asked.emit(text)

    async def _forget_join(self, state: JoinState) -> None:
        await self._client.run(join_ops.forget_join, state.thread_id)
        await self._reload_joins()

    def _on_engine_changed(self, changes: ChangeSet) -> None:
        if changes.threads_removed and self._selected is not None \
                and self._selected.thread_id in changes.threads_removed:
            self._selected = None
            self.pages.setCurrentIndex(0)
            for action in (self.invite_action, self.members_action, self.add_photos_action, self.add_folder_action,
                           self.rename_action, self.leave_action):
                action.setEnabled(False)
        # Only the threads named are asked for again (their counts, rights,
        # unread messages); a thread left (rare) lists them all again.
        named = changes.threads_added | changes.threads_updated | {
            thread for thread, collection, _doc in changes.documents if collection in ("message", "read_marker")}
        if changes.threads_removed:
            self._spawn(self._reload())
        elif named:
            self._spawn(self._reload(frozenset(named)))
        elif changes.joins:  # a join by link moved on (waiting, refused): its row and page
            self._spawn(self._reload_joins())
        if changes.membership:  # someone may ask (or no longer ask) to be let in
            self._spawn(self._reload_asking(changes.membership))
        if changes.network is not None:  # a snapshot: no need to ask the engine again
            self._show_network(changes.network)

    def _show_network(self, status: NetworkStatus) -> None:
        self._network = status
        self.network_status.show_status(status)
        self.threads.set_syncing(frozenset(t.thread_id for t in status.transfers if t.done < t.total))
        self.network_status_shown.emit()

    def select_thread(self, thread_id: str, *, when_listed: bool = False) -> None:
        """Select a thread in the sidebar (or, `when_listed`, as soon as it is)."""
        row = self.threads.row_of(thread_id)
        if row < 0:
            self._select_when_listed = thread_id if when_listed else None
            if when_listed:
                self._spawn(self._reload())
            return
        self._select_when_listed = None
        source = self.threads.index(row)
        for view in (self.album_list, self.chat_list, self.backup_list, self.joining_list):
            proxy = view.model()
            assert isinstance(proxy, QSortFilterProxyModel)
            index = proxy.mapFromSource(source)
            if index.isValid():
                view.setFocus()
                view.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def _on_current_changed(self, view: QListView, current: QModelIndex) -> None:
        if not current.isValid():
            return
        for other in (self.album_list, self.chat_list, self.backup_list, self.joining_list):
            if other is not view:
                other.selectionModel().clear()
        summary = current.data(ThreadRole.SUMMARY)
        if isinstance(summary, ThreadSummary):
            self._show_selected(summary)
        join = current.data(ThreadRole.JOIN_STATE)
        if isinstance(join, JoinState):
            self._show_join(join)

    def _show_join(self, state: JoinState) -> None:
        self._selected = None
        for action in (self.invite_action, self.members_action, self.add_photos_action, self.add_folder_action,
                       self.rename_action, self.leave_action):
            action.setEnabled(False)
        self.nearby_list.set_invite_enabled(False)
        self.join_page.show_join(state)
        self.pages.setCurrentWidget(self.join_page)

    def _show_selected(self, summary: ThreadSummary) -> None:
        self._selected = summary
        self._settings.last_thread = str(summary.thread_id)
        if not summary.can_write:  # a join may be waiting or refused
            self._spawn(self._show_join_state(summary.thread_id))
        self.invite_action.setEnabled(summary.can_read and summary.can_invite and not summary.removed)
        self.members_action.setEnabled(summary.can_read)
        self.nearby_list.set_invite_enabled(summary.can_read and summary.can_invite and not summary.removed)
        self.add_photos_action.setEnabled(summary.kind is ThreadKind.ALBUM and summary.can_write)
        self.add_folder_action.setEnabled(self.add_photos_action.isEnabled())
        self.rename_action.setEnabled(summary.can_write)
        self.leave_action.setEnabled(True)
        if summary.kind is ThreadKind.ALBUM and summary.can_read:
            self.album_view.show_thread(summary)
            self.pages.setCurrentWidget(self.album_view)
            return
        if summary.kind is ThreadKind.CHAT and summary.can_read:
            if self.chat_view.current_thread is None or self.chat_view.current_thread.thread_id != summary.thread_id:
                self.chat_view.show_thread(summary)
            self.pages.setCurrentWidget(self.chat_view)
            return
        self._show_thread_page(summary)

    def _focus_composer(self) -> None:
        if self.pages.currentWidget() is self.chat_view and self.chat_view.composer.isEnabled():
            self.chat_view.composer.setFocus()

    def _show_thread_page(self, summary: ThreadSummary) -> None:
        self.thread_page.show_thread(summary)
        self.pages.setCurrentWidget(self.thread_page)
        self.thread_page.invite_button.setVisible(summary.can_read and summary.can_invite and not summary.removed)
        if summary.removed:
            self._spawn(self._show_removal(summary))

    async def _show_removal(self, summary: ThreadSummary) -> None:
        """On a backup's page: who removed this device, and when (issue 16)."""
        removal = await self._client.run(notice_ops.load_removal, summary.thread_id)
        if self._selected is not None and self._selected.thread_id == summary.thread_id:
            self.thread_page.removal_banner.show_removal(removal, summary.kind)

    async def _show_join_state(self, thread_id: ThreadId) -> None:
        """A join still waiting, or refused (an expired, used-up or revoked
        link is only found out when a member's records arrive)."""
        waiting, refusal = await self._client.run(thread_ops.pending_join, thread_id)
        summary = self._selected
        if summary is None or summary.thread_id != thread_id or not (refusal or (waiting and not summary.can_read)):
            return
        self._show_thread_page(summary)
        self.thread_page.invite_button.hide()
        if refusal:
            self.thread_page.title.setText(self.tr("Could not join"))
            self.thread_page.status.setText(self.tr("{reason}. Ask the person who invited you for a new link; "
                                                    "you can leave this to remove it.").format(
                reason=refusal[:1].upper() + refusal[1:].rstrip(".")))
        elif waiting:
            self.thread_page.title.setText(self.tr("Joining…"))
            self.thread_page.status.setText(self.tr("Waiting for a member to be online to bring it over. "
                                                    "This happens by itself when you are both connected."))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        self._tasks.spawn(work)

    def _failed(self, error: BaseException) -> None:
        message = explain(error)
        self._show_error(message, expected=isinstance(error, ThreadsError))

    def _show_error(self, message: str, expected: bool = True) -> None:
        self.operation_failed.emit(message)
        self.statusBar().showMessage(message, 10_000)
        if not expected:
            # open(), not exec(): a nested modal loop inside an asyncio
            # callback would let qasync re-enter.
            box = QMessageBox(QMessageBox.Icon.Warning, self.tr("Something went wrong"), message,
                              QMessageBox.StandardButton.Ok, self)
            box.setTextFormat(Qt.TextFormat.PlainText)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()

    def hideEvent(self, event: Any) -> None:
        # Closing, hiding in the tray and quitting all pass here.
        self._settings.window_geometry = bytes(self.saveGeometry().data())  # bytes at run time; typed as any buffer
        super().hideEvent(event)

    def closeEvent(self, event: Any) -> None:
        # Reached when closing really closes (no tray to hide in, or that
        # setting off): the app ends, so ask first as Quit does.
        if self.album_view.current_import is not None and not self._quitting:
            event.ignore()
            self.request_quit()
            return
        self._tasks.cancel_all(close=True)
        self.diagnostics_action.cancel()
        self.album_view.cancel_work()
        self.chat_view.close()  # a child is not sent closeEvent with its window: its tasks stop here
        self._decoder.shutdown(wait=False, cancel_futures=True)
        super().closeEvent(event)
