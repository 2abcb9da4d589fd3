"""An album: its header and actions, the photo grid, and the viewer."""

from __future__ import annotations

from collections.abc import Coroutine
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from threads_desktop.engine.core.errors import ThreadsError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import ChangeSet, ThreadKind, ThreadSummary
from threads_desktop.engine.modules.photos import PhotoCard
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.models.photo_grid_model import PhotoGridModel, PhotoRole
from threads_desktop.ui.operations import notices as notice_ops
from threads_desktop.ui.operations import photos as photo_ops
from threads_desktop.ui.refusals import explain, refused
from threads_desktop.ui.tasks import Tasks
from threads_desktop.ui.views.photo_import import ImportSummary, PhotoImport
from threads_desktop.ui.views.photo_viewer import PhotoViewer
from threads_desktop.ui.widgets.activity_panel import ActivityPanel
from threads_desktop.ui.widgets.import_progress import ImportProgress
from threads_desktop.ui.widgets.photo_delegate import PICTURE
from threads_desktop.ui.widgets.photo_grid_view import PhotoGridView
from threads_desktop.ui.widgets.removal_banner import RemovalBanner

IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.webp *.gif *.heic *.tif *.tiff *.bmp)"


class AlbumView(QWidget):
    photos_loaded = Signal()            # after every (re)load of the album's order
    import_finished = Signal(object)    # ImportSummary
    export_finished = Signal(object)    # ExportResult
    deleted = Signal(int)
    actions_checked = Signal(list)      # the selected IDs, once Delete follows them and the user's role
    message = Signal(str)               # for the status bar
    failed = Signal(str)
    invite_requested = Signal()
    members_requested = Signal()
    sort_changed = Signal(bool)         # newest first
    membership_loaded = Signal()        # the removal banner (and the activity, when open) are up to date

    def __init__(self, client: EngineClient, decoder: Executor, parent: QWidget | None = None, *,
                 newest_first: bool = True) -> None:
        super().__init__(parent)
        self._client = client
        self._summary: ThreadSummary | None = None
        self._newest_first = newest_first
        self._tasks = Tasks(lambda error: self.failed.emit(explain(error)))
        self._may_delete_selection = False
        self._membership_asked = 0  # the newest membership load: an older answer is dropped
        self.current_import: PhotoImport | None = None
        # Pictures are decoded at the cell's size in device pixels.
        edge = round(PICTURE * (self.devicePixelRatioF() or 1.0))
        self.model = PhotoGridModel(self._fetch_cards, decoder, edge=edge, fetch_page=self._fetch_page)
        self._open_when_known: int | None = None  # a row double-clicked before the album's order arrived
        self._reloading = False    # the order is being read
        self._reload_again = False  # and photos came meanwhile: read it once more after
        self._build(decoder)
        client.changed.connect(self._on_engine_changed)

    def _build(self, decoder: Executor) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.pages = QStackedWidget()
        grid_page = QWidget()
        grid_layout = QVBoxLayout(grid_page)
        grid_layout.setContentsMargins(20, 16, 12, 0)
        header = QHBoxLayout()
        titles = QVBoxLayout()
        self.title = QLabel()
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.7)
        font.setBold(True)
        self.title.setFont(font)
        self.subtitle = QLabel()
        for label in (self.title, self.subtitle):
            label.setTextFormat(Qt.TextFormat.PlainText)  # names come from peers
        titles.addWidget(self.title)
        titles.addWidget(self.subtitle)
        header.addLayout(titles, 1)
        self.sort = QComboBox()
        self.sort.addItems([self.tr("Newest first"), self.tr("Oldest first")])
        self.sort.setCurrentIndex(0 if self._newest_first else 1)
        self.sort.setToolTip(self.tr("Sort by the date the photo was taken"))
        self.sort.currentIndexChanged.connect(self._sort_changed)
        self.activity_button = QPushButton(self.tr("Activity"))
        self.activity_button.setCheckable(True)
        self.activity_button.setToolTip(self.tr("Who joined, left, was removed, or was given other rights"))
        self.activity_button.toggled.connect(self._activity_toggled)
        self.members_button = QPushButton(self.tr("Members…"))
        self.members_button.clicked.connect(self.members_requested)
        self.invite_button = QPushButton(self.tr("Invite…"))
        self.invite_button.clicked.connect(self.invite_requested)
        # Qt's file dialog picks files or a folder, never both: the button
        # adds files, its menu a folder (and folders can be dropped).
        self.add_button = QToolButton()
        self.add_button.setText(self.tr("Add Photos…"))
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.add_button.clicked.connect(self.ask_files)
        add_menu = QMenu(self.add_button)
        add_menu.addAction(self.tr("Add Photos…"), self.ask_files)
        add_menu.addAction(self.tr("Add a Folder…"), self.ask_folder)
        self.add_button.setMenu(add_menu)
        for widget in (self.sort, self.activity_button, self.members_button, self.invite_button, self.add_button):
            header.addWidget(widget)
        grid_layout.addLayout(header)
        self.removal_banner = RemovalBanner()
        self.removal_banner.remove_requested.connect(self.remove_from_device)
        grid_layout.addWidget(self.removal_banner)
        self.import_progress = ImportProgress()
        grid_layout.addWidget(self.import_progress)
        self.grid = PhotoGridView()
        self.grid.setModel(self.model)
        self.grid.files_dropped.connect(self.add_paths)
        self.grid.open_requested.connect(self.open_viewer)
        self.grid.selectionModel().selectionChanged.connect(self._selection_changed)
        beside = QHBoxLayout()
        beside.addWidget(self.grid, 1)
        self.activity = ActivityPanel()
        beside.addWidget(self.activity)
        grid_layout.addLayout(beside, 1)
        self.selection_bar = QHBoxLayout()
        self.selection_label = QLabel()
        self.export_button = QPushButton(self.tr("Export Originals…"))
        self.export_button.clicked.connect(self.ask_export)
        self.delete_button = QPushButton(self.tr("Delete"))
        self.delete_button.clicked.connect(self.ask_delete)
        self.selection_bar.addWidget(self.selection_label, 1)
        self.selection_bar.addWidget(self.export_button)
        self.selection_bar.addWidget(self.delete_button)
        grid_layout.addLayout(self.selection_bar)
        self.pages.addWidget(grid_page)
        self.viewer = PhotoViewer(self._client, decoder)
        self.viewer.closed.connect(self.close_viewer)
        self.pages.addWidget(self.viewer)
        layout.addWidget(self.pages)
        self.delete_action = QAction(self.tr("Delete Photos"), self)
        self.delete_action.setShortcut(QKeySequence.StandardKey.Delete)
        self.delete_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.delete_action.triggered.connect(self.ask_delete)
        self.grid.addAction(self.delete_action)
        self._selection_changed()

    # --- showing an album -----------------------------------------------------------

    def show_thread(self, summary: ThreadSummary) -> None:
        same = self._summary is not None and self._summary.thread_id == summary.thread_id
        self._summary = summary
        self.title.setText(summary.name or "")
        self._show_counts(summary.photo_count)
        self.add_button.setEnabled(summary.can_write)
        self.add_button.setToolTip("" if summary.can_write else self.tr("You can view this album but not add to it"))
        self.grid.setAcceptDrops(summary.can_write)
        self.grid.empty_text = (self.tr("Drop photos or folders here, or click Add Photos")
                                if summary.can_write else self.tr("No photos yet"))
        self.invite_button.setVisible(summary.can_read and summary.can_invite and not summary.removed)
        self._check_selection(keep_shown=same)  # the role may have changed
        if not same:
            self.pages.setCurrentIndex(0)
            self._open_when_known = None
            self.model.show_count(summary.photo_count)  # now, not when the task starts: painted at once
            self.removal_banner.show_removal(None, ThreadKind.ALBUM)
            self.activity.list.clear()
            self._spawn(self._open())
        self._spawn(self._load_membership(summary))

    def _show_counts(self, count: int) -> None:
        self.subtitle.setText(self.tr("1 photo") if count == 1 else self.tr("{n} photos").format(n=count))

    async def _open(self) -> None:
        """The rows are there (`show_count`, for the album's count): the first
        screen's photos are fetched by position, then the whole order behind
        them. What the first paint waits for follows the screen, not the album."""
        summary = self._summary
        await self.model.load_page(0)
        if summary is not None and self._summary is not None and self._summary.thread_id == summary.thread_id:
            await self._reload()  # (else another album was opened meanwhile)

    def _reload_soon(self) -> None:
        """Read the order again, once for however many change sets come while
        a read is on its way (a peer's photos arrive a few per change set,
        and a read takes 100-200 ms at 100,000 photos)."""
        if self._reloading:
            self._reload_again = True
            return
        self._reloading = True
        self._spawn(self._reload_until_settled())

    async def _reload_until_settled(self) -> None:
        try:
            self._reload_again = True
            while self._reload_again:
                self._reload_again = False
                await self._reload()
        finally:
            self._reloading = False

    async def _reload(self) -> None:
        summary = self._summary
        if summary is None:
            return
        ids = await self._client.run(photo_ops.ordered_ids, summary.thread_id, self._newest_first)
        if self._summary is None or self._summary.thread_id != summary.thread_id:
            return  # another album was opened meanwhile
        self.model.set_ids(ids)
        self._show_counts(len(ids))
        self.photos_loaded.emit()
        if self._open_when_known is not None:
            row, self._open_when_known = self._open_when_known, None
            self.open_viewer(row)

    async def _fetch_page(self, offset: int, limit: int) -> tuple[list[str], list[PhotoCard]]:
        summary = self._summary
        if summary is None:
            return [], []
        page = await self._client.run(photo_ops.page, summary.thread_id, self._newest_first, offset, limit)
        return page.ids, page.cards

    async def _fetch_cards(self, ids: list[str]) -> list[PhotoCard]:
        summary = self._summary
        if summary is None:
            return []
        return await self._client.run(photo_ops.cards, summary.thread_id, ids)

    def _sort_changed(self, index: int) -> None:
        self._newest_first = index == 0
        self.sort_changed.emit(self._newest_first)
        self._open_when_known = None
        self.model.show_count(self.model.rowCount())
        self._spawn(self._open())

    def _on_engine_changed(self, changes: ChangeSet) -> None:
        summary = self._summary
        if summary is None:
            return

        def photos(documents: frozenset[tuple[ThreadId, str, str]]) -> list[str]:
            return [doc for thread, collection, doc in documents
                    if thread == summary.thread_id and collection == "photo"]

        came, gone, updated = (photos(changes.documents_created), photos(changes.documents_deleted),
                               photos(changes.documents_updated()))
        if updated:  # a caption, say: only those cells are fetched again
            self.model.refresh(updated)
        if came or (gone and not self.model.complete()):  # where photos go comes from the album's order
            self._reload_soon()
        elif gone:  # nothing to ask: their rows go
            removed = frozenset(gone)
            self.model.set_ids([photo_id for photo_id in self.model.ids() if photo_id not in removed])
            self._show_counts(self.model.rowCount())
        if came or gone or updated or summary.thread_id in changes.threads_updated:
            self._check_selection(keep_shown=True)  # a role change arrives as a thread update
        names = any(t == summary.thread_id and c == "member_profile" for t, c, _d in changes.documents)
        if summary.thread_id in changes.membership or names:
            self._spawn(self._load_membership(summary))  # an ACL event settled (a notice, a removal), or a name

    # --- membership: the removal banner and the activity ---------------------------------------

    async def _load_membership(self, summary: ThreadSummary) -> None:
        self._membership_asked += 1
        asked = self._membership_asked
        with_activity = self.activity_button.isChecked()
        removal = await self._client.run(notice_ops.load_removal, summary.thread_id)
        notices = await self._client.run(notice_ops.load_notices, summary.thread_id) if with_activity else None
        if self._summary is None or self._summary.thread_id != summary.thread_id or asked != self._membership_asked:
            return  # another album, or a newer answer is on its way
        self.removal_banner.show_removal(removal, ThreadKind.ALBUM)
        if notices is not None:
            self.activity.show_notices(notices)
        self.membership_loaded.emit()

    def _activity_toggled(self, shown: bool) -> None:
        self.activity.setVisible(shown)
        if shown and self._summary is not None:
            self._spawn(self._load_membership(self._summary))  # loaded when opened

    def remove_from_device(self) -> None:
        """Delete the album we were removed from, here, at once."""
        if self._summary is not None:
            self._spawn(self._remove_from_device(self._summary.thread_id))

    async def _remove_from_device(self, thread_id: ThreadId) -> None:
        await self._client.run(notice_ops.remove_from_device, thread_id)
        self.message.emit(self.tr("Removed from this device."))

    # --- adding ------------------------------------------------------------------------

    def ask_files(self) -> None:
        dialog = QFileDialog(self, self.tr("Add photos"))
        dialog.setFileMode(QFileDialog.FileMode.ExistingFiles)
        dialog.setNameFilter(self.tr(IMAGE_FILTER))
        dialog.filesSelected.connect(lambda files: self.add_paths([Path(f) for f in files]))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()  # open(), not exec(): no nested event loop under qasync

    def ask_folder(self) -> QFileDialog:
        dialog = QFileDialog(self, self.tr("Add a folder of photos"))
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly)
        dialog.fileSelected.connect(lambda folder: self.add_paths([Path(folder)]))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def add_paths(self, paths: list[Path]) -> PhotoImport | None:
        summary = self._summary
        if summary is None or not summary.can_write:
            return None
        if self.current_import is not None:
            self.message.emit(self.tr("Photos are still being added; add these when that is done."))
            return None
        importer = PhotoImport(self._client, summary.thread_id, paths, self)
        self.current_import = importer
        importer.progressed.connect(self.import_progress.show_progress)
        self.import_progress.stop_requested.connect(importer.cancel)
        self.import_progress.start(summary.name or self.tr("this album"))
        self._spawn(self._import(importer))
        return importer

    async def _import(self, importer: PhotoImport) -> None:
        try:
            result: ImportSummary = await importer.run()
        finally:
            self.current_import = None
            self.import_progress.stop_requested.disconnect(importer.cancel)
            self.import_progress.hide()
        self.message.emit(result.message())
        self.import_finished.emit(result)

    # --- the selection: export, delete ---------------------------------------------------

    def selected_ids(self) -> list[str]:
        rows = sorted(index.row() for index in self.grid.selectionModel().selectedIndexes())
        ids = (self.model.index(row).data(PhotoRole.PHOTO_ID) for row in rows)
        return [str(photo_id) for photo_id in ids if photo_id]  # rows still loading are not selected yet

    def select_rows(self, rows: list[int]) -> None:
        selection = self.grid.selectionModel()
        selection.clearSelection()
        for row in rows:
            selection.select(self.model.index(row), QItemSelectionModel.SelectionFlag.Select)

    def _selection_changed(self) -> None:
        self._check_selection(keep_shown=False)

    def _check_selection(self, keep_shown: bool) -> None:
        """Show what the selection offers. keep_shown: the selection is the same and only
        the album changed, so what is shown stays until the ACL answers again (an incoming
        photo or comment must not grey Delete out for a moment)."""
        count = len(self.grid.selectionModel().selectedIndexes())
        can_write = self._summary is not None and self._summary.can_write
        self.export_button.setEnabled(count > 0)
        if not (keep_shown and can_write):  # a write right lost is shown at once
            self.selection_label.setText(self.tr("{n} selected").format(n=count) if count else
                                         self.tr("Double-click a photo to view it; select several to export them"))
            # Offered only once the ACL says yes for every selected photo.
            self._may_delete_selection = False
            self.delete_button.setEnabled(False)
            self.delete_action.setEnabled(False)
            self.delete_button.setToolTip("" if can_write else self.tr("You can view this album but not change it"))
        if count and can_write and self._summary is not None:
            self._spawn(self._check_deletable(self._summary.thread_id, self.selected_ids()))
        else:
            self.actions_checked.emit(self.selected_ids())

    async def _check_deletable(self, thread_id: ThreadId, ids: list[str]) -> None:
        allowed = await self._client.run(photo_ops.deletable, thread_id, ids)
        if self._summary is None or self._summary.thread_id != thread_id or self.selected_ids() != ids:
            return  # the selection moved on: its own check answers
        self._may_delete_selection = allowed and self._summary.can_write
        self.delete_button.setEnabled(self._may_delete_selection)
        self.delete_action.setEnabled(self._may_delete_selection)
        self.delete_button.setToolTip("" if allowed else self.tr("You can delete only photos you added yourself"))
        self.selection_label.setText(  # said where it is seen, not only on hovering a greyed button
            self.tr("{n} selected").format(n=len(ids)) if allowed else
            self.tr("{n} selected: you can delete only photos you added yourself").format(n=len(ids)))
        self.actions_checked.emit(ids)

    def ask_delete(self) -> QMessageBox | None:
        ids = self.selected_ids()
        if not ids or self._summary is None or not self._may_delete_selection:
            return None
        box = QMessageBox(QMessageBox.Icon.Question, self.tr("Delete photos"),
                          (self.tr("Delete this photo from the album for everyone in it?") if len(ids) == 1 else
                           self.tr("Delete {n} photos from the album for everyone in it?").format(n=len(ids))),
                          QMessageBox.StandardButton.Cancel, self)
        delete = box.addButton(self.tr("Delete"), QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        thread_id = self._summary.thread_id
        delete.clicked.connect(lambda: self._spawn(self._delete(thread_id, ids)))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.confirm_box = box
        return box

    async def _delete(self, thread_id: ThreadId, ids: list[str]) -> None:
        try:
            await self._client.run(photo_ops.delete_photos, thread_id, ids)
        except ThreadsError as exc:  # the role changed since the check
            self.failed.emit(refused(self.tr("Could not delete the photos"), exc))
            return
        self.message.emit(self.tr("Deleted {n} photo(s).").format(n=len(ids)))
        self.deleted.emit(len(ids))

    def ask_export(self) -> QFileDialog | None:
        ids = self.selected_ids()
        if not ids:
            return None
        dialog = QFileDialog(self, self.tr("Export originals to"))
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly)
        dialog.fileSelected.connect(lambda folder: self.export_to(ids, Path(folder)))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def export_to(self, ids: list[str], folder: Path) -> None:
        if self._summary is not None:
            self._spawn(self._export(self._summary.thread_id, ids, folder))

    async def _export(self, thread_id: ThreadId, ids: list[str], folder: Path) -> None:
        result = await self._client.run(photo_ops.export_photos, thread_id, ids, folder)
        text = self.tr("Exported {n} original(s) to {folder}.").format(n=len(result.written), folder=folder)
        if result.missing:
            text += " " + self.tr("{n} original(s) are still on other devices: they are being fetched; "
                                  "export them again in a moment.").format(n=len(result.missing))
        self.message.emit(text)
        self.export_finished.emit(result)

    # --- the viewer --------------------------------------------------------------------

    def open_viewer(self, row: int) -> None:
        if self._summary is None or not 0 <= row < self.model.rowCount():
            return
        if not self.model.complete():  # the viewer steps through the order: opened once it is here
            self._open_when_known = row
            return
        self.viewer.show_photos(self._summary.thread_id, self.model.ids(), row)
        self.pages.setCurrentWidget(self.viewer)

    def close_viewer(self) -> None:
        photo_id = self.viewer.current_photo()
        self.pages.setCurrentIndex(0)
        row = self.model.row_of(photo_id) if photo_id else -1
        if row >= 0:
            index = self.model.index(row)
            self.grid.setCurrentIndex(index)
            self.grid.scrollTo(index)
        self.grid.setFocus()

    # --- tasks ---------------------------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        self._tasks.spawn(work)

    def cancel_work(self) -> None:
        self._tasks.cancel_all(close=True)
        self.viewer.cancel_work()
        self.model.cancel()
