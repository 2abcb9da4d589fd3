"""The album grid: a QListView in icon mode that takes files and folders
dropped from the file manager."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QAbstractListModel, QEvent, QPersistentModelIndex, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import (
    QCursor,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QHoverEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QResizeEvent,
)
from PySide6.QtWidgets import QAbstractItemView, QFrame, QListView, QStyle, QStyleOptionViewItem, QWidget

from threads_desktop.ui.models.photo_grid_model import PhotoGridModel
from threads_desktop.ui.widgets.photo_delegate import CELL, PhotoDelegate, picture_rect


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
        self._hover = QPersistentModelIndex()  # the cell QListView would mark as under the mouse

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
        if not self._paint_cells(event.rect()):
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

    # --- the cells ----------------------------------------------------------------------

    def _paint_cells(self, area: QRect) -> bool:
        """Paint the cells in `area` as QListView's paintEvent would (same
        options, same delegate), from this one call into Python: False when
        QListView must (a rubber band, a layout this does not follow).
        QListView calls the delegate and the model from C++ for every cell,
        each call taking the interpreter lock anew, and PySide lets it go in
        most Qt calls: a decoder thread waiting for it takes it, and the GUI
        thread waits its turn (scroll steps of 35-60 ms held 3 ms of work).
        A plain cell of the album's model is therefore one drawImage."""
        model = self.model()
        delegate = self.itemDelegate()
        if model is None or delegate is None or self.state() != QAbstractItemView.State.NoState:
            return False
        count = model.rowCount()
        grid = self.gridSize()
        if not count or grid.width() <= 0 or grid.height() <= 0:
            return not count
        columns = self._columns(count)
        if columns is None:
            return False
        origin = self.rectForIndex(model.index(0, 0))  # where _columns found row 0: (0, 0)
        top = self.verticalOffset() + area.top()
        bottom = self.verticalOffset() + area.bottom()
        first = max(0, top // grid.height() * columns)
        last = min(count - 1, (bottom // grid.height() + 1) * columns - 1)
        if first > last:
            return True
        option = QStyleOptionViewItem()
        self.initViewItemOption(option)
        state = option.state
        enabled = bool(state & QStyle.StateFlag.State_Enabled)
        selection = self.selectionModel()
        selecting = selection is not None and selection.hasSelection()
        current = self.currentIndex()
        focus = (self.hasFocus() or self.viewport().hasFocus()) and current.isValid()
        hover = self._hover
        # QListView paints an enabled item in the Normal (active) colours, a disabled one greyed.
        normal, disabled = QPalette(option.palette), QPalette(option.palette)
        normal.setCurrentColorGroup(QPalette.ColorGroup.Normal)
        disabled.setCurrentColorGroup(QPalette.ColorGroup.Disabled)
        # A plain cell straight from the album's model: every cell of it
        # enabled (QAbstractListModel's flags), laid out (QListView lays a
        # large album out in batches: the last one painted tells), left to right.
        album = model if isinstance(model, PhotoGridModel) else None
        cells = delegate if isinstance(delegate, PhotoDelegate) else None
        if (type(model).flags is not QAbstractListModel.flags or self.isRightToLeft()
                or self.rectForIndex(model.index(last, 0)).isEmpty()):
            album = None
        special = {current.row() if focus else -1, hover.row() if hover.isValid() else -1}
        left, right = area.left() + self.horizontalOffset(), area.right() + self.horizontalOffset()
        width, height = origin.width(), origin.height()
        x0, y0 = origin.x() - self.horizontalOffset(), origin.y() - self.verticalOffset()
        normal_option = QStyleOptionViewItem(option)
        normal_option.palette = normal
        painter = QPainter(self.viewport())
        for row in range(first, last + 1):
            if album is not None and cells is not None and row not in special:
                x = origin.x() + row % columns * grid.width()
                if x > right or x + width <= left:
                    continue
                if not (selecting and selection is not None and selection.isSelected(model.index(row, 0))):
                    cell = QRect(x0 + row % columns * grid.width(), y0 + row // columns * grid.height(),
                                 width, height)
                    cells.paint_picture(painter, picture_rect(cell), album.thumbnail(row), normal_option)
                    continue
            index = model.index(row, 0)
            rect = self.visualRect(index)
            if not rect.intersects(area):  # a cell not laid out yet (batches) is not painted either
                continue
            option.rect = rect
            cell_state = state
            if selection is not None and selection.isSelected(index):
                cell_state |= QStyle.StateFlag.State_Selected
            if enabled:
                item_enabled = bool(model.flags(index) & Qt.ItemFlag.ItemIsEnabled)
                if not item_enabled:
                    cell_state &= ~QStyle.StateFlag.State_Enabled
                option.palette = normal if item_enabled else disabled
            if focus and index == current:
                cell_state |= QStyle.StateFlag.State_HasFocus
            if index == hover:
                cell_state |= QStyle.StateFlag.State_MouseOver
            option.state = cell_state
            delegate.paint(painter, option, index)
        painter.end()
        return True

    def _columns(self, count: int) -> int | None:
        """Cells per line of the layout QListView made (uniform cells on a
        grid, from the top left), or None when it is not that layout."""
        grid = self.gridSize()
        origin = self.rectForIndex(self.model().index(0, 0))
        if origin.isEmpty() or origin.topLeft() != QPoint(0, 0):
            return None
        columns = max(1, (self.viewport().width() - 1) // grid.width())
        end = self.rectForIndex(self.model().index(min(count, columns) - 1, 0))
        if end.y() != 0 or end.x() != (min(count, columns) - 1) * grid.width() or end.size() != origin.size():
            return None
        if count <= columns:
            return columns
        # The first cell of the second line is where QListView wrapped.
        below = self.rectForIndex(self.model().index(columns, 0))
        if below.isEmpty():
            return columns
        if below.topLeft() != QPoint(0, grid.height()):
            return None
        return columns

    # QListView keeps the cell under the mouse to itself: it is followed
    # here through the same events, for _paint_cells to mark the same cell.

    def viewportEvent(self, event: QEvent) -> bool:
        kind = event.type()
        # A viewport without WA_Hover gets no hover events (the app's, on X11):
        # QListView then follows the pointer by its moves (mouse tracking).
        if (kind in (QEvent.Type.HoverEnter, QEvent.Type.HoverMove) and isinstance(event, QHoverEvent)) or (
                kind == QEvent.Type.MouseMove and isinstance(event, QMouseEvent)):
            self._hover = QPersistentModelIndex(self.indexAt(event.position().toPoint()))
        elif kind in (QEvent.Type.HoverLeave, QEvent.Type.Leave):
            self._hover = QPersistentModelIndex()
        return super().viewportEvent(event)

    def verticalScrollbarValueChanged(self, value: int) -> None:
        super().verticalScrollbarValueChanged(value)
        self._hover_at_pointer()

    def horizontalScrollbarValueChanged(self, value: int) -> None:
        super().horizontalScrollbarValueChanged(value)
        self._hover_at_pointer()

    def _hover_at_pointer(self) -> None:
        # What QListView does when it scrolls: the cell now under the pointer, if it is over the cells.
        at = self.viewport().mapFromGlobal(QCursor.pos())
        if self.viewport().rect().contains(at):
            self._hover = QPersistentModelIndex(self.indexAt(at))
