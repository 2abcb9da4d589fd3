"""What the sidebar's list rows share: the selected or hovered background,
a coloured badge with an initial, and colours that stay with a key (a
thread, a peer, an author) across runs and across peers."""

from __future__ import annotations

import hashlib

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPalette
from PySide6.QtWidgets import QStyle, QStyleOptionViewItem

BADGE = 34
PADDING = 8


def stable_colour(key: str, colours: tuple[str, ...]) -> QColor:
    return QColor(colours[hashlib.sha256(key.encode()).digest()[0] % len(colours)])


def paint_row_background(painter: QPainter, option: QStyleOptionViewItem) -> bool:
    """Highlight a selected row, tint a hovered one; whether it is selected."""
    state = option.state
    palette: QPalette = option.palette
    selected = bool(state & QStyle.StateFlag.State_Selected)
    if selected:
        painter.fillRect(option.rect, palette.color(QPalette.ColorRole.Highlight))
    elif state & QStyle.StateFlag.State_MouseOver:
        painter.fillRect(option.rect, palette.color(QPalette.ColorRole.AlternateBase))
    return selected


def paint_badge(painter: QPainter, option: QStyleOptionViewItem, colour: QColor, initial: str, *,
                size: int = BADGE, padding: int = PADDING, radius: float = BADGE / 2, pixel_size: int = 15) -> QRect:
    """The badge at the row's left, with `initial` on it; its rectangle."""
    rect: QRect = option.rect
    badge = QRect(rect.left() + padding, rect.top() + padding, size, size)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    painter.drawRoundedRect(badge, radius, radius)
    font = QFont(option.font)
    font.setBold(True)
    font.setPixelSize(pixel_size)
    painter.setFont(font)
    painter.setPen(QColor("white"))
    painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, initial)
    return badge
