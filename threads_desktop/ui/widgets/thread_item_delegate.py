"""Paints a sidebar row: a coloured badge with the thread's initial, its name,
and a second line with its kind and size."""

from __future__ import annotations

import hashlib

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPalette
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from threads_desktop.ui.models.thread_list_model import ThreadRole

_BADGE = 34
_PADDING = 8
_BADGE_COLOURS = ("#e76f51", "#2a9d8f", "#457b9d", "#8d6cab", "#e9a23b", "#4d908e", "#c05780", "#577590")


class ThreadItemDelegate(QStyledItemDelegate):
    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return QSize(option.rect.width(), _BADGE + 2 * _PADDING)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        palette = option.palette
        if selected:
            painter.fillRect(option.rect, palette.color(QPalette.ColorRole.Highlight))
        elif option.state & QStyle.StateFlag.State_MouseOver:
            painter.fillRect(option.rect, palette.color(QPalette.ColorRole.AlternateBase))

        name = str(index.data(ThreadRole.NAME) or "")
        kind = str(index.data(ThreadRole.KIND) or "")
        items = int(index.data(ThreadRole.ITEM_COUNT) or 0)
        rect = option.rect
        badge = QRect(rect.left() + _PADDING, rect.top() + _PADDING, _BADGE, _BADGE)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(_badge_colour(str(index.data(ThreadRole.THREAD_ID)))))
        radius = 8 if kind == "album" else _BADGE / 2  # albums square-ish, chats round
        painter.drawRoundedRect(badge, radius, radius)
        badge_font = QFont(option.font)
        badge_font.setBold(True)
        badge_font.setPixelSize(15)
        painter.setFont(badge_font)
        painter.setPen(QColor("white"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, (name[:1] or "?").upper())

        text_left = badge.right() + _PADDING + 2
        text_rect = QRect(text_left, rect.top() + _PADDING - 1, rect.right() - text_left - _PADDING, _BADGE // 2 + 2)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        name_font = QFont(option.font)
        name_font.setBold(True)
        painter.setFont(name_font)
        painter.setPen(palette.color(role))
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         painter.fontMetrics().elidedText(name, Qt.TextElideMode.ElideRight, text_rect.width()))
        detail_rect = text_rect.translated(0, _BADGE // 2 + 1)
        painter.setFont(option.font)
        detail_colour = palette.color(role)
        if not selected:
            detail_colour.setAlphaF(0.6)
        painter.setPen(detail_colour)
        if kind == "album":
            kind_text = self.tr("Album")
            count_text = self.tr("1 photo") if items == 1 else self.tr("{count} photos").format(count=items)
        else:
            kind_text = self.tr("Chat")
            count_text = self.tr("1 message") if items == 1 else self.tr("{count} messages").format(count=items)
        painter.drawText(detail_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         f"{kind_text} · {count_text}")
        painter.restore()


def _badge_colour(key: str) -> str:
    # Stable per thread, so a thread keeps its colour across runs and peers.
    return _BADGE_COLOURS[hashlib.sha256(key.encode()).digest()[0] % len(_BADGE_COLOURS)]
