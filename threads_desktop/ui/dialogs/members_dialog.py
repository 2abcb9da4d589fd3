"""Who is in an album or chat, and what each may do: the ACL editor. Admins
change roles, remove members, set the role of anyone not listed, revoke
invites, approve or decline the people asking to join (and see the attempts
refused, and why) and see the changes the rules refused; everyone else sees the same
controls, disabled, with a tooltip saying why. Every change is one engine
call; the dialog then shows what the engine holds (a reload), here and, as
the change syncs, on every member's screen."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import QAbstractItemModel, Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHeaderView,
    QLabel,
    QMessageBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from threads_desktop.engine.core.errors import ThreadsError
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ChangeSet, ThreadKind, ThreadSummary
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.models.join_request_model import JoinRequestModel, RequestColumn, RequestRole
from threads_desktop.ui.models.member_invite_model import InviteColumn, InviteRole, MemberInviteModel
from threads_desktop.ui.models.member_refusal_model import MemberRefusalModel, RefusalColumn
from threads_desktop.ui.models.member_table_model import (
    MemberColumn,
    MemberRole,
    MemberTableModel,
    admins_only_text,
    role_explanation,
    role_text,
)
from threads_desktop.ui.operations.joins import approve_join, decline_join
from threads_desktop.ui.operations.members import (
    MembersSnapshot,
    load_members,
    remove_member,
    revoke_invite,
    set_default_role,
    set_member_role,
)
from threads_desktop.ui.people import person
from threads_desktop.ui.refusals import explain
from threads_desktop.ui.tasks import Tasks
from threads_desktop.ui.widgets.member_delegates import MemberButtonDelegate, MemberRoleDelegate

REQUEST_ROWS_SHOWN = 4  # people asking to join shown without scrolling
DEFAULT_CHOICES = (Role.NO_ACCESS, Role.FOLLOW, Role.READ, Role.WRITE, Role.DELETE)


class MembersDialog(QDialog):
    loaded = Signal()  # after every (re)load
    failed = Signal(str)
    changed = Signal()  # after a change the engine accepted

    def __init__(self, client: EngineClient, summary: ThreadSummary, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client = client
        self._summary = summary
        self._tasks = Tasks(self._failed)
        self._loading = False
        self._stale = True  # reload when shown or when the current load ends
        self.snapshot: MembersSnapshot | None = None
        self.confirm_remove: QMessageBox | None = None
        kind = summary.kind
        self.setWindowTitle(self.tr("Members of “%1”").replace("%1", summary.name or self.tr("Encrypted backup")))
        self.setMinimumSize(640, 560)

        self.intro = QLabel(self.tr("Who can see and add to this album.") if kind is not ThreadKind.CHAT
                            else self.tr("Who can read and write in this chat."))
        self.intro.setWordWrap(True)
        self.members = MemberTableModel(kind)
        self.member_view = self._table(self.members, MemberColumn.MEMBER)
        self.member_view.setItemDelegateForColumn(MemberColumn.ROLE, MemberRoleDelegate(self.member_view))
        self.remove_delegate = MemberButtonDelegate(MemberRole.PEER_ID, self.member_view)
        self.remove_delegate.clicked.connect(self.ask_remove)
        self.member_view.setItemDelegateForColumn(MemberColumn.REMOVE, self.remove_delegate)
        self.members.role_change_requested.connect(self._on_role_picked)
        self.members.modelReset.connect(lambda: self._open_editors(self.member_view, MemberColumn.ROLE,
                                                                   MemberColumn.REMOVE))

        self.default_role = QComboBox()
        for role in DEFAULT_CHOICES:
            self.default_role.addItem(role_text(role), role)
            self.default_role.setItemData(self.default_role.count() - 1, role_explanation(role),
                                          Qt.ItemDataRole.ToolTipRole)
        self.default_role.setEnabled(False)
        self.default_role.currentIndexChanged.connect(self._on_default_picked)
        default_form = QFormLayout()
        default_form.addRow(self.tr("Anyone not listed:"), self.default_role)

        self.invites = MemberInviteModel(kind)
        self.invite_view = self._table(self.invites, InviteColumn.EXPIRES)
        self.revoke_delegate = MemberButtonDelegate(InviteRole.KEY, self.invite_view)
        self.revoke_delegate.clicked.connect(self.revoke)
        self.invite_view.setItemDelegateForColumn(InviteColumn.REVOKE, self.revoke_delegate)
        self.invites.modelReset.connect(lambda: self._open_editors(self.invite_view, InviteColumn.REVOKE))
        self.no_invites = QLabel(self.tr("No invites yet."))
        self.no_invites.setEnabled(False)
        invite_box = QGroupBox(self.tr("Invites"))
        invite_layout = QVBoxLayout(invite_box)
        invite_layout.addWidget(self.invite_view)
        invite_layout.addWidget(self.no_invites)

        self.refusals = MemberRefusalModel()
        self.refusal_view = self._table(self.refusals, RefusalColumn.WHY)
        self.refusal_box = QGroupBox(self.tr("Refused changes"))
        refusal_layout = QVBoxLayout(self.refusal_box)
        hint = QLabel(self.tr("Changes members made without the right to: every device refuses them."))
        hint.setWordWrap(True)
        refusal_layout.addWidget(hint)
        refusal_layout.addWidget(self.refusal_view)
        self.refusal_box.hide()  # for admins, once there is something to show

        self.requests = JoinRequestModel()
        self.request_view = self._table(self.requests, RequestColumn.STATUS)
        self.approve_delegate = MemberButtonDelegate(RequestRole.REQUEST_ID, self.request_view)
        self.approve_delegate.clicked.connect(self.approve)
        self.decline_delegate = MemberButtonDelegate(RequestRole.REQUEST_ID, self.request_view)
        self.decline_delegate.clicked.connect(self.decline)
        self.request_view.setItemDelegateForColumn(RequestColumn.APPROVE, self.approve_delegate)
        self.request_view.setItemDelegateForColumn(RequestColumn.DECLINE, self.decline_delegate)
        self.requests.modelReset.connect(self._open_request_buttons)
        self.request_box = QGroupBox(self.tr("People asking to join"))
        request_layout = QVBoxLayout(self.request_box)
        self.request_hint = QLabel()
        self.request_hint.setWordWrap(True)
        request_layout.addWidget(self.request_hint)
        request_layout.addWidget(self.request_view)
        self.request_box.hide()  # for admins, once someone asked

        self.error = QLabel()
        self.error.setStyleSheet("color: #b3261e")
        self.error.setWordWrap(True)
        self.error.setTextFormat(Qt.TextFormat.PlainText)  # may quote what peers wrote
        self.error.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)

        self._content = QWidget()
        content = QVBoxLayout(self._content)
        content.setContentsMargins(0, 0, 0, 0)
        content.addWidget(self.intro)
        content.addWidget(self.request_box)  # as tall as its rows (_open_request_buttons): members keep the room
        content.addWidget(self.member_view, 3)
        content.addLayout(default_form)
        content.addWidget(invite_box, 2)
        content.addWidget(self.refusal_box, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self._content, 1)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        client.changed.connect(self._on_engine_changed)

    def _table(self, model: QAbstractItemModel, stretch: int = 0) -> QTableView:
        """A table whose column `stretch` takes the spare width."""
        view = QTableView()
        view.setModel(model)
        view.verticalHeader().hide()
        view.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)  # the editors are always open
        view.setWordWrap(False)
        view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header = view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
        view.setMouseTracking(True)  # tooltips of disabled cells
        return view

    def _open_editors(self, view: QTableView, *columns: int) -> None:
        model = view.model()
        header = view.horizontalHeader()
        for column in columns:
            # Sized for its editors: the header would size it for the text under them.
            widths = [header.sectionSizeHint(column)]
            for row in range(model.rowCount()):
                index = model.index(row, column)
                view.openPersistentEditor(index)
                editor = view.indexWidget(index)
                if editor is not None:
                    widths.append(editor.sizeHint().width())
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Fixed)
            header.resizeSection(column, max(widths))
        view.resizeRowsToContents()

    # --- loading -----------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.reload()

    def reload(self) -> None:
        """Load again now, or once the load under way ends (changes can come
        in bursts while syncing: at most one load runs, one more follows)."""
        self._stale = True
        if not self._loading:
            self._spawn(self._load())

    async def _load(self) -> None:
        self._loading = True
        try:
            while self._stale:
                self._stale = False
                snapshot = await self._client.run(load_members, self._summary.thread_id)
                self._show(snapshot)
        finally:
            self._loading = False
        self.loaded.emit()

    def _show(self, snapshot: MembersSnapshot) -> None:
        self.snapshot = snapshot
        self.members.set_members(snapshot.members, i_am_admin=snapshot.admin, names=snapshot.names,
                                 devices=snapshot.devices)
        self.invites.set_invites(snapshot.invites, me=snapshot.me, i_am_admin=snapshot.admin, names=snapshot.names)
        self.invite_view.setVisible(bool(snapshot.invites))
        self.no_invites.setVisible(not snapshot.invites)
        self.refusals.set_refusals(snapshot.refusals, me=snapshot.me, names=snapshot.names)
        self.refusal_box.setVisible(snapshot.admin and bool(snapshot.refusals))
        self.requests.set_requests(snapshot.requests, snapshot.invites, names=snapshot.names, me=snapshot.me)
        self.request_box.setVisible(snapshot.admin and bool(snapshot.requests))
        waiting = self.requests.waiting_count()
        self.request_box.setTitle(self.tr("People asking to join") if waiting else self.tr("Refused attempts to join"))
        for column in (RequestColumn.APPROVE, RequestColumn.DECLINE):  # nothing to decide: no empty columns
            self.request_view.setColumnHidden(column, not waiting)
        self.request_hint.setText(
            self.tr("They used a link that asks you first. Approve lets them in; they get what the link "
                    "offers.") if waiting else
            self.tr("Attempts to join with a link that no longer lets anyone in."))
        self.default_role.blockSignals(True)  # showing it is not the user picking it
        self.default_role.setCurrentIndex(self.default_role.findData(snapshot.default_role))
        self.default_role.blockSignals(False)
        self.default_role.setEnabled(snapshot.admin)
        self.default_role.setToolTip(
            self.tr("The role of anyone with the keys whom this list does not name") if snapshot.admin
            else admins_only_text(self._summary.kind))

    def _on_engine_changed(self, changes: ChangeSet) -> None:
        thread_id = self._summary.thread_id
        # Members, roles, invites and refusals change with control events and
        # refusals (changes.membership), names with member_profile documents;
        # a message or a photo changes nothing shown here.
        if (thread_id in changes.membership or thread_id in changes.threads_added
                or (thread_id, "member_profile") in {(t, c) for t, c, _d in changes.documents}):
            if self.isVisible():
                self.reload()
            else:
                self._stale = True  # shown again later: load then

    # --- changes -----------------------------------------------------------------------

    def set_role(self, peer_id: str, role: Role) -> None:
        self._change(set_member_role, peer_id, role)

    def _person(self, peer_id: str) -> str:
        return person(self.snapshot.names.get(peer_id) if self.snapshot else None, peer_id)

    def ask_remove(self, peer_id: str) -> QMessageBox:
        """Ask before removing: it cannot be undone by the removed member's
        devices, which stop receiving anything new."""
        box = QMessageBox(QMessageBox.Icon.Question, self.tr("Remove member"),
                          self.tr("Remove %1? They keep what they already have, but nothing added from now "
                                  "on reaches them, and their app tells them they were removed.").replace(
                              "%1", self._person(peer_id)),
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.button(QMessageBox.StandardButton.Yes).setText(self.tr("Remove"))
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.accepted.connect(lambda: self.remove(peer_id))
        self.confirm_remove = box
        box.open()  # never exec(): a nested loop inside qasync would re-enter
        return box

    def remove(self, peer_id: str) -> None:
        self._change(remove_member, peer_id)

    def set_default(self, role: Role) -> None:
        self._change(set_default_role, role)

    def revoke(self, invite_key: bytes) -> None:
        self._change(revoke_invite, invite_key)

    def approve(self, request_id: bytes) -> None:
        """Let in someone waiting for approval (the admit is written now; their
        device gets the keys when it asks again)."""
        self._change(approve_join, request_id)

    def decline(self, request_id: bytes) -> None:
        self._change(decline_join, request_id)

    def _open_request_buttons(self) -> None:
        """Approve and Decline only on the rows still waiting."""
        for row in range(self.requests.rowCount()):
            if self.requests.index(row, 0).data(RequestRole.STATUS) == "waiting":
                for column in (RequestColumn.APPROVE, RequestColumn.DECLINE):
                    self.request_view.openPersistentEditor(self.requests.index(row, column))
        self.request_view.resizeColumnsToContents()
        self.request_view.horizontalHeader().setSectionResizeMode(RequestColumn.STATUS,
                                                                  QHeaderView.ResizeMode.Stretch)
        self.request_view.resizeRowsToContents()
        shown = min(self.requests.rowCount(), REQUEST_ROWS_SHOWN)  # more scroll
        rows = sum(self.request_view.rowHeight(row) for row in range(shown))
        self.request_view.setFixedHeight(self.request_view.horizontalHeader().sizeHint().height() + rows
                                         + 2 * self.request_view.frameWidth() + 2)

    def _on_role_picked(self, peer_id: str, role: Role) -> None:
        self.set_role(peer_id, role)

    def _on_default_picked(self, _row: int) -> None:
        role = self.default_role.currentData()
        if isinstance(role, Role):
            self.set_default(role)

    def _change(self, operation: Callable[..., None], *args: Any) -> None:
        self.error.hide()
        self._content.setEnabled(False)  # one change at a time
        self._spawn(self._run_change(operation, *args))

    async def _run_change(self, operation: Callable[..., None], *args: Any) -> None:
        try:
            await self._client.run(operation, self._summary.thread_id, *args)
        except ThreadsError as exc:
            self.error.setText(explain(exc))
            self.error.show()
            self.failed.emit(explain(exc))
        else:
            self.changed.emit()
        finally:
            self._content.setEnabled(True)
            self.reload()  # what the engine holds now, accepted or not

    # --- tasks -------------------------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        self._tasks.spawn(work)

    def _failed(self, error: BaseException) -> None:  # a load that failed, or an unexpected error in a change
        message = explain(error)
        self.error.setText(message)
        self.error.show()
        self.failed.emit(message)

    def done(self, result: int) -> None:
        self._tasks.cancel_all()
        self._stale = True  # opened again later: load afresh
        super().done(result)
