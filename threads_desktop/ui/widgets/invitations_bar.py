"""Invitations from people nearby, waiting for an answer: who invites us to
what and with which role, with Accept and Decline. The bar hides itself
while none waits; the window shows `badge_text()` wherever it likes."""

from __future__ import annotations

import asyncio
from typing import Any

import shiboken6
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from threads_desktop.engine.core.errors import ThreadsError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import ChangeSet
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.models.coalescing_load import CoalescingLoad
from threads_desktop.ui.models.invitation_model import InvitationModel, InvitationRole
from threads_desktop.ui.operations import invites as invite_ops
from threads_desktop.ui.refusals import explain

_MAX_VISIBLE_ROWS = 3
_ERROR_STYLE = "color: #b3261e"

# --- on the engine thread ---------------------------------------------------------------


# --- on the GUI thread --------------------------------------------------------------------


class _TwoLineDelegate(QStyledItemDelegate):
    """Rows exactly two lines high (headline, role), whatever the width."""

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return QSize(option.rect.width(), 2 * option.fontMetrics.lineSpacing() + 10)


class InvitationsBar(QFrame):
    accepted = Signal(object)  # ThreadId joined
    declined = Signal()
    count_changed = Signal(int)
    loaded = Signal()  # after each load shown
    failed = Signal(str)

    def __init__(self, client: EngineClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client = client
        self._tasks: set[asyncio.Task[Any]] = set()
        self._busy = False
        self._count = 0
        self.model = InvitationModel(self)
        self._load = CoalescingLoad(lambda: client.run(invite_ops.load_invitations), self.model.set_invitations,
                                    alive=lambda: shiboken6.isValid(self), loaded=self.loaded.emit,
                                    failed=lambda exc: self.failed.emit(explain(exc)))
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel()
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.view = QListView()
        self.view.setModel(self.model)
        # Two elided lines a row (the full text in the tooltip): wrapping
        # would make the row heights depend on the sidebar's width.
        self.view.setWordWrap(False)
        self.view.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.view.setUniformItemSizes(True)
        self.view.setItemDelegate(_TwoLineDelegate(self.view))
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.setFrameShape(QFrame.Shape.NoFrame)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.selectionModel().currentChanged.connect(lambda *_: self._update_buttons())
        self.accept_button = QPushButton(self.tr("Accept"))
        self.accept_button.clicked.connect(self.accept_selected)
        self.decline_button = QPushButton(self.tr("Decline"))
        self.decline_button.clicked.connect(self.decline_selected)
        self.error = QLabel()
        self.error.setStyleSheet(_ERROR_STYLE)
        self.error.setWordWrap(True)
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.hide()
        buttons = QHBoxLayout()
        buttons.addStretch()
        buttons.addWidget(self.decline_button)
        buttons.addWidget(self.accept_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.title)
        layout.addWidget(self.view)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        self.model.rowsInserted.connect(self._fit)
        self.model.rowsRemoved.connect(self._fit)
        client.changed.connect(self._on_changes)
        self._fit()
        self.refresh()

    # --- what waits --------------------------------------------------------------------

    def pending_count(self) -> int:
        return self.model.rowCount()

    def badge_text(self) -> str:
        """"1 invitation", "3 invitations", or "" when none waits."""
        count = self.pending_count()
        if count == 0:
            return ""
        return self.tr("1 invitation") if count == 1 else self.tr("%1 invitations").replace("%1", str(count))

    def _on_changes(self, changes: ChangeSet) -> None:
        # A sender's name is learnt nearby (the nearby list changed) or in a
        # thread we share (a member told its name); transfers change neither.
        names = changes.nearby is not None or any(
            collection == "member_profile" for _t, collection, _d in changes.documents)
        if changes.invites or (names and self.pending_count()):
            self.refresh()

    def refresh(self) -> None:
        self._load.refresh()

    def _fit(self) -> None:
        count = self.pending_count()
        self.title.setText(self.badge_text())
        if count and not self.view.currentIndex().isValid():
            self.view.setCurrentIndex(self.model.index(0))
        row_height = 2 * self.view.fontMetrics().lineSpacing() + 10  # as _TwoLineDelegate sizes rows
        self.view.setFixedHeight(min(count, _MAX_VISIBLE_ROWS) * row_height + 2 * self.view.frameWidth())
        self.setVisible(count > 0)
        self._update_buttons()
        if count != self._count:
            self._count = count
            self.count_changed.emit(count)

    def _update_buttons(self) -> None:
        enabled = self.view.currentIndex().isValid() and not self._busy
        self.accept_button.setEnabled(enabled)
        self.decline_button.setEnabled(enabled)

    # --- answers -----------------------------------------------------------------------

    def select(self, invite_id: bytes) -> None:
        row = self.model.row_of(invite_id)
        if row >= 0:
            self.view.setCurrentIndex(self.model.index(row))

    def accept_selected(self) -> None:
        index = self.view.currentIndex()
        if index.isValid() and not self._busy:
            self._answer(self._accept(bytes(index.data(InvitationRole.INVITE_ID))))

    def decline_selected(self) -> None:
        index = self.view.currentIndex()
        if index.isValid() and not self._busy:
            self._answer(self._decline(bytes(index.data(InvitationRole.INVITE_ID))))

    def _answer(self, work: Any) -> None:
        self._busy = True
        self.error.hide()
        self._update_buttons()
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _accept(self, invite_id: bytes) -> None:
        try:
            thread_id: ThreadId = await self._client.run(invite_ops.accept_invite, invite_id)
        except ThreadsError as exc:
            self._show_error(self.tr("Could not accept: %1").replace("%1", explain(exc)))
            return
        finally:
            self._done()
        self.accepted.emit(thread_id)

    async def _decline(self, invite_id: bytes) -> None:
        try:
            await self._client.run(invite_ops.decline_invite, invite_id)
        except ThreadsError as exc:
            self._show_error(self.tr("Could not decline: %1").replace("%1", explain(exc)))
            return
        finally:
            self._done()
        self.declined.emit()

    def _done(self) -> None:
        if shiboken6.isValid(self):
            self._busy = False
            self._update_buttons()

    def _show_error(self, message: str) -> None:
        if shiboken6.isValid(self):
            self.error.setText(message)
            self.error.show()
            self.failed.emit(message)
