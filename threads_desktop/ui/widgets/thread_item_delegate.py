"""Paints a sidebar row: a coloured badge with the thread's initial, its name,
and a second line with its kind and size (for a join not let in yet: where
it stands, in red once refused)."""

from __future__ import annotations

import datetime

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPalette
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem

from threads_desktop.ui.models.thread_list_model import PENDING_KIND, ThreadRole
from threads_desktop.ui.widgets.rows import BADGE, PADDING, paint_badge, paint_row_background, stable_colour

_BADGE = BADGE
_PADDING = PADDING
_REFUSED_COLOUR = "#b3261e"
_BADGE_COLOURS = ("#e76f51", "#2a9d8f", "#457b9d", "#8d6cab", "#e9a23b", "#4d908e", "#c05780", "#577590")


class ThreadItemDelegate(QStyledItemDelegate):
    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return QSize(option.rect.width(), _BADGE + 2 * _PADDING)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        selected = paint_row_background(painter, option)
        palette = option.palette

        name = str(index.data(ThreadRole.NAME) or "")
        kind = str(index.data(ThreadRole.KIND) or "")
        items = int(index.data(ThreadRole.ITEM_COUNT) or 0)
        rect = option.rect
        badge = paint_badge(painter, option, stable_colour(str(index.data(ThreadRole.THREAD_ID)), _BADGE_COLOURS),
                            (name[:1] or "?").upper(),
                            radius=8 if kind == "album" else _BADGE / 2)  # albums square-ish, chats round

        text_left = badge.right() + _PADDING + 2
        text_rect = QRect(text_left, rect.top() + _PADDING - 1, rect.right() - text_left - _PADDING, _BADGE // 2 + 2)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        when = _when(index.data(ThreadRole.LAST_ACTIVITY_MS))
        painter.setFont(option.font)
        muted = palette.color(role)
        if not selected:
            muted.setAlphaF(0.6)
        if when:
            painter.setPen(muted)
            painter.drawText(text_rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, when)
            text_rect.setRight(text_rect.right() - painter.fontMetrics().horizontalAdvance(when) - _PADDING)
        name_font = QFont(option.font)
        name_font.setBold(True)
        painter.setFont(name_font)
        painter.setPen(palette.color(role))
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         painter.fontMetrics().elidedText(name, Qt.TextElideMode.ElideRight, text_rect.width()))
        detail_rect = QRect(text_left, text_rect.top() + _BADGE // 2 + 1, rect.right() - text_left - _PADDING,
                            text_rect.height())
        unread = int(index.data(ThreadRole.UNREAD) or 0)
        asking = int(index.data(ThreadRole.ASKING) or 0)  # people waiting for our approval: a badge too
        if unread or asking:
            detail_rect.setRight(detail_rect.right() - _unread_pill(painter, detail_rect, unread + asking, palette)
                                 - 4)
        painter.setFont(option.font)
        detail_colour = palette.color(role)
        if not selected:
            detail_colour.setAlphaF(0.6)
        painter.setPen(detail_colour)
        if kind == PENDING_KIND:
            if index.data(ThreadRole.JOIN_STATUS) == "refused" and not selected:
                painter.setPen(QColor(_REFUSED_COLOUR))
            status = str(index.data(ThreadRole.STATUS_LINE) or "")
            painter.drawText(detail_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             painter.fontMetrics().elidedText(status, Qt.TextElideMode.ElideRight,
                                                              detail_rect.width()))
            painter.restore()
            return
        if kind == "album":
            kind_text = self.tr("Album")
            count_text = self.tr("1 photo") if items == 1 else self.tr("{count} photos").format(count=items)
        elif kind == "chat":
            kind_text = self.tr("Chat")
            count_text = self.tr("1 message") if items == 1 else self.tr("{count} messages").format(count=items)
        else:
            kind_text = self.tr("Backup")
            events = int(index.data(ThreadRole.EVENT_COUNT) or 0)
            count_text = self.tr("{count} changes kept").format(count=events)
        if index.data(ThreadRole.SYNCING):
            count_text = self.tr("syncing…")
        if asking:
            count_text = self.tr("1 asks to join") if asking == 1 else self.tr("{n} ask to join").format(n=asking)
        if index.data(ThreadRole.REMOVED):
            count_text = self.tr("removed")
        painter.drawText(detail_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         f"{kind_text} · {count_text}")
        painter.restore()


def _when(millis: object) -> str:
    """Today's changes by the time, this year's by the day, older by the year."""
    if not isinstance(millis, int) or millis <= 0:
        return ""
    try:
        moment = datetime.datetime.fromtimestamp(millis / 1000)
    except (OverflowError, OSError, ValueError):
        return ""
    today = datetime.date.today()
    if moment.date() == today:
        return moment.strftime("%H:%M")
    return moment.strftime("%d %b") if moment.year == today.year else moment.strftime("%Y")


def _unread_pill(painter: QPainter, area: QRect, count: int, palette: QPalette) -> int:
    """A rounded count at the right of `area`; returns its width."""
    text = str(count) if count < 1000 else "999+"
    font = QFont(painter.font())
    font.setBold(True)
    painter.setFont(font)
    width = max(area.height(), painter.fontMetrics().horizontalAdvance(text) + 12)
    pill = QRect(area.right() - width, area.top() + 1, width, area.height() - 2)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(palette.color(QPalette.ColorRole.Highlight))
    painter.drawRoundedRect(pill, pill.height() / 2, pill.height() / 2)
    painter.setPen(palette.color(QPalette.ColorRole.HighlightedText))
    painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, text)
    painter.setFont(QFont(font.family(), font.pointSize()))
    return width
