"""The messages of one chat as a list model with named roles, oldest first.

The model holds the newest page of messages; the view asks for older ones
(`has_older`, `older_requested`) when scrolled to the top. Qt's own
canFetchMore/fetchMore is not used: a list view calls it whenever its last
row is visible, which in a chat (kept at the bottom) would page in the whole
history at once.

Membership notices ("Bob joined (invited by Alice)") are rows too, between
the messages by stamp (`MessageRole.NOTICE` holds their words; the
delegate paints them centred and small). Only those no older than the
oldest message shown are rows: older ones come with their page."""

from __future__ import annotations

import bisect
import enum
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractListModel, QByteArray, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QImage

from threads_desktop.engine.acl.notices import MembershipNotice, ThreadNotices
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.ui.moments import full_time, short_time
from threads_desktop.ui.notices import notice_text
from threads_desktop.ui.operations.chat import ChatPage, MessageItem
from threads_desktop.ui.people import short_id

_Index = QModelIndex | QPersistentModelIndex


class MessageRole(enum.IntEnum):
    MESSAGE_ID = Qt.ItemDataRole.UserRole + 1
    AUTHOR = enum.auto()  # the author's log ID
    AUTHOR_NAME = enum.auto()  # a display name, or the short ID
    AUTHOR_PERSON = enum.auto()  # the author's person (its member ID): the same on all of its devices
    TEXT = enum.auto()
    TIME = enum.auto()  # "14:05", or with the date when not today
    CREATED_MS = enum.auto()
    EDITED = enum.auto()
    MINE = enum.auto()
    REPLY_TO = enum.auto()
    REPLY_AUTHOR_NAME = enum.auto()
    REPLY_QUOTE = enum.auto()  # first line of the quoted message ("" for a photo-only one)
    PHOTO_IDS = enum.auto()
    THUMBNAILS = enum.auto()  # list[QImage | None], one per photo (None: not here yet)
    REACTIONS = enum.auto()  # list[Reaction]
    UNREAD_MARKER = enum.auto()  # the "New messages" line goes above this row
    ITEM = enum.auto()  # the MessageItem (or NoticeItem)
    NOTICE = enum.auto()  # a membership notice's words; None for a message


@dataclass(frozen=True, slots=True)
class NoticeItem:
    """A membership notice as a row: ordered with messages by its event's stamp."""

    id: str
    created: bytes
    notice: MembershipNotice

    @property
    def created_ms(self) -> int:
        return self.notice.at_ms


Row = MessageItem | NoticeItem


def notice_items(notices: ThreadNotices) -> list[NoticeItem]:
    # One event may tell several things, even of one member (a role changed, admin
    # rights taken): rows are ordered by (stamp, id), so the id keeps the engine's order.
    items: list[NoticeItem] = []
    told = 0  # notices before this one with its stamp (they come together: sorted by stamp)
    for n in notices.notices:
        told = told + 1 if items and items[-1].created == n.stamp else 0
        items.append(NoticeItem(f"notice/{n.stamp.hex()}/{told:03d}/{n.kind}/{n.subject}/{n.entity or ''}",
                                n.stamp, n))
    return items


