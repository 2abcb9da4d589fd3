"""Paints a grid cell: the thumbnail cropped to a rounded square, a soft
placeholder while it loads, a check mark and a tint when selected."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from threads_desktop.ui.models.photo_grid_model import CORNER, PhotoRole

CELL = 168   # logical pixels of a grid cell, margin included
MARGIN = 4
PICTURE = CELL - 2 * MARGIN


class PhotoDelegate(QStyledItemDelegate):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._placeholder: QPixmap | None = None
        self.cell_width = CELL  # the grid widens cells to share out its spare width

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return QSize(self.cell_width, CELL)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        rect = picture_rect(option.rect)
        self.paint_picture(painter, rect, index.data(PhotoRole.THUMBNAIL), option)
        state = option.state
        selected = bool(state & QStyle.StateFlag.State_Selected)
        if not selected and not state & QStyle.StateFlag.State_MouseOver:
            return
        palette: QPalette = option.palette
        highlight = QColor(palette.color(QPalette.ColorRole.Highlight))
        radius = rect.width() * CORNER
        outline = QPainterPath()
        outline.addRoundedRect(rect, radius, radius)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if selected:
            tint = QColor(highlight)
            tint.setAlphaF(0.28)
            painter.fillPath(outline, tint)
            painter.setPen(QPen(highlight, 3))
            painter.drawPath(outline)
            _check_mark(painter, rect, highlight)
        else:
            painter.setPen(QPen(highlight, 1.5))
            painter.drawPath(outline)
        painter.restore()

    def paint_picture(self, painter: QPainter, rect: QRectF, image: object, option: QStyleOptionViewItem) -> None:
        """A cell as it is when neither selected nor under the mouse (what
        scrolling paints dozens of times a frame): one image copy, pictures
        come decoded, cropped and rounded at this size; else the placeholder."""
        if isinstance(image, QImage) and not image.isNull():
            painter.drawImage(rect, image)
        else:
            painter.drawPixmap(rect.topLeft(), self._placeholder_for(option))

    def _placeholder_for(self, option: QStyleOptionViewItem) -> QPixmap:
        if self._placeholder is None:
            widget = option.widget
            ratio = widget.devicePixelRatioF() if widget is not None else 1.0
            edge = round(PICTURE * ratio)
            pixmap = QPixmap(edge, edge)
            pixmap.fill(Qt.GlobalColor.transparent)
            colour = QColor(option.palette.color(QPalette.ColorRole.Mid))
            colour.setAlphaF(0.25)
            painter = QPainter(pixmap)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            path = QPainterPath()
            path.addRoundedRect(QRectF(0, 0, edge, edge), edge * CORNER, edge * CORNER)
            painter.fillPath(path, colour)
            painter.end()
            pixmap.setDevicePixelRatio(ratio)
            self._placeholder = pixmap
        return self._placeholder


def picture_rect(cell: QRect) -> QRectF:
    """Where a cell's picture goes: centred across it, MARGIN from its top."""
    return QRectF(cell.x() + (cell.width() - PICTURE) / 2, cell.y() + MARGIN, PICTURE, PICTURE)


def _check_mark(painter: QPainter, rect: QRectF, colour: QColor) -> None:
    centre = QPointF(rect.right() - 16, rect.top() + 16)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    painter.drawEllipse(centre, 11, 11)
    pen = QPen(QColor("white"), 2.4, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    painter.drawPolyline([centre + QPointF(-5, 0), centre + QPointF(-1.5, 3.5), centre + QPointF(5, -4)])
