"""An album's photos as a list model for the grid.

The order (every photo's ID) is read once, from the engine's index; a cell's
name, caption and thumbnail are fetched only when the view asks for that row,
in batches, and the thumbnails are decoded on worker threads. Decoded images
live in a bounded cache, so a 10,000-photo album scrolls end to end in a few
hundred megabytes at most."""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QAbstractListModel, QByteArray, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QImage

from threads_desktop.engine.core.errors import ThreadsError
from threads_desktop.engine.modules.photos import PhotoCard
from threads_desktop.ui.pictures import SquareThumbnails

_Index = QModelIndex | QPersistentModelIndex
log = logging.getLogger(__name__)
FetchCards = Callable[[list[str]], Awaitable[list[PhotoCard]]]

BATCH = 96            # rows fetched per engine call: about two screens of cells
CORNER = 0.04        # corner radius as a share of the cell's edge
CACHE_IMAGES = 1_000  # decoded thumbnails kept: ~100 MiB at 160 px cells, 25 screens


class PhotoRole(enum.IntEnum):
    PHOTO_ID = Qt.ItemDataRole.UserRole + 1
    NAME = enum.auto()
    TAKEN_AT = enum.auto()
    CAPTION = enum.auto()
    THUMBNAIL = enum.auto()  # QImage at cell size (null: none to show), or None while it loads
    ASPECT = enum.auto()     # width / height of the original