class MessageListModel(QAbstractListModel):
    older_requested = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._items: list[Row] = []
        self._notices: list[NoticeItem] = []
        self._notice_names: dict[str, str] = {}  # peer ID -> name, for notices
        self._me_member = ""  # our peer ID, for notices
        self._names: dict[str, str] = {}
        self._thumbnails: dict[str, QImage] = {}
        self._unread_from: str | None = None
        self._me: str | None = None
        self._devices: dict[str, str] = {}  # author -> device name, for persons on more than one
        self._persons: dict[str, str] = {}  # author -> its person
        self._my_logs: frozenset[str] = frozenset()  # ours and our other devices' logs: "You"
        self.total = 0

    # --- Qt's model API -------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's name
        return 0 if parent.isValid() else len(self._items)

    def roleNames(self) -> dict[int, QByteArray]:
        return {role.value: QByteArray(role.name.lower().encode()) for role in MessageRole} | {
            Qt.ItemDataRole.DisplayRole.value: QByteArray(b"display")}

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item = self._items[index.row()]
        if isinstance(item, NoticeItem):
            return self._notice_data(item, role)
        if role == MessageRole.NOTICE:
            return None
        if role in (Qt.ItemDataRole.DisplayRole, MessageRole.TEXT):
            return item.text
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(item)
        if role == MessageRole.MESSAGE_ID:
            return item.id
        if role == MessageRole.AUTHOR:
            return item.author
        if role == MessageRole.AUTHOR_NAME:
            return self.name_of(item.author)
        if role == MessageRole.AUTHOR_PERSON:
            return self._persons.get(item.author, item.author)
        if role == MessageRole.TIME:
            return short_time(item.created_ms)  # the same form as a photo's comments
        if role == MessageRole.CREATED_MS:
            return item.created_ms
        if role == MessageRole.EDITED:
            return item.edited
        if role == MessageRole.MINE:
            return item.mine
        if role == MessageRole.REPLY_TO:
            return item.reply_to
        if role == MessageRole.REPLY_AUTHOR_NAME:
            return self.name_of(item.reply_author) if item.reply_author else None
        if role == MessageRole.REPLY_QUOTE:
            return item.reply_quote
        if role == MessageRole.PHOTO_IDS:
            return list(item.photos)
        if role == MessageRole.THUMBNAILS:
            return [image if image is not None and not image.isNull() else None
                    for image in (self._thumbnails.get(photo_id) for photo_id in item.photos)]
        if role == MessageRole.REACTIONS:
            return list(item.reactions)
        if role == MessageRole.UNREAD_MARKER:
            return item.id == self._unread_from
        if role == MessageRole.ITEM:
            return item
        return None

    def _tooltip(self, item: MessageItem) -> str | None:
        """When it was written (locale-aware, as a comment's), and from which
        device when its person writes here from more than one."""
        when = full_time(item.created_ms)
        device = self._devices.get(item.author)
        if device is None:
            return when or None
        source = (self.tr("from “%1”").replace("%1", device) if device else self.tr("from their first device"))
        return f"{when}\n{source}" if when else source

    def _notice_data(self, item: NoticeItem, role: int) -> Any:
        if role in (Qt.ItemDataRole.DisplayRole, MessageRole.TEXT, MessageRole.NOTICE):
            return notice_text(item.notice, self._notice_names, self._me_member, ThreadKind.CHAT)
        if role == Qt.ItemDataRole.ToolTipRole:
            return full_time(item.created_ms) or None
        if role == MessageRole.MESSAGE_ID:
            return item.id
        if role == MessageRole.CREATED_MS:
            return item.created_ms
        if role == MessageRole.TIME:
            return short_time(item.created_ms)
        if role in (MessageRole.MINE, MessageRole.EDITED, MessageRole.UNREAD_MARKER):
            return False
        if role == MessageRole.ITEM:
            return item
        return None

    # --- what the view reads ----------------------------------------------------------

    @property
    def has_older(self) -> bool:
        return self.total > len(self.messages())

    def request_older(self) -> None:
        if self.has_older:
            self.older_requested.emit()

    def item(self, row: int) -> Row:
        return self._items[row]

    def message(self, row: int) -> MessageItem | None:
        """The message at a row; None for a notice."""
        item = self._items[row]
        return item if isinstance(item, MessageItem) else None

    def messages(self) -> list[MessageItem]:
        return [item for item in self._items if isinstance(item, MessageItem)]

    def oldest_stamp(self) -> bytes | None:
        """The stamp of the oldest message shown (pages are counted in messages)."""
        shown = self.messages()
        return shown[0].created if shown else None

    def row_of(self, message_id: str) -> int:
        for row, item in enumerate(self._items):
            if item.id == message_id:
                return row
        return -1

    def replies_to(self, message_ids: set[str]) -> set[str]:
        """The messages shown that quote one of these."""
        return {item.id for item in self.messages() if item.reply_to in message_ids}

    def name_of(self, author: str) -> str:
        if author == self._me or author in self._my_logs:
            return self.tr("You")
        return self._names.get(author) or short_id(author)

    def known_photos(self) -> frozenset[str]:
        return frozenset(self._thumbnails)

    def unread_marker_row(self) -> int:
        return -1 if self._unread_from is None else self.row_of(self._unread_from)

    # --- updates ------------------------------------------------------------------------

    def set_names(self, names: dict[str, str]) -> None:
        self._names = dict(names)
        self._all_changed()

    def set_unread_from(self, message_id: str | None) -> None:
        """The first unread message when the chat was opened: the marker stays
        there while the chat is shown, as in other messengers."""
        old, self._unread_from = self.row_of(self._unread_from) if self._unread_from else -1, message_id
        for row in (old, self.row_of(message_id) if message_id else -1):
            if row >= 0:
                self.dataChanged.emit(self.index(row), self.index(row))

    def clear(self) -> None:
        self.beginResetModel()
        self._items, self._thumbnails, self._unread_from, self._me, self.total = [], {}, None, None, 0
        self._notices, self._notice_names, self._me_member = [], {}, ""
        self.endResetModel()

    def set_notices(self, notices: ThreadNotices) -> None:
        """The thread's membership notices: those gone leave, new ones go
        where their stamp puts them (none older than the oldest message shown
        while older messages are still to be paged in)."""
        self._notice_names, self._me_member = dict(notices.names), notices.me
        self._notices = notice_items(notices)
        wanted = {item.id for item in self._notices_from(self.oldest_stamp(), self.has_older)}
        for row in range(len(self._items) - 1, -1, -1):
            item = self._items[row]
            if isinstance(item, NoticeItem) and item.id not in wanted:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._items[row]
                self.endRemoveRows()
        shown = {item.id for item in self._items}
        for notice in self._notices:
            if notice.id in wanted and notice.id not in shown:
                row = bisect.bisect([(item.created, item.id) for item in self._items], (notice.created, notice.id))
                self.beginInsertRows(QModelIndex(), row, row)
                self._items.insert(row, notice)
                self.endInsertRows()
        self._all_changed()  # names may have changed

    def _notices_from(self, oldest: bytes | None, older_hidden: bool) -> list[NoticeItem]:
        """The notices that are rows: all, or while older messages are still
        to be paged in, those no older than the oldest message shown."""
        if not older_hidden:
            return list(self._notices)
        return [n for n in self._notices if oldest is not None and n.created >= oldest]

    def _with_notices(self, messages: list[MessageItem]) -> list[Row]:
        notices = self._notices_from(messages[0].created if messages else None, self.total > len(messages))
        return sorted([*messages, *notices], key=lambda item: (item.created, item.id))

    def set_page(self, page: ChatPage) -> None:
        """Show `page` as a minimal change when it only grew at either end
        (older messages paged in, new ones arrived), so the view keeps its
        place; otherwise reset."""
        older_hidden = self.has_older  # as it was before these changes
        self.total = page.total
        self._me = page.me
        self._devices = dict(page.devices)
        self._persons = dict(page.persons)
        self._my_logs = page.my_logs
        if page.partial:
            self._take_changed(page, older_hidden)
            return
        new = self._with_notices(list(page.messages))
        old_ids = [item.id for item in self._items]
        new_ids = [item.id for item in new]
        if not old_ids or not new_ids:
            self.beginResetModel()
            self._items = new
            self.endResetModel()
            return
        try:
            start = new_ids.index(old_ids[0])
        except ValueError:
            start = -1
        if start < 0 or new_ids[start:start + len(old_ids)] != old_ids:
            self.beginResetModel()
            self._items = new
            self.endResetModel()
            return
        if start:
            self.beginInsertRows(QModelIndex(), 0, start - 1)
            self._items[:0] = new[:start]
            self.endInsertRows()
        changed = [row for row in range(start, start + len(old_ids)) if self._items[row] != new[row]]
        self._items[start:start + len(old_ids)] = new[start:start + len(old_ids)]
        for row in changed:
            self.dataChanged.emit(self.index(row), self.index(row))
        if len(new) > len(self._items):
            self.beginInsertRows(QModelIndex(), len(self._items), len(new) - 1)
            self._items.extend(new[len(self._items):])
            self.endInsertRows()

    def _take_changed(self, page: ChatPage, older_hidden: bool) -> None:
        """Only the messages a change set named: those gone leave, the others
        are replaced in place or inserted where their time puts them (one
        older than every message shown waits for its page to be loaded)."""
        gone = frozenset(page.gone)
        for row in range(len(self._items) - 1, -1, -1):
            if self._items[row].id in gone:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._items[row]
                self.endRemoveRows()
        for item in page.messages:
            row = self.row_of(item.id)
            if row >= 0:
                if self._items[row] != item:
                    self._items[row] = item
                    self.dataChanged.emit(self.index(row), self.index(row))
                continue
            keys = [(shown.created, shown.id) for shown in self._items]
            row = bisect.bisect(keys, (item.created, item.id))
            if row == 0 and older_hidden:
                continue
            self.beginInsertRows(QModelIndex(), row, row)
            self._items.insert(row, item)
            self.endInsertRows()

    def set_thumbnails(self, images: dict[str, QImage]) -> None:
        """Attachments' thumbnails, decoded off the GUI thread (a null image:
        one that cannot be shown, never asked for again)."""
        self._thumbnails.update(images)
        if images:
            self._all_changed()

    def _all_changed(self) -> None:
        if self._items:
            self.dataChanged.emit(self.index(0), self.index(len(self._items) - 1))
