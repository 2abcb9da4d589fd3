"""An album's photos as a list model for the grid.

An album opens as a count of rows (`show_count`) whose photos are fetched by
position, a page at a time, when the view asks for a row: the first screen
costs that screen, not the album. The whole order (every photo's ID, read
from the engine's index) follows and fills the rows in (`set_ids`). A
cell's name, caption and thumbnail are fetched only when the view asks for
that row, in batches, and the thumbnails are decoded on worker threads. Decoded images
live in a cache bounded in bytes, so an album of any size scrolls end to end
in the same memory, at any screen's pixel ratio."""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Sequence
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
# (offset, limit) -> the IDs at those positions of the order, and their cells
FetchPage = Callable[[int, int], Awaitable[tuple[list[str], list[PhotoCard]]]]
_UNKNOWN = ""  # a row whose photo is not known yet (an ID is never empty)

BATCH = 96            # rows fetched per engine call: about two screens of cells
CORNER = 0.04        # corner radius as a share of the cell's edge
# Decoded thumbnails (and their cards) kept, in bytes of pixels: 480 cells of
# 160 px (12 screens at 1280x800), 120 on a screen of twice the pixel ratio.
# (It was 1,000 pictures: 100 MiB at 160 px, 400 MiB at 2x; scrolling
# 100,000 photos ended at 401 MB resident, 349 MB with 500.)
CACHE_BYTES = 48 * 2**20


class PhotoRole(enum.IntEnum):
    PHOTO_ID = Qt.ItemDataRole.UserRole + 1
    NAME = enum.auto()
    TAKEN_AT = enum.auto()
    CAPTION = enum.auto()
    THUMBNAIL = enum.auto()  # QImage at cell size (null: none to show), or None while it loads
    ASPECT = enum.auto()     # width / height of the original


