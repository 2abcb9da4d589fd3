"""Paints a grid cell: the thumbnail cropped to a rounded square, a soft
placeholder while it loads, a check mark and a tint when selected."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from threads_desktop.ui.models.photo_grid_model import PhotoRole

CELL = 168   # logical pixels of a grid cell, margin included
MARGIN = 4
RADIUS = 6.0


class PhotoDelegate(QStyledItemDelegate):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return QSize(CELL, CELL)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        rect = QRectF(option.rect).adjusted(MARGIN, MARGIN, -MARGIN, -MARGIN)  # type: ignore[attr-defined]
        palette: QPalette = option.palette  # type: ignore[attr-defined]
        selected = bool(option.state & QStyle.StateFlag.State_Selected)  # type: ignore[attr-defined]
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        clip = QPainterPath()
        clip.addRoundedRect(rect, RADIUS, RADIUS)
        image = index.data(PhotoRole.THUMBNAIL)
        if isinstance(image, QImage) and not image.isNull():
            painter.setClipPath(clip)
            painter.drawImage(rect, image, _centre_crop(image, rect))
            painter.setClipping(False)
        else:
            placeholder = QColor(palette.color(QPalette.ColorRole.Mid))
            placeholder.setAlphaF(0.25)
            painter.fillPath(clip, placeholder)
        if selected:
            highlight = QColor(palette.color(QPalette.ColorRole.Highlight))
            tint = QColor(highlight)
            tint.setAlphaF(0.28)
            painter.fillPath(clip, tint)
            painter.setPen(QPen(highlight, 3))
            painter.drawPath(clip)
            _check_mark(painter, rect, highlight)
        elif option.state & QStyle.StateFlag.State_MouseOver:  # type: ignore[attr-defined]
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Highlight), 1.5))
            painter.drawPath(clip)
        painter.restore()


def _centre_crop(image: QImage, target: QRectF) -> QRectF:
    """The part of `image` with the target's shape, from its middle."""
    width, height = float(image.width()), float(image.height())
    shape = target.width() / target.height()
    if width / height > shape:
        crop = height * shape
        return QRectF((width - crop) / 2, 0, crop, height)
    crop = width / shape
    return QRectF(0, (height - crop) / 2, width, crop)


def _check_mark(painter: QPainter, rect: QRectF, colour: QColor) -> None:
    centre = QPointF(rect.right() - 16, rect.top() + 16)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    painter.drawEllipse(centre, 11, 11)
    pen = QPen(QColor("white"), 2.4, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    painter.drawPolyline([centre + QPointF(-5, 0), centre + QPointF(-1.5, 3.5), centre + QPointF(5, -4)])