class PhotoGridModel(QAbstractListModel):
    cards_loaded = Signal()  # a batch of cells got their thumbnails

    def __init__(self, fetch_cards: FetchCards, decoder: Executor, *, edge: int = 160) -> None:
        super().__init__()
        self._fetch_cards = fetch_cards
        self._decoder = decoder
        self._decode = SquareThumbnails(edge, CORNER)  # to device pixels of a cell's picture
        self._ids: list[str] = []
        self._rows: dict[str, int] = {}
        self._cards: dict[str, PhotoCard] = {}  # text only: the bytes are dropped once decoded
        self._images: OrderedDict[str, QImage] = OrderedDict()
        self._wanted: OrderedDict[str, None] = OrderedDict()
        self._in_flight: set[str] = set()
        self._generation = 0  # bumped when the rows are replaced
        self._tasks: set[asyncio.Task[None]] = set()
        self._cancelled = False
        self._flush = QTimer(self)
        self._flush.setSingleShot(True)
        self._flush.setInterval(0)
        self._flush.timeout.connect(self._fetch_wanted)

    # --- the list -----------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's name
        return 0 if parent.isValid() else len(self._ids)

    def roleNames(self) -> dict[int, QByteArray]:
        return {role.value: QByteArray(role.name.lower().encode()) for role in PhotoRole}

    def ids(self) -> list[str]:
        return list(self._ids)

    def row_of(self, photo_id: str) -> int:
        return self._rows.get(photo_id, -1)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._ids):
            return None
        photo_id = self._ids[index.row()]
        if role == PhotoRole.PHOTO_ID:
            return photo_id
        card = self._cards.get(photo_id)
        image = self._images.get(photo_id)
        if image is not None:
            self._images.move_to_end(photo_id)
        elif photo_id not in self._in_flight:
            self._want(photo_id)
        if card is None:
            return None
        if role in (Qt.ItemDataRole.DisplayRole, PhotoRole.NAME):
            return card.name
        if role == Qt.ItemDataRole.ToolTipRole:
            return card.caption or card.name
        if role == PhotoRole.TAKEN_AT:
            return card.taken_at
        if role == PhotoRole.CAPTION:
            return card.caption
        if role == PhotoRole.THUMBNAIL:
            return image
        if role == PhotoRole.ASPECT:
            return card.width / card.height if card.height else 1.0
        return None

    # --- changes ------------------------------------------------------------------------

    def set_ids(self, ids: Sequence[str]) -> None:
        """Show `ids` in this order. Removals and insertions are applied as
        such when the old order survives in the new one (photos came or went),
        so the view keeps its scroll position and selection."""
        new = list(ids)
        if not self._ids or not _keeps_order(self._ids, new):
            self.beginResetModel()
            # A photo's ID is its content's hash, the same in every album: a
            # batch still on its way for the rows shown before must not land.
            self._generation += 1
            self._in_flight.clear()
            self._cards.clear()
            self._images.clear()
            self._ids = new
            self._reindex()
            self.endResetModel()
            return
        keep = set(new)
        row = len(self._ids) - 1
        while row >= 0:  # removals, as runs, from the end
            if self._ids[row] in keep:
                row -= 1
                continue
            end = row
            while row >= 0 and self._ids[row] not in keep:
                row -= 1
            self.beginRemoveRows(QModelIndex(), row + 1, end)
            for gone in self._ids[row + 1:end + 1]:
                self._forget(gone)
            del self._ids[row + 1:end + 1]
            self.endRemoveRows()
        row = 0
        while row < len(new):  # insertions, as runs: the survivors are in order
            if row < len(self._ids) and self._ids[row] == new[row]:
                row += 1
                continue
            end = row
            present = self._ids[row] if row < len(self._ids) else None
            while end < len(new) and new[end] != present:
                end += 1
            self.beginInsertRows(QModelIndex(), row, end - 1)
            self._ids[row:row] = new[row:end]
            self.endInsertRows()
            row = end
        self._reindex()

    def refresh(self, photo_ids: Sequence[str]) -> None:
        """These photos changed (a caption, say): fetch their cells again."""
        for photo_id in photo_ids:
            row = self._rows.get(photo_id)
            if row is None:
                continue
            self._forget(photo_id)
            self.dataChanged.emit(self.index(row), self.index(row))

    def _forget(self, photo_id: str) -> None:
        self._cards.pop(photo_id, None)
        self._images.pop(photo_id, None)
        self._wanted.pop(photo_id, None)

    def _reindex(self) -> None:
        self._rows = {photo_id: row for row, photo_id in enumerate(self._ids)}

    # --- loading ------------------------------------------------------------------------

    def _want(self, photo_id: str) -> None:
        self._wanted[photo_id] = None
        self._wanted.move_to_end(photo_id)
        if not self._flush.isActive():
            self._flush.start()

    def _fetch_wanted(self) -> None:
        # One batch at a time, of the newest requests: while the user flings
        # through the album, rows scrolled past are skipped rather than
        # decoded (they are asked for again if they come back), and the
        # workers leave the GUI thread its share of the interpreter.
        if self._in_flight or self._cancelled:
            return
        batch = list(self._wanted)[-BATCH:]
        self._wanted.clear()
        if not batch:
            return
        self._in_flight.update(batch)
        task = asyncio.ensure_future(self._load(batch, self._generation))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _load(self, batch: list[str], generation: int) -> None:
        try:
            cards = await self._fetch_cards(batch)
            loop = asyncio.get_running_loop()
            # Two jobs per batch, not one per picture: each finished job costs
            # the GUI thread a callback, and two keep both cores busy. Inside a
            # job each picture is decoded on its own: one a peer made bad is a
            # null image for its cell, never an error that loses the batch.
            half = (len(cards) + 1) // 2
            parts = await asyncio.gather(*(
                loop.run_in_executor(self._decoder, self._decode, [c.thumbnail for c in part])
                for part in (cards[:half], cards[half:]) if part))
            images = [image for part in parts for image in part]
        except ThreadsError as exc:  # the album was left meanwhile, say: the cells ask again if still shown
            log.info("could not load %d grid cells: %s", len(batch), exc)
            return
        finally:
            self._in_flight.difference_update(batch)
            if self._wanted and not self._flush.isActive():
                self._flush.start()
        if generation != self._generation:
            return  # fetched for what was shown before (another album, another order)
        rows = []
        for card, image in zip(cards, images, strict=True):
            if card.id not in self._rows:
                continue
            self._cards[card.id] = replace(card, thumbnail=b"")  # decoded: the bytes are not kept
            self._images[card.id] = image
            rows.append(self._rows[card.id])
        while len(self._images) > CACHE_IMAGES:
            self._images.popitem(last=False)
        for first, last in _runs(sorted(rows)):  # never one range over rows between that did not change
            self.dataChanged.emit(self.index(first), self.index(last),
                                  [PhotoRole.THUMBNAIL, PhotoRole.NAME, PhotoRole.CAPTION])
        self.cards_loaded.emit()

    def cancel(self) -> None:
        """The view is going: stop loading, and start nothing more (a timer
        firing after the event loop is gone would start a task on none)."""
        self._cancelled = True
        self._flush.stop()
        for task in list(self._tasks):
            task.cancel()


def _keeps_order(old: list[str], new: list[str]) -> bool:
    """Whether the photos of `old` still in `new` are in the same order."""
    position = {photo_id: i for i, photo_id in enumerate(new)}
    last = -1
    for photo_id in old:
        at = position.get(photo_id)
        if at is None:
            continue
        if at < last:
            return False
        last = at
    return True


def _runs(rows: list[int]) -> list[tuple[int, int]]:
    """Sorted rows as (first, last) runs of consecutive rows."""
    runs: list[tuple[int, int]] = []
    for row in rows:
        if runs and runs[-1][1] == row - 1:
            runs[-1] = (runs[-1][0], row)
        else:
            runs.append((row, row))
    return runs
