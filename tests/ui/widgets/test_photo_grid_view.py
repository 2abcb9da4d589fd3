"""The album grid paints its cells itself, from one call into Python, and
paints them as QListView would: the same cells, where QListView puts them,
selected, current, under the mouse and greyed the same, whether from any
model or straight from the album's (ui/widgets/photo_grid_view.py)."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

from PIL import Image
from PySide6.QtCore import QEvent, QItemSelectionModel, QPointF
from PySide6.QtGui import QColor, QHoverEvent, QImage, QStandardItem, QStandardItemModel
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from threads_desktop.engine.modules.photos import PhotoCard
from threads_desktop.ui.models.photo_grid_model import PhotoGridModel, PhotoRole
from threads_desktop.ui.widgets.photo_delegate import CELL, PICTURE
from threads_desktop.ui.widgets.photo_grid_view import PhotoGridView


def _album(rows: int) -> QStandardItemModel:
    model = QStandardItemModel()
    for row in range(rows):
        item = QStandardItem(f"IMG_{row}.jpg")
        if row % 7 != 5:  # some cells still loading: the placeholder
            image = QImage(PICTURE, PICTURE, QImage.Format.Format_ARGB32_Premultiplied)
            image.fill(QColor.fromHsv(row * 37 % 360, 200, 220))
            item.setData(image, PhotoRole.THUMBNAIL)
        if row == 11:  # greyed
            item.setEnabled(False)
        model.appendRow(item)
    return model


def _painted(grid: PhotoGridView, *, as_qlistview: bool) -> QImage:
    if as_qlistview:
        grid._paint_cells = lambda area: False  # type: ignore[method-assign]
    try:
        return grid.viewport().grab().toImage()
    finally:
        if as_qlistview:
            del grid._paint_cells


def _jpeg(row: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (256, 192), ((row * 53) % 256, (row * 97) % 256, 180)).save(out, "JPEG")
    return out.getvalue()


def test_cells_are_painted_as_qlistview_paints_them(qtbot) -> None:  # type: ignore[no-untyped-def]
    grid = PhotoGridView()
    qtbot.addWidget(grid)
    grid.setModel(_album(103))
    _compare(qtbot, grid)


def test_the_albums_cells_are_painted_as_qlistview_paints_them(qtbot, qt_loop) -> None:  # type: ignore[no-untyped-def]
    ids = [f"{row:064x}" for row in range(103)]

    async def fetch_cards(wanted: list[str]) -> list[PhotoCard]:
        return [PhotoCard(photo_id, f"IMG_{photo_id[-4:]}.jpg", _jpeg(int(photo_id, 16)), None, None, 256, 192)
                for photo_id in wanted if int(photo_id, 16) % 7 != 5]  # some cells never get theirs

    with ThreadPoolExecutor(1) as decoder:
        model = PhotoGridModel(fetch_cards, decoder, edge=PICTURE)
        model.set_ids(ids)
        grid = PhotoGridView()
        qtbot.addWidget(grid)
        grid.setModel(model)
        for row in range(len(ids)):
            model.thumbnail(row)
        qtbot.waitUntil(lambda: all(model.thumbnail(row) is not None for row in range(len(ids)) if row % 7 != 5),
                        timeout=20_000)
        _compare(qtbot, grid)
        # Plain cells (none selected, current or under the mouse) skip the delegate's paint and the QModelIndex.
        grid.selectionModel().clearSelection()
        grid.clearFocus()
        grid.viewportEvent(QEvent(QEvent.Type.Leave))
        calls: list[int] = []
        delegate = grid.itemDelegate()
        delegate.paint = lambda *args: calls.append(1)  # type: ignore[method-assign]
        assert not _painted(grid, as_qlistview=False).isNull() and calls == []
        del delegate.paint
        model.cancel()


def _compare(qtbot, grid: PhotoGridView) -> None:  # type: ignore[no-untyped-def]
    grid.resize(5 * CELL + 60, 3 * CELL + 40)  # spare width spread over the columns, a partial last line
    grid.show()
    qtbot.waitExposed(grid)
    last = grid.model().rowCount() - 1
    qtbot.waitUntil(lambda: not grid.visualRect(grid.model().index(last, 0)).isEmpty(), timeout=5_000)
    selection = grid.selectionModel()
    for row in (3, 9, 11):
        selection.select(grid.model().index(row, 0), QItemSelectionModel.SelectionFlag.Select)
    grid.setCurrentIndex(grid.model().index(4, 0))
    grid.setFocus()
    assert grid._columns(last + 1) == 5  # a layout the grid follows (else QListView paints)
    for offset in (0, CELL // 3, grid.verticalScrollBar().maximum() // 2, grid.verticalScrollBar().maximum()):
        grid.verticalScrollBar().setValue(offset)
        ours, theirs = _painted(grid, as_qlistview=False), _painted(grid, as_qlistview=True)
        assert ours == theirs, f"painted differently at {offset}"
    grid.verticalScrollBar().setValue(0)
    before = _painted(grid, as_qlistview=False)
    at = QPointF(grid.visualRect(grid.model().index(7, 0)).center())
    QApplication.sendEvent(grid.viewport(), QHoverEvent(QEvent.Type.HoverEnter, at, grid.viewport().mapToGlobal(at),
                                                        QPointF(-1, -1)))  # the pointer comes over a cell
    assert _painted(grid, as_qlistview=False) != before
    assert _painted(grid, as_qlistview=False) == _painted(grid, as_qlistview=True)  # the same cell marked
    grid.verticalScrollBar().setValue(CELL // 2)  # the cells move under a still pointer
    assert _painted(grid, as_qlistview=False) == _painted(grid, as_qlistview=True)
    # A real pointer: QListView follows it by its mouse moves (the viewport gets no hover events).
    grid.verticalScrollBar().setValue(0)
    QTest.mouseMove(grid.viewport(), grid.visualRect(grid.model().index(8, 0)).center())
    assert grid._hover.row() == 8
    assert _painted(grid, as_qlistview=False) == _painted(grid, as_qlistview=True)


def test_an_empty_album_shows_its_text_and_a_drag_its_hint(qtbot) -> None:  # type: ignore[no-untyped-def]
    grid = PhotoGridView()
    qtbot.addWidget(grid)
    grid.setModel(QStandardItemModel())
    grid.empty_text = "Drop photos here"
    grid.resize(600, 400)
    grid.show()
    qtbot.waitExposed(grid)
    blank = QImage(grid.viewport().size(), QImage.Format.Format_ARGB32_Premultiplied)
    blank.fill(grid.viewport().palette().color(grid.viewport().backgroundRole()))
    assert _painted(grid, as_qlistview=False).convertToFormat(blank.format()) != blank  # the text and its frame
