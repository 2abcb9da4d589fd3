"""A chat: its messages as bubbles, newest at the bottom, and a composer.

Everything it does goes through `EngineClient.run` with the functions of
`threads_desktop.ui.chat_ops`; it reloads when the engine says this chat's
messages, reactions or photos changed (push, never poll)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListView,
    QMenu,
    QMessageBox,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from threads_desktop.engine.core.types import ChangeSet, ItemActions, ThreadKind, ThreadSummary
from threads_desktop.ui.dialogs.photo_dialog import PhotoDialog
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.models.message_list_model import MessageListModel, MessageRole
from threads_desktop.ui.operations import chat as chat_ops
from threads_desktop.ui.operations import notices as notice_ops
from threads_desktop.ui.operations.chat import PAGE_SIZE, ChatPage
from threads_desktop.ui.pictures import fitted_thumbnail
from threads_desktop.ui.refusals import explain
from threads_desktop.ui.tasks import Tasks
from threads_desktop.ui.views.chat_reading import ChatReading
from threads_desktop.ui.views.chat_writing import ChatWriting
from threads_desktop.ui.widgets.chat_composer import ChatComposer
from threads_desktop.ui.widgets.message_delegate import THUMB, MessageDelegate
from threads_desktop.ui.widgets.removal_banner import RemovalBanner

_LIVE_COLLECTIONS = frozenset({"message", "reaction", "photo", "member_profile"})
_AT_BOTTOM_SLACK = 8  # pixels: "at the bottom" survives a rounding of the scroll range
_ERROR_STYLE = "color: #b3261e"
_CLOSE = "\N{MULTIPLICATION SIGN}"  # closes a bar (a cross, not the letter x)


class ChatView(ChatWriting, ChatReading, QWidget):
    """The chat's widgets, loading and live updates; writing is in
    views/chat_writing.py, the read marker in views/chat_reading.py."""

    messages_loaded = Signal()  # after every (re)load of the list
    message_sent = Signal(str)  # message ID
    message_edited = Signal(str)
    message_deleted = Signal(str)
    reaction_toggled = Signal(str, str, bool)  # message ID, emoji, on
    marked_read = Signal(int)  # messages still unread after marking
    rights_checked = Signal()  # the thread's rights were asked again (after a grant, a role change, a message)
    failed = Signal(str)
    members_requested = Signal()
    invite_requested = Signal()
    membership_loaded = Signal()  # the notices and the removal banner are up to date

    def __init__(self, client: EngineClient, parent: QWidget | None = None, *,
                 decoder: Executor | None = None) -> None:
        super().__init__(parent)
        self._client = client
        # Attachments' thumbnails are decoded here, never on the GUI thread.
        self._own_decoder: ThreadPoolExecutor | None = None
        if decoder is None:
            decoder = self._own_decoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chat-decode")
        self._decoder: Executor = decoder
        self._tasks = Tasks(self._failed)
        self._summary: ThreadSummary | None = None
        self._reply_to: str | None = None
        self._editing: str | None = None
        self._attachments: list[Path] = []
        self._read_up_to = b""
        self._actions: dict[str, ItemActions] = {}
        self._sending = False
        self._loading_older = False
        self._membership_asked = 0  # the newest membership load: an older answer is dropped
        self._reload_pending = False
        # What the next load reads: the page again, or only the messages (and
        # reactions) change sets named since the last one.
        self._load_whole = False
        self._changed_messages: set[str] = set()
        self._changed_reactions: set[str] = set()
        self._scroll_to_end_next = False
        self._load_lock = asyncio.Lock()
        # Which opening of a chat a load belongs to: each opening empties the list
        # (switching to another chat and back, say), so an answer asked for before
        # must not land in it.
        self._opening = 0
        self._closed = False
        self.unread_count = 0
        self.context_menu: QMenu | None = None
        self.confirm_box: QMessageBox | None = None
        self.photo_dialog: PhotoDialog | None = None
        self.model = MessageListModel()
        self._build()
        self.setAcceptDrops(True)
        self._read_timer = QTimer(self)
        self._read_timer.setSingleShot(True)
        self._read_timer.setInterval(250)  # settle after scrolling before writing a marker
        self._read_timer.timeout.connect(self._mark_visible_read)
        client.changed.connect(self._on_engine_changed)

    # --- construction ---------------------------------------------------------------

    def _build(self) -> None:
        self.title = QLabel()
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.3)
        self.title.setFont(font)
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setVisible(False)

        self.list = QListView()
        self.list.setModel(self.model)
        self.delegate = MessageDelegate(self.list)
        self.delegate.reaction_clicked.connect(self.toggle_reaction)
        self.delegate.photo_opened.connect(self.open_photo)
        self.list.setItemDelegate(self.delegate)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.setResizeMode(QListView.ResizeMode.Adjust)  # bubbles re-wrap to the new width
        self.list.setFrameShape(QFrame.Shape.NoFrame)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._on_context_menu)
        self.list.activated.connect(lambda index: self.open_photo(str(index.data(MessageRole.MESSAGE_ID)), 0))
        self.list.verticalScrollBar().valueChanged.connect(self._on_scrolled)
        self.model.older_requested.connect(lambda: self._spawn(self._load_older()))

        self.mode_bar = QFrame()
        self.mode_bar.setFrameShape(QFrame.Shape.StyledPanel)
        mode = QHBoxLayout(self.mode_bar)
        mode.setContentsMargins(8, 2, 2, 2)
        self.mode_label = QLabel()
        self.mode_cancel = QToolButton()
        self.mode_cancel.setText(_CLOSE)
        self.mode_cancel.setAutoRaise(True)
        self.mode_cancel.setAccessibleName(self.tr("Cancel"))
        self.mode_cancel.clicked.connect(self.cancel_mode)
        mode.addWidget(self.mode_label, 1)
        mode.addWidget(self.mode_cancel)
        self.mode_bar.setVisible(False)

        self.attachment_bar = QFrame()
        attachments = QHBoxLayout(self.attachment_bar)
        attachments.setContentsMargins(8, 2, 2, 2)
        self.attachment_label = QLabel()
        self.attachment_clear = QToolButton()
        self.attachment_clear.setText(_CLOSE)
        self.attachment_clear.setAutoRaise(True)
        self.attachment_clear.setAccessibleName(self.tr("Remove the photos"))
        self.attachment_clear.clicked.connect(self.clear_attachments)
        attachments.addWidget(self.attachment_label, 1)
        attachments.addWidget(self.attachment_clear)
        self.attachment_bar.setVisible(False)

        self.error = QLabel()
        self.error.setStyleSheet(_ERROR_STYLE)
        self.error.setWordWrap(True)
        self.error.setVisible(False)

        # Text from peers (names, messages) is never read as rich text.
        for label in (self.title, self.notice, self.mode_label, self.attachment_label, self.error):
            label.setTextFormat(Qt.TextFormat.PlainText)

        self.attach_button = QToolButton()
        self.attach_button.setText("📎")
        self.attach_button.setAccessibleName(self.tr("Attach photos"))
        self.attach_button.clicked.connect(self.ask_attach)
        self.composer = ChatComposer()
        self.composer.setFixedHeight(64)
        self.composer.submitted.connect(self.send)
        self.composer.cancelled.connect(self.cancel_mode)
        self.composer.files_dropped.connect(self.attach)
        self.send_button = QPushButton(self.tr("Send"))
        self.send_button.clicked.connect(self.send)
        compose = QHBoxLayout()
        compose.addWidget(self.attach_button, 0, Qt.AlignmentFlag.AlignBottom)
        compose.addWidget(self.composer, 1)
        compose.addWidget(self.send_button, 0, Qt.AlignmentFlag.AlignBottom)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        self.members_button = QPushButton(self.tr("Members…"))
        self.members_button.clicked.connect(self.members_requested)
        self.invite_button = QPushButton(self.tr("Invite…"))
        self.invite_button.clicked.connect(self.invite_requested)
        header.addWidget(self.members_button)
        header.addWidget(self.invite_button)
        layout.addLayout(header)
        self.removal_banner = RemovalBanner()
        self.removal_banner.remove_requested.connect(self.remove_from_device)
        layout.addWidget(self.removal_banner)
        layout.addWidget(self.notice)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.error)
        layout.addWidget(self.mode_bar)
        layout.addWidget(self.attachment_bar)
        layout.addLayout(compose)
        self._apply_rights()

    def _on_context_menu(self, pos: QPoint) -> None:
        index = self.list.indexAt(pos)
        if not index.isValid():
            return
        menu = self.menu_for(index.row())
        if menu is not None:
            menu.popup(self.list.viewport().mapToGlobal(pos))

    # --- opening a chat -------------------------------------------------------------------

    def show_thread(self, summary: ThreadSummary) -> None:
        """Switch to that chat and load its newest messages."""
        self._summary = summary
        self._opening += 1
        self._reply_to = self._editing = None
        self._attachments = []
        # A reload queued for the previous opening ends without clearing these:
        # cleared here, or later change sets would never start a load.
        self._reload_pending = self._load_whole = self._scroll_to_end_next = False
        self._changed_messages, self._changed_reactions = set(), set()
        self._read_up_to = b""
        self.unread_count = 0
        self._actions = {}
        self.composer.clear()
        self._show_error("")
        self._update_bars()
        self.model.clear()
        self.title.setText(summary.name or self.tr("Chat"))
        self.removal_banner.show_removal(None, ThreadKind.CHAT)
        self._apply_rights()
        self._spawn(self._open(summary, self._opening))
        self._spawn(self._load_membership(summary))

    @property
    def current_thread(self) -> ThreadSummary | None:  # not `thread`: QObject.thread() is Qt's
        return self._summary

    def set_names(self, names: dict[str, str]) -> None:
        """Display names by author (an author is its log ID in the thread)."""
        self.model.set_names(names)
        self._update_bars()

    async def _open(self, summary: ThreadSummary, opening: int) -> None:
        if not summary.can_read:
            self.messages_loaded.emit()  # nothing to show: a follower holds no key to read it
            return
        async with self._load_lock:
            if self._opened_since(opening):
                return
            page = await self._client.run(chat_ops.load_page, summary.thread_id, None, PAGE_SIZE, frozenset())
            if self._opened_since(opening):
                return
            self._take_page(page)
            self.model.set_unread_from(self._first_unread(page))
            self.list.doItemsLayout()
            marker = self.model.unread_marker_row()
            if marker >= 0:
                self.list.scrollTo(self.model.index(marker), QAbstractItemView.ScrollHint.PositionAtTop)
            else:
                self.list.scrollToBottom()
        self.messages_loaded.emit()
        self._read_timer.start()

    def _first_unread(self, page: ChatPage) -> str | None:
        for item in page.messages:
            if not item.mine and item.created > page.read_up_to:
                return item.id
        return None

    def _take_page(self, page: ChatPage) -> None:
        """Show a loaded page: its names, messages, what each offers, thumbnails and read state."""
        self.model.set_names(page.names)
        self.model.set_page(page)
        self._actions.update(page.actions)
        self._decode_thumbnails(page.thumbnails)
        self._take_read_state(page)

    def _take_read_state(self, page: ChatPage) -> None:
        # Our own marker write may be newer than what a load started earlier saw.
        self._read_up_to = max(self._read_up_to, page.read_up_to)
        self.unread_count = page.unread

    def _is_current(self, summary: ThreadSummary) -> bool:
        return self._summary is not None and self._summary.thread_id == summary.thread_id

    def _opened_since(self, opening: int) -> bool:
        """A chat was opened (the list emptied) since the load that began at `opening`."""
        return opening != self._opening

    # --- live updates ---------------------------------------------------------------------

    def _on_engine_changed(self, changes: ChangeSet) -> None:
        summary = self._summary
        if summary is None:
            return
        named = {collection: {d for t, c, d in changes.documents if t == summary.thread_id and c == collection}
                 for collection in _LIVE_COLLECTIONS}
        reloads = any(named.values())
        if summary.thread_id in changes.threads_updated or summary.thread_id in changes.threads_added:
            # A grant or a revocation changes what we may do. When messages changed too, the reload
            # below brings each shown message's actions with its page: no need to ask for them twice.
            self._spawn(self._refresh_rights(summary, with_actions=not reloads))
        if summary.thread_id in changes.membership or named["member_profile"]:
            self._spawn(self._load_membership(summary))  # an ACL event settled (a notice), or a name
        if named["photo"] or named["member_profile"]:
            self.reload()  # a photo's thumbnail, a name: rare, and shown by reading the page again
        elif named["message"] or named["reaction"]:
            # Only the messages named (and those quoting them) are read again.
            self._queue_load(messages=named["message"], reactions=named["reaction"])

    def reload(self) -> None:
        """Reload what is shown (coalesced: one reload waits at most)."""
        self._queue_load(whole=True)

    def _queue_load(self, *, whole: bool = False, messages: set[str] | None = None,
                    reactions: set[str] | None = None) -> None:
        if self._summary is None:
            return
        self._load_whole |= whole
        self._changed_messages |= messages or set()
        self._changed_reactions |= reactions or set()
        if self._reload_pending:
            return
        self._reload_pending = True
        self._spawn(self._reload(self._opening))

    async def _reload(self, opening: int) -> None:
        async with self._load_lock:
            if self._opened_since(opening):
                return  # what it was to read belongs to a list emptied since (see show_thread)
            self._reload_pending = False
            whole, messages, reactions = self._load_whole, self._changed_messages, self._changed_reactions
            self._load_whole, self._changed_messages, self._changed_reactions = False, set(), set()
            # The summary as it is now: a grant of read access may have come while this waited.
            summary = self._summary
            if summary is None or not summary.can_read:
                return
            oldest = self.model.oldest_stamp()
            if whole or oldest is None:
                page = await self._client.run(chat_ops.load_page, summary.thread_id, oldest,
                                              0 if oldest else PAGE_SIZE, self.model.known_photos())
            else:
                messages |= self.model.replies_to(messages)  # their quotes change with them
                page = await self._client.run(chat_ops.load_page, summary.thread_id, None, 0,
                                              self.model.known_photos(),
                                              chat_ops.ChangedMessages(frozenset(messages), frozenset(reactions)))
            if self._opened_since(opening):
                return
            bar = self.list.verticalScrollBar()
            at_bottom = bar.value() >= bar.maximum() - _AT_BOTTOM_SLACK
            self._take_page(page)
            self.list.doItemsLayout()
            if at_bottom or self._scroll_to_end_next:
                self.list.scrollToBottom()
            self._scroll_to_end_next = False
            if self._editing is not None and self.model.row_of(self._editing) < 0:
                self.cancel_mode()  # deleted meanwhile (by us elsewhere, or a member with delete)
        self.messages_loaded.emit()
        self._read_timer.start()

    async def _load_membership(self, summary: ThreadSummary) -> None:
        """The membership notices (rows between the messages) and whether we were removed."""
        self._membership_asked += 1
        asked = self._membership_asked
        notices = await self._client.run(notice_ops.load_notices, summary.thread_id)
        removal = await self._client.run(notice_ops.load_removal, summary.thread_id)
        if not self._is_current(summary) or asked != self._membership_asked:
            return  # another chat, or a newer answer is on its way
        self.model.set_notices(notices)
        self.removal_banner.show_removal(removal, ThreadKind.CHAT)
        self.membership_loaded.emit()

    def remove_from_device(self) -> None:
        """Delete the chat we were removed from, here, at once."""
        if self._summary is not None:
            self._spawn(self._client.run(notice_ops.remove_from_device, self._summary.thread_id))

    async def _load_older(self) -> None:
        summary, opening = self._summary, self._opening
        if summary is None or self._loading_older or not self.model.has_older:
            return
        self._loading_older = True
        try:
            async with self._load_lock:
                oldest = self.model.oldest_stamp()
                if self._opened_since(opening) or oldest is None:
                    return
                page = await self._client.run(chat_ops.load_page, summary.thread_id, oldest,
                                              PAGE_SIZE, self.model.known_photos())
                if self._opened_since(opening):
                    return
                bar = self.list.verticalScrollBar()
                from_bottom = bar.maximum() - bar.value()
                self._take_page(page)
                self.list.doItemsLayout()
                bar.setValue(bar.maximum() - from_bottom)  # the rows added above leave the view where it was
        finally:
            self._loading_older = False
        self.messages_loaded.emit()

    async def _refresh_rights(self, summary: ThreadSummary, with_actions: bool) -> None:
        fresh = await self._client.run(chat_ops.thread_summary, summary.thread_id)
        if self._is_current(summary):
            changed_access = fresh.can_read != summary.can_read
            self._summary = fresh
            self.title.setText(fresh.name or self.tr("Chat"))
            self._apply_rights()
            if changed_access:
                self.reload()
            if fresh.can_write and not summary.can_write:
                self._read_timer.start()  # a joiner may write its read marker from now on
        if not with_actions:  # the reload started with it brings what each message offers
            if self._is_current(summary):
                self.rights_checked.emit()
            return
        if self._is_current(summary) and fresh.can_read:  # a role change alters what each message offers
            shown = [message.id for message in self.model.messages()]
            actions = await self._client.run(chat_ops.message_actions, summary.thread_id, shown)
            if self._is_current(summary):
                self._actions.update(actions)  # a page loaded meanwhile brought its own, as fresh
                self.rights_checked.emit()

    def _on_scrolled(self, value: int) -> None:
        bar = self.list.verticalScrollBar()
        if value == bar.minimum() and bar.maximum() > bar.minimum():
            self.model.request_older()
        self._read_timer.start()

    # --- tasks and errors -------------------------------------------------------------------

    def _show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))

    def _decode_thumbnails(self, thumbnails: dict[str, bytes]) -> None:
        if thumbnails:
            self._spawn(self._decode(thumbnails))

    async def _decode(self, thumbnails: dict[str, bytes]) -> None:
        loop = asyncio.get_running_loop()
        ids = list(thumbnails)
        edge = round(THUMB * (self.devicePixelRatioF() or 1.0))
        images = await loop.run_in_executor(
            self._decoder, lambda: [fitted_thumbnail(thumbnails[i], edge) for i in ids])
        self.model.set_thumbnails(dict(zip(ids, images, strict=True)))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        self._tasks.spawn(work)  # a closed view starts nothing: it may be deleted before a task ends

    def _failed(self, error: BaseException) -> None:
        message = explain(error)
        self._show_error(message)
        self.failed.emit(message)

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self._read_timer.start()  # what was loaded while hidden is seen now

    def closeEvent(self, event: Any) -> None:
        self._closed = True
        self._read_timer.stop()
        self._client.changed.disconnect(self._on_engine_changed)
        self._tasks.cancel_all(close=True)
        if self._own_decoder is not None:
            self._own_decoder.shutdown(wait=False, cancel_futures=True)
        super().closeEvent(event)

    def message_rows(self, *, with_notices: bool = False) -> list[dict[str, Any]]:
        """What the list shows, row by row (for tests and accessibility
        checks): the messages, or with the membership notices between them
        (`notice` holds a notice's words, None for a message; `row` is the model's row)."""
        roles = {"id": MessageRole.MESSAGE_ID, "author": MessageRole.AUTHOR_NAME, "text": MessageRole.TEXT,
                 "edited": MessageRole.EDITED, "mine": MessageRole.MINE, "quote": MessageRole.REPLY_QUOTE,
                 "reactions": MessageRole.REACTIONS, "unread_marker": MessageRole.UNREAD_MARKER,
                 "thumbnails": MessageRole.THUMBNAILS, "notice": MessageRole.NOTICE}
        rows = [{"row": row} | {name: self.model.index(row).data(role) for name, role in roles.items()}
                for row in range(self.model.rowCount())]
        return rows if with_notices else [row for row in rows if row["notice"] is None]
