"""An album's activity: its membership notices, newest first, in a compact
side panel the user opens from the album ("Activity"). Loaded when opened."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from threads_desktop.engine.acl.notices import ThreadNotices
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.ui.moments import full_time, short_time
from threads_desktop.ui.notices import notice_text
from threads_desktop.ui.widgets.message_delegate import small_font

WIDTH = 260
_PAD = 6
_WHEN = Qt.ItemDataRole.UserRole + 1  # the notice's time, shown muted under its words
_Index = QModelIndex | QPersistentModelIndex
_WRAP = Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap


class _NoticeDelegate(QStyledItemDelegate):
    """The notice's words (wrapped), and its time small and muted below."""

    def _rects(self, option: QStyleOptionViewItem, index: _Index) -> tuple[QRect, QRect]:
        width = max(1, option.rect.width() - 2 * _PAD)
        words = QFontMetrics(option.font).boundingRect(QRect(0, 0, width, 10_000), _WRAP, str(index.data()))
        when = QRect(_PAD, _PAD + words.height() + 2, width, QFontMetrics(small_font(option.font)).height())
        return QRect(_PAD, _PAD, width, words.height()), when

    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        _words, when = self._rects(option, index)
        return QSize(option.rect.width(), when.bottom() + _PAD)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        words, when = self._rects(option, index)
        text = option.palette.color(QPalette.ColorRole.Text)
        muted = option.palette.color(QPalette.ColorRole.Text)
        muted.setAlphaF(0.6)
        painter.save()
        painter.translate(option.rect.topLeft())
        painter.setPen(text)
        painter.setFont(option.font)
        painter.drawText(words, _WRAP, str(index.data()))
        painter.setPen(muted)
        painter.setFont(small_font(option.font))
        painter.drawText(when, Qt.AlignmentFlag.AlignLeft, str(index.data(_WHEN) or ""))
        painter.restore()


class ActivityPanel(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setFixedWidth(WIDTH)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        title = QLabel(self.tr("Activity"))
        font = title.font()
        font.setBold(True)
        title.setFont(font)
        layout.addWidget(title)
        self.list = QListWidget()
        self.list.setFrameShape(QFrame.Shape.NoFrame)
        self.list.setSelectionMode(QListWidget.SelectionMode.NoSelection)
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.list.setVerticalScrollMode(QListWidget.ScrollMode.ScrollPerPixel)
        self.list.setItemDelegate(_NoticeDelegate(self.list))
        layout.addWidget(self.list, 1)
        self.empty = QLabel(self.tr("Nobody has joined or left yet."))
        self.empty.setWordWrap(True)
        self.empty.setVisible(False)
        layout.addWidget(self.empty)
        self.setVisible(False)

    def show_notices(self, notices: ThreadNotices) -> None:
        self.list.clear()
        for notice in reversed(notices.notices):  # newest first
            item = QListWidgetItem(notice_text(notice, notices.names, notices.me, ThreadKind.ALBUM))
            item.setData(_WHEN, short_time(notice.at_ms))
            item.setToolTip(full_time(notice.at_ms))
            self.list.addItem(item)
        self.empty.setVisible(not notices.notices)

    def texts(self) -> list[str]:
        """The notices' words as listed, newest first (for tests and accessibility checks)."""
        return [self.list.item(row).text() for row in range(self.list.count())]