class PhotoGridModel(QAbstractListModel):
    cards_loaded = Signal()  # a batch of cells got their thumbnails

    def __init__(self, fetch_cards: FetchCards, decoder: Executor, *, edge: int = 160,
                 fetch_page: FetchPage | None = None) -> None:
        super().__init__()
        self._fetch_cards = fetch_cards
        self._fetch_page = fetch_page
        self._decoder = decoder
        self._decode = SquareThumbnails(edge, CORNER)  # to device pixels of a cell's picture
        self._ids: list[str] = []
        self._rows: dict[str, int] = {}  # photo ID -> row (see _row_index)
        self._rows_stale = False  # _rows is to be rebuilt from _ids when first needed
        self._cards: dict[str, PhotoCard] = {}  # text only: the bytes are dropped once decoded
        self._images: OrderedDict[str, QImage] = OrderedDict()
        self._image_bytes = 0  # the pixels of self._images
        self._wanted: OrderedDict[str, int] = OrderedDict()  # photo ID -> the row that asked for it
        self._in_flight: set[str] = set()
        self._unknown = 0  # rows whose photo is not known yet (show_count)
        self._wanted_pages: OrderedDict[int, None] = OrderedDict()
        self._pages_in_flight: set[int] = set()
        self._shown_unknown: set[int] = set()  # pages whose rows the view painted before they were known
        self._known_pages: set[int] = set()  # pages whose rows got their photo by position
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
        """Every row's photo ID ("" for a row not known yet: see `complete`)."""
        return list(self._ids)

    def complete(self) -> bool:
        """Whether every row's photo is known (the whole order has arrived)."""
        return not self._unknown

    def row_of(self, photo_id: str) -> int:
        return self._row_index().get(photo_id, -1)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = index.row()
        if role == PhotoRole.THUMBNAIL:
            return self.thumbnail(row)
        photo_id = self._photo_at(row)
        if photo_id is None:
            return None
        if role == PhotoRole.PHOTO_ID:
            return photo_id
        card = self._shown(photo_id, row)[0]
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
        if role == PhotoRole.ASPECT:
            return card.width / card.height if card.height else 1.0
        return None

    def thumbnail(self, row: int) -> QImage | None:
        """A row's PhotoRole.THUMBNAIL, asked for by row: the grid paints its
        cells from Python, and a QModelIndex would take it through C++ and
        back (ui/widgets/photo_grid_view.py)."""
        photo_id = self._photo_at(row)
        if photo_id is None:
            return None
        card, image = self._shown(photo_id, row)
        return image if card is not None else None

    def _photo_at(self, row: int) -> str | None:
        """The row's photo; None for no row, or a row whose photo is not
        known yet (its page is asked for)."""
        if not 0 <= row < len(self._ids):
            return None
        photo_id = self._ids[row]
        if photo_id == _UNKNOWN:
            self._want_page(row // BATCH)
            return None
        return photo_id

    def _shown(self, photo_id: str, row: int) -> tuple[PhotoCard | None, QImage | None]:
        """The cell's card and picture as they are; asked for if missing."""
        image = self._images.get(photo_id)
        if image is not None:
            self._images.move_to_end(photo_id)
        elif photo_id not in self._in_flight:
            self._want(photo_id, row)
        return self._cards.get(photo_id), image

    # --- changes ------------------------------------------------------------------------

    def show_count(self, count: int) -> None:
        """Show `count` rows whose photos are not known yet: each page of
        them is fetched by position when the view first asks for one of its
        rows, until `set_ids` brings the whole order."""
        self._replace([_UNKNOWN] * count)

    async def load_page(self, page: int) -> None:
        """Fetch the rows of this page now (an album's first screen), rather
        than when the view paints them."""
        if self._fetch_page is not None and page not in self._pages_in_flight:
            self._wanted_pages.pop(page, None)
            self._pages_in_flight.add(page)
            await self._load_page(page, self._generation)

    def set_ids(self, ids: Sequence[str]) -> None:
        """Show `ids` in this order. Removals and insertions are applied as
        such when the old order survives in the new one (photos came or went),
        so the view keeps its scroll position and selection; rows shown by
        `show_count` are filled in when the order agrees with what they hold."""
        new = list(ids)
        if self._unknown and len(new) == len(self._ids) and self._agrees(new):
            self._ids = new
            self._unknown = 0
            self._wanted_pages.clear()
            self._reindex()
            # Only rows the view painted empty are announced: one signal over
            # 100,000 rows costs a QListView 100 ms; the others it asks for
            # when it comes to them.
            for page in sorted(self._shown_unknown):
                self.dataChanged.emit(self.index(page * BATCH), self.index(min(len(new), page * BATCH + BATCH) - 1))
            self._shown_unknown.clear()
            self._known_pages.clear()
            return
        if not self._ids or self._unknown or not _keeps_order(self._ids, new):
            self._replace(new)
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

    def _replace(self, ids: list[str]) -> None:
        self.beginResetModel()
        # A photo's ID is its content's hash, the same in every album: a
        # batch still on its way for the rows shown before must not land.
        self._generation += 1
        self._in_flight.clear()
        self._pages_in_flight.clear()
        self._wanted_pages.clear()
        self._shown_unknown.clear()
        self._known_pages.clear()
        self._cards.clear()
        self._images.clear()
        self._image_bytes = 0
        self._ids = ids
        self._unknown = ids.count(_UNKNOWN)
        if self._unknown == len(ids):
            self._rows, self._rows_stale = {}, False
        else:
            self._reindex()
        self.endResetModel()

    def refresh(self, photo_ids: Sequence[str]) -> None:
        """These photos changed (a caption, say): fetch their cells again."""
        for photo_id in photo_ids:
            row = self._row_index().get(photo_id)
            if row is None:
                continue
            self._forget(photo_id)
            self.dataChanged.emit(self.index(row), self.index(row))

    def _forget(self, photo_id: str) -> None:
        self._cards.pop(photo_id, None)
        self._drop_image(photo_id)
        self._wanted.pop(photo_id, None)

    def _drop_image(self, photo_id: str) -> None:
        image = self._images.pop(photo_id, None)
        if image is not None:
            self._image_bytes -= _weight(image)

    def _agrees(self, ids: list[str]) -> bool:
        """Whether the rows known by position hold what `ids` puts there
        (only those pages are compared: a few hundred rows, not the album)."""
        for page in self._known_pages:
            first, last = page * BATCH, page * BATCH + BATCH
            if not all(old in (_UNKNOWN, now) for old, now in zip(self._ids[first:last], ids[first:last], strict=True)):
                return False
        return True

    def _reindex(self) -> None:
        # Later, when a row is looked up by its photo: building it takes the
        # GUI thread 15-25 ms at 100,000 rows, and landing in a scroll step
        # (the album's order arrives while the first screens are scrolled)
        # it was that step's whole frame. Cells placed by the rows that
        # asked for them need no lookup (_row_of_card).
        self._rows_stale = True

    def _row_index(self) -> dict[str, int]:
        if self._rows_stale:
            # dict(zip()) rather than a comprehension: 100,000 rows in 15-25 ms, not twice that.
            self._rows = dict(zip(self._ids, range(len(self._ids)), strict=True))
            self._rows.pop(_UNKNOWN, None)
            self._rows_stale = False
        return self._rows

    def _row_of_card(self, photo_id: str, hint: int) -> int:
        """The row showing this photo (-1: none), checked at `hint` first."""
        if 0 <= hint < len(self._ids) and self._ids[hint] == photo_id:
            return hint
        return self._row_index().get(photo_id, -1)

    # --- loading ------------------------------------------------------------------------

    def _want(self, photo_id: str, row: int) -> None:
        self._wanted[photo_id] = row
        self._wanted.move_to_end(photo_id)
        if not self._flush.isActive():
            self._flush.start()

    def _want_page(self, page: int) -> None:
        self._shown_unknown.add(page)
        if page in self._pages_in_flight or self._fetch_page is None:
            return
        self._wanted_pages[page] = None
        self._wanted_pages.move_to_end(page)
        if not self._flush.isActive():
            self._flush.start()

    def _fetch_wanted(self) -> None:
        # One batch at a time, of the newest requests: while the user flings
        # through the album, rows scrolled past are skipped rather than
        # decoded (they are asked for again if they come back), and the
        # workers leave the GUI thread its share of the interpreter.
        if self._in_flight or self._pages_in_flight or self._cancelled:
            return
        if self._wanted_pages:  # rows not known yet: a page by position, its cells with it
            page, _ = self._wanted_pages.popitem(last=True)
            self._wanted_pages.clear()
            self._pages_in_flight.add(page)
            self._start(self._load_page(page, self._generation))
            return
        asked = dict(list(self._wanted.items())[-BATCH:])
        self._wanted.clear()
        if not asked:
            return
        self._in_flight.update(asked)
        self._start(self._load(asked, self._generation))

    def _start(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _load_page(self, page: int, generation: int) -> None:
        assert self._fetch_page is not None
        offset = page * BATCH
        try:
            ids, cards = await self._fetch_page(offset, BATCH)
            images = await self._decoded(cards)
        except ThreadsError as exc:  # as for cells: the rows ask again if still shown
            log.info("could not load the grid's rows from %d: %s", offset, exc)
            return
        finally:
            self._pages_in_flight.discard(page)
            self._flush_later()
        if generation != self._generation:
            return
        placed = []
        for row, photo_id in enumerate(ids, offset):
            # The order may have moved since (photos came): a row keeps what
            # it holds, and the whole order settles it (set_ids).
            if row < len(self._ids) and self._ids[row] == _UNKNOWN and photo_id not in self._row_index():
                self._ids[row] = photo_id
                self._rows[photo_id] = row
                self._unknown -= 1
                placed.append(row)
        self._known_pages.add(page)
        self._place(cards, images, placed, dict(zip(ids, range(offset, offset + len(ids)), strict=True)))

    async def _load(self, asked: dict[str, int], generation: int) -> None:
        batch = list(asked)
        try:
            cards = await self._fetch_cards(batch)
            images = await self._decoded(cards)
        except ThreadsError as exc:  # the album was left meanwhile, say: the cells ask again if still shown
            log.info("could not load %d grid cells: %s", len(batch), exc)
            return
        finally:
            self._in_flight.difference_update(batch)
            self._flush_later()
        if generation != self._generation:
            return  # fetched for what was shown before (another album, another order)
        self._place(cards, images, [], asked)

    async def _decoded(self, cards: list[PhotoCard]) -> list[QImage]:
        loop = asyncio.get_running_loop()
        # Two jobs per batch, not one per picture: each finished job costs
        # the GUI thread a callback, and two keep both cores busy. Inside a
        # job each picture is decoded on its own: one a peer made bad is a
        # null image for its cell, never an error that loses the batch.
        half = (len(cards) + 1) // 2
        parts = await asyncio.gather(*(
            loop.run_in_executor(self._decoder, self._decode, [c.thumbnail for c in part])
            for part in (cards[:half], cards[half:]) if part))
        return [image for part in parts for image in part]

    def _flush_later(self) -> None:
        if (self._wanted or self._wanted_pages) and not self._flush.isActive():
            self._flush.start()

    def _place(self, cards: list[PhotoCard], images: list[QImage], placed: list[int], asked: dict[str, int]) -> None:
        """Keep the decoded cells of rows still shown; `placed`: rows that got
        their photo; `asked`: the row each photo was asked for at."""
        rows = list(placed)
        for card, image in zip(cards, images, strict=True):
            row = self._row_of_card(card.id, asked.get(card.id, -1))
            if row < 0:
                continue
            self._cards[card.id] = replace(card, thumbnail=b"")  # decoded: the bytes are not kept
            self._drop_image(card.id)
            self._images[card.id] = image
            self._image_bytes += _weight(image)
            if row not in placed:
                rows.append(row)
        while self._image_bytes > CACHE_BYTES and len(self._images) > 1:
            # Its card goes too (~340 B, 34 MB at 100,000 photos scrolled):
            # a row that comes back asks for both again.
            gone, image = self._images.popitem(last=False)
            self._image_bytes -= _weight(image)
            self._cards.pop(gone, None)
        roles = [] if placed else [PhotoRole.THUMBNAIL, PhotoRole.NAME, PhotoRole.CAPTION]  # [] is every role
        for first, last in _runs(sorted(rows)):  # never one range over rows between that did not change
            self.dataChanged.emit(self.index(first), self.index(last), roles)
        self.cards_loaded.emit()

    def cancel(self) -> None:
        """The view is going: stop loading, and start nothing more (a timer
        firing after the event loop is gone would start a task on none)."""
        self._cancelled = True
        self._flush.stop()
        for task in list(self._tasks):
            task.cancel()


def _weight(image: QImage) -> int:
    """What a kept picture counts for: its pixels; a cell with none (a
    thumbnail that would not decode) still holds its card."""
    return max(image.sizeInBytes(), 4096)


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
