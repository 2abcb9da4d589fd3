"""One row of the Devices window, painted: a badge with the peer's initial,
its name, how it is connected (a coloured dot and plain words, on the
right), what it shares, and how far that is in step (a thin bar while
photos come in)."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPalette
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem

from threads_desktop.engine.core.types import Connection
from threads_desktop.ui.models.device_model import DeviceRole
from threads_desktop.ui.widgets.rows import paint_badge, paint_row_background, stable_colour

_BADGE = 36
_PADDING = 10
_LINE = 18
_DOT = 8
_COLOURS = ("#6d597a", "#355070", "#b56576", "#2a9d8f", "#e56b6f", "#4d908e", "#9c6644", "#577590")
_CONNECTION_COLOURS = {  # a dot before the words: green direct, blue relayed, grey offline
    Connection.SAME_NETWORK.value: "#2e9d4a", Connection.INTERNET.value: "#2e9d4a",
    Connection.RELAY.value: "#3b7dd8", Connection.OFFLINE.value: "#9e9e9e"}


class DeviceDelegate(QStyledItemDelegate):
    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return QSize(option.rect.width(), 3 * _LINE + 2 * _PADDING)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        selected = paint_row_background(painter, option)
        palette = option.palette
        rect: QRect = option.rect
        name = str(index.data(DeviceRole.NAME) or "")
        peer_id = str(index.data(DeviceRole.PEER_ID) or "")
        initial = name[:1].upper() if index.data(DeviceRole.HAS_NAME) else "?"
        badge = paint_badge(painter, option, stable_colour(peer_id, _COLOURS), initial, size=_BADGE,
                            padding=_PADDING, radius=_BADGE / 2, pixel_size=15)
        text_colour = palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        muted = text_colour if selected else palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        left = badge.right() + _PADDING
        right = rect.right() - _PADDING
        top = rect.top() + _PADDING

        # The connection, right-aligned on the first line: a dot and the words.
        small = QFont(option.font)
        small.setPointSizeF(small.pointSizeF() * 0.9)
        painter.setFont(small)
        connection = str(index.data(DeviceRole.CONNECTION_TEXT) or "")
        # A few pixels over the measured width: advances are rounded, and a
        # text a pixel too wide for its rectangle is elided by three letters.
        width = min(painter.fontMetrics().horizontalAdvance(connection) + 4, (right - left) // 2)
        words = QRect(right - width, top, width, _LINE)
        painter.setPen(text_colour)
        painter.drawText(words, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                         painter.fontMetrics().elidedText(connection, Qt.TextElideMode.ElideRight, width))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(_CONNECTION_COLOURS.get(str(index.data(DeviceRole.CONNECTION)), "#9e9e9e")))
        painter.drawEllipse(words.left() - _DOT - 6, top + (_LINE - _DOT) // 2, _DOT, _DOT)

        # The name, bold, up to the connection.
        bold = QFont(option.font)
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(text_colour)
        name_width = words.left() - _DOT - 12 - left
        painter.drawText(QRect(left, top, name_width, _LINE), Qt.AlignmentFlag.AlignLeft
                         | Qt.AlignmentFlag.AlignVCenter,
                         painter.fontMetrics().elidedText(name, Qt.TextElideMode.ElideRight, name_width))

        # What it shares, then how far it is in step.
        painter.setFont(small)
        painter.setPen(muted)
        shared = str(index.data(DeviceRole.SHARED_TEXT) or "")
        painter.drawText(QRect(left, top + _LINE, right - left, _LINE), Qt.AlignmentFlag.AlignLeft
                         | Qt.AlignmentFlag.AlignVCenter,
                         painter.fontMetrics().elidedText(shared, Qt.TextElideMode.ElideRight, right - left))
        progress = str(index.data(DeviceRole.PROGRESS_TEXT) or "")
        fraction = index.data(DeviceRole.PROGRESS)
        line = QRect(left, top + 2 * _LINE, right - left, _LINE)
        if isinstance(fraction, float):
            bar = QRect(line.left(), line.center().y() - 2, min(160, line.width() // 3), 5)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(palette.color(QPalette.ColorRole.Mid))
            painter.drawRoundedRect(bar, 2, 2)
            painter.setBrush(palette.color(QPalette.ColorRole.Highlight) if not selected else text_colour)
            painter.drawRoundedRect(QRect(bar.left(), bar.top(), int(bar.width() * fraction), bar.height()), 2, 2)
            line.setLeft(bar.right() + 8)
        painter.setPen(text_colour)  # what is moving, or that all is up to date: read at a glance
        painter.drawText(line, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         painter.fontMetrics().elidedText(progress, Qt.TextElideMode.ElideRight, line.width()))
        painter.restore()
