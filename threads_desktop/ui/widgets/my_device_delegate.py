"""One row of Settings > Devices, painted: a badge with the device's
initial, its name, and under it "This computer", online, last seen or
removed (muted; removed rows greyed)."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPalette
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem

from threads_desktop.ui.models.my_device_model import MyDeviceRole
from threads_desktop.ui.widgets.rows import paint_badge, paint_row_background, stable_colour

_BADGE = 32
_PADDING = 8
_LINE = 18
_COLOURS = ("#6d597a", "#355070", "#b56576", "#2a9d8f", "#e56b6f", "#4d908e", "#9c6644", "#577590")


class MyDeviceDelegate(QStyledItemDelegate):
    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return QSize(option.rect.width(), 2 * _LINE + 2 * _PADDING)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        selected = paint_row_background(painter, option)
        name = str(index.data(MyDeviceRole.NAME) or "")
        removed = bool(index.data(MyDeviceRole.REMOVED))
        device_id = str(index.data(MyDeviceRole.DEVICE_ID) or "")
        colour = QColor("#9e9e9e") if removed else stable_colour(device_id, _COLOURS)
        badge = paint_badge(painter, option, colour, name[:1].upper() or "?", size=_BADGE, padding=_PADDING,
                            radius=_BADGE / 2, pixel_size=14)
        palette = option.palette
        text = palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        muted = text if selected else palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        rect: QRect = option.rect
        left, right, top = badge.right() + _PADDING, rect.right() - _PADDING, rect.top() + _PADDING
        bold = QFont(option.font)
        bold.setBold(not removed)
        painter.setFont(bold)
        painter.setPen(muted if removed else text)
        width = right - left
        painter.drawText(QRect(left, top, width, _LINE), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         painter.fontMetrics().elidedText(name, Qt.TextElideMode.ElideRight, width))
        small = QFont(option.font)
        small.setPointSizeF(small.pointSizeF() * 0.9)
        painter.setFont(small)
        painter.setPen(muted)
        status = str(index.data(MyDeviceRole.STATUS_TEXT) or "")
        painter.drawText(QRect(left, top + _LINE, width, _LINE),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         painter.fontMetrics().elidedText(status, Qt.TextElideMode.ElideRight, width))
        painter.restore()
