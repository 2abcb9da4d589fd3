"""The album grid: a QListView in icon mode that takes files and folders
dropped from the file manager."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QPainter, QPaintEvent, QPalette, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QFrame, QListView, QWidget

from threads_desktop.ui.widgets.photo_delegate import CELL, PhotoDelegate


class PhotoGridView(QListView):
    files_dropped = Signal(list)  # list[Path]
    open_requested = Signal(int)  # row

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setUniformItemSizes(True)
        self.setGridSize(QSize(CELL, CELL))
        # Lay out a large album in batches, so the first screen paints at once.
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(400)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        # Always there, so the columns never change when an album outgrows the window.
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.verticalScrollBar().setSingleStep(CELL // 3)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setMouseTracking(True)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(False)
        self.setItemDelegate(PhotoDelegate(self))
        self.activated.connect(lambda index: self.open_requested.emit(index.row()))
        self.empty_text = ""
        self._drag_over = False

    def resizeEvent(self, event: QResizeEvent) -> None:
        # Spread the spare width over the columns rather than leave a band
        # at the right: cells keep their size, the gaps grow a little.
        super().resizeEvent(event)
        width = self.viewport().width() - 2  # Qt wraps a row that fills the width exactly
        columns = max(1, width // CELL)
        cell = max(CELL, width // columns)
        delegate = self.itemDelegate()
        if isinstance(delegate, PhotoDelegate) and delegate.cell_width != cell:
            delegate.cell_width = cell
            self.setGridSize(QSize(cell, CELL))

    # --- drops from the file manager ----------------------------------------------------

    def setAcceptDrops(self, on: bool) -> None:
        # Drops land on the viewport, which Qt checks before asking the view.
        super().setAcceptDrops(on)
        self.viewport().setAcceptDrops(on)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and self.acceptDrops():
            self._drag_over = True
            self.viewport().update()
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if event.mimeData().hasUrls() and self.acceptDrops():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragLeaveEvent(self, event: object) -> None:
        self._drag_over = False
        self.viewport().update()

    def dropEvent(self, event: QDropEvent) -> None:
        self._drag_over = False
        self.viewport().update()
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.files_dropped.emit(paths)
        else:
            event.ignore()

    # --- an empty album, and the drop hint ------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self.model() is not None and self.model().rowCount() and not self._drag_over:
            return
        painter = QPainter(self.viewport())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        area = self.viewport().rect().adjusted(24, 24, -24, -24)
        colour = self.palette().color(QPalette.ColorRole.Highlight if self._drag_over else QPalette.ColorRole.Mid)
        pen = painter.pen()
        pen.setColor(colour)
        pen.setWidthF(2.0)
        pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.drawRoundedRect(area, 12, 12)
        text_colour = self.palette().color(QPalette.ColorRole.WindowText)
        text_colour.setAlphaF(0.7)
        painter.setPen(text_colour)
        font = painter.font()
        font.setPointSizeF(font.pointSizeF() * 1.2)
        painter.setFont(font)
        text = self.tr("Drop to add these photos") if self._drag_over else self.empty_text
        painter.drawText(area, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)
