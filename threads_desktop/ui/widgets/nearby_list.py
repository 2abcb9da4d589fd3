"""The sidebar's NEARBY section: who LAN discovery found lately, with a
context menu and double click to invite one of them to the selected album
or chat (the main window opens its invite dialog for that peer)."""

from __future__ import annotations

import time

from PySide6.QtCore import (
    QCoreApplication,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QFont, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QLabel,
    QListView,
    QMenu,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.models.nearby_model import NearbyFeed, NearbyModel, NearbyRole
from threads_desktop.ui.widgets.rows import paint_badge, paint_row_background, stable_colour

_BADGE = 26
_PADDING = 6
_MAX_VISIBLE_ROWS = 4  # the sidebar's albums and chats keep the room
_REPAINT_MS = 30_000  # "seen 3 min ago" ages while nobody announces anything
_COLOURS = ("#6d597a", "#355070", "#b56576", "#2a9d8f", "#e56b6f", "#4d908e", "#9c6644", "#577590")


def seen_text(last_seen: float, now: float) -> str:
    minutes = int(max(0.0, now - last_seen) // 60)
    if minutes < 1:
        return QCoreApplication.translate("NearbyList", "seen just now")
    return QCoreApplication.translate("NearbyList", "seen %1 min ago").replace("%1", str(minutes))


class NearbyItemDelegate(QStyledItemDelegate):
    """A round badge with the peer's initial, its name (or short ID) and when
    it was last seen."""

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return QSize(option.rect.width(), _BADGE + 2 * _PADDING)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        selected = paint_row_background(painter, option)
        palette = option.palette
        name = str(index.data(NearbyRole.NAME) or "")
        peer_id = str(index.data(NearbyRole.PEER_ID) or "")
        rect = option.rect
        initial = name[:1].upper() if index.data(NearbyRole.HAS_NAME) else "?"
        badge = paint_badge(painter, option, stable_colour(peer_id, _COLOURS), initial, size=_BADGE,
                            padding=_PADDING, radius=_BADGE / 2, pixel_size=12)

        left = badge.right() + _PADDING + 2
        width = rect.right() - left - _PADDING
        name_rect = QRect(left, rect.top() + _PADDING - 2, width, _BADGE // 2 + 2)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.setFont(option.font)
        painter.setPen(palette.color(role))
        painter.drawText(name_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         painter.fontMetrics().elidedText(name, Qt.TextElideMode.ElideRight, width))
        detail_font = QFont(option.font)
        detail_font.setPointSizeF(detail_font.pointSizeF() * 0.85)
        painter.setFont(detail_font)
        if not selected:
            painter.setPen(palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
        detail = seen_text(float(index.data(NearbyRole.LAST_SEEN) or 0.0), time.time())
        painter.drawText(name_rect.translated(0, _BADGE // 2 + 1), Qt.AlignmentFlag.AlignLeft
                         | Qt.AlignmentFlag.AlignVCenter,
                         painter.fontMetrics().elidedText(detail, Qt.TextElideMode.ElideRight, width))
        painter.restore()



def nearby_view(model: NearbyModel, parent: QWidget | None = None) -> QListView:
    """A list of nearby peers, painted by NearbyItemDelegate (the sidebar
    and the invite dialog show the same rows)."""
    view = QListView(parent)
    view.setModel(model)
    view.setItemDelegate(NearbyItemDelegate(view))
    view.setMouseTracking(True)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setUniformItemSizes(True)
    return view


class NearbyList(QWidget):
    """`invite_requested(peer_id)` asks the window to invite that peer to the
    album or chat selected; `set_invite_enabled(False)` while none is."""

    invite_requested = Signal(str)

    def __init__(self, client: EngineClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.feed = NearbyFeed(client, self)
        self.model = self.feed.model
        header = QLabel(self.tr("Nearby").upper())
        font = header.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 0.85)
        header.setFont(font)
        header.setToolTip(self.tr("People on this network running Threads"))
        self.view = nearby_view(self.model)
        self.view.setFrameShape(QFrame.Shape.NoFrame)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._show_menu)
        self.view.doubleClicked.connect(lambda index: self.request_invite(str(index.data(NearbyRole.PEER_ID))))
        self.empty_label = QLabel(self.tr("No one nearby"))
        small = self.empty_label.font()
        small.setPointSizeF(small.pointSizeF() * 0.9)
        self.empty_label.setFont(small)
        self.empty_label.setEnabled(False)  # muted, in the style's own disabled colour
        self.empty_label.setContentsMargins(2, 0, 0, 4)
        self.invite_action = QAction(self.tr("Invite to the selected album or chat…"), self)
        self.invite_action.triggered.connect(lambda: self.request_invite(self.selected_peer()))
        self.menu = QMenu(self)
        self.menu.addAction(self.invite_action)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(header)
        layout.addWidget(self.view)
        layout.addWidget(self.empty_label)
        for signal in (self.model.rowsInserted, self.model.rowsRemoved, self.model.modelReset):
            signal.connect(self._fit)
        self._fit()
        self._ages = QTimer(self)
        self._ages.timeout.connect(self.view.viewport().update)
        self._ages.start(_REPAINT_MS)

    def _fit(self) -> None:
        """As tall as its rows, up to a few; the empty text instead of none."""
        rows = self.model.rowCount()
        self.empty_label.setVisible(rows == 0)
        self.view.setVisible(rows > 0)
        self.view.setFixedHeight(min(rows, _MAX_VISIBLE_ROWS) * (_BADGE + 2 * _PADDING) + 2)

    def set_invite_enabled(self, enabled: bool) -> None:
        """Whether there is an album or chat to invite to (one is selected
        and we may invite to it)."""
        self.invite_action.setEnabled(enabled)

    def selected_peer(self) -> str | None:
        index = self.view.currentIndex()
        return str(index.data(NearbyRole.PEER_ID)) if index.isValid() else None

    def request_invite(self, peer_id: str | None) -> None:
        if peer_id and self.invite_action.isEnabled():
            self.invite_requested.emit(peer_id)

    def _show_menu(self, position: QPoint) -> None:
        index = self.view.indexAt(position)
        if not index.isValid():
            return
        self.view.setCurrentIndex(index)
        self.menu.popup(self.view.viewport().mapToGlobal(position))  # popup, not exec: never blocks the loop
