"""The members dialog against real engines: an admin changes a member's role
and removes them over the network, and the member's own dialog follows;
invites are revoked and the default role kept; a member who is not an admin
sees every control disabled with the reason; an admin sees refused changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import qasync
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QMessageBox, QPushButton, QWidget

from tests.engine.eventstore.peers import envelopes_of, force_commit, message_id
from tests.ui.waiting import wait_for
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind, ThreadSummary
from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.dialogs.members_dialog import MembersDialog
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.models.member_invite_model import InviteColumn, InviteRole
from threads_desktop.ui.models.member_refusal_model import RefusalColumn, RefusalRole
from threads_desktop.ui.models.member_table_model import MemberColumn, MemberRole
from threads_desktop.ui.people import short_id

T = TypeVar("T")
ADMINS_ONLY = "Only the album's admins can change roles"


def _engine(qtbot: Any, client: EngineClient, fn: Callable[..., T], *args: Any) -> T:
    """Run `fn(node, *args)` on the engine thread and wait for its result."""
    return wait_for(qtbot, client.run(fn, *args))


def _open(qtbot: Any, client: EngineClient, summary: ThreadSummary) -> MembersDialog:
    dialog = MembersDialog(client, summary)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.loaded, timeout=10_000):
        dialog.open()
    return dialog


def _editor(dialog: MembersDialog, peer: str, column: MemberColumn) -> QWidget:
    row = dialog.members.row_of(peer)
    assert row >= 0, f"{peer} is not listed"
    widget = dialog.member_view.indexWidget(dialog.members.index(row, column))
    assert widget is not None
    return widget


def _role_shown(dialog: MembersDialog, peer: str) -> Role | None:
    row = dialog.members.row_of(peer)
    return None if row < 0 else dialog.members.index(row, 0).data(MemberRole.ROLE)


def _album(qtbot: Any, client: EngineClient, name: str = "Lisbon") -> ThreadSummary:
    return _engine(qtbot, client, Node.create_thread, ThreadKind.ALBUM, name)


def _invite(node: Node, thread_id: ThreadId, role: Role) -> str:
    return node.invite(thread_id, role, expires_in=7 * 86400).to_uri()


def _roles(node: Node, thread_id: ThreadId, peer: str) -> frozenset[Role]:
    return node.membership.roles(thread_id, peer)


def _newest_epoch(node: Node, thread_id: ThreadId) -> int:
    return node.store.thread_keys(thread_id)[0].epoch


def _peer_id(node: Node) -> str:
    return str(node.identity.peer_id)


def test_an_admin_changes_a_members_role_and_removes_them_and_the_member_sees_it(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, two_app_engines: tuple[EngineRuntime, EngineRuntime]) -> None:
    client_a, client_b = (EngineClient(engine, qt_loop) for engine in two_app_engines)
    summary = _album(qtbot, client_a)
    thread_id = summary.thread_id
    a_id, b_id = _engine(qtbot, client_a, _peer_id), _engine(qtbot, client_b, _peer_id)
    link = _engine(qtbot, client_a, _invite, thread_id, Role.WRITE)
    dialog_a = _open(qtbot, client_a, summary)
    _engine(qtbot, client_b, Node.set_display_name, "Bruno")
    _engine(qtbot, client_b, Node.join, InviteLink.parse(link))

    # B's join comes over the network; A's dialog reloads on its own.
    qtbot.waitUntil(lambda: dialog_a.members.row_of(b_id) >= 0
                    and dialog_a.members.member(dialog_a.members.row_of(b_id)).joined, timeout=60_000)
    assert _role_shown(dialog_a, b_id) is Role.WRITE
    me_combo = _editor(dialog_a, a_id, MemberColumn.ROLE)
    assert not me_combo.isEnabled() and "your own role" in me_combo.toolTip()
    assert me_combo.property("currentText") == "Admin"  # not a role to pick: above them all
    assert "you" in dialog_a.members.index(dialog_a.members.row_of(a_id), 0).data()
    assert "admin" in dialog_a.members.index(dialog_a.members.row_of(a_id), 0).data()
    # The invite was used once.
    assert dialog_a.invites.index(0, InviteColumn.USES).data() == "1/1"

    dialog_b = _open(qtbot, client_b, summary)
    qtbot.waitUntil(lambda: _role_shown(dialog_b, b_id) is Role.WRITE, timeout=30_000)

    combo = _editor(dialog_a, b_id, MemberColumn.ROLE)
    assert isinstance(combo, QComboBox) and combo.isEnabled()
    with qtbot.waitSignal(dialog_a.changed, timeout=20_000):
        combo.setCurrentIndex(combo.findData(Role.READ))
    assert _engine(qtbot, client_a, _roles, thread_id, b_id) == {Role.FOLLOW, Role.READ}
    qtbot.waitUntil(lambda: _role_shown(dialog_a, b_id) is Role.READ, timeout=10_000)

    # On B's side: the new role arrives, and B, not an admin, can change nothing.
    qtbot.waitUntil(lambda: _role_shown(dialog_b, b_id) is Role.READ, timeout=60_000)
    assert _engine(qtbot, client_b, _roles, thread_id, b_id) == {Role.FOLLOW, Role.READ}
    own_combo = _editor(dialog_b, b_id, MemberColumn.ROLE)
    assert isinstance(own_combo, QComboBox) and own_combo.currentData() is Role.READ
    for peer in (a_id, b_id):
        for column in (MemberColumn.ROLE, MemberColumn.REMOVE):
            control = _editor(dialog_b, peer, column)
            assert not control.isEnabled() and control.toolTip() == ADMINS_ONLY
    assert not dialog_b.default_role.isEnabled() and dialog_b.default_role.toolTip() == ADMINS_ONLY

    epoch = _engine(qtbot, client_a, _newest_epoch, thread_id)
    remove = _editor(dialog_a, b_id, MemberColumn.REMOVE)
    assert isinstance(remove, QPushButton) and remove.isEnabled()
    qtbot.waitUntil(lambda: "Bruno" in dialog_a.members.index(dialog_a.members.row_of(b_id), 0).data(),
                    timeout=30_000)
    remove.click()
    confirm = dialog_a.confirm_remove
    assert confirm is not None and confirm.isVisible()
    assert confirm.text().startswith("Remove Bruno?") and "12D3KooW" not in confirm.text()  # by name
    with qtbot.waitSignal(dialog_a.changed, timeout=20_000):
        confirm.button(QMessageBox.StandardButton.Yes).click()
    assert _engine(qtbot, client_a, _roles, thread_id, b_id) == frozenset()
    assert _engine(qtbot, client_a, _newest_epoch, thread_id) != epoch  # removing rotated the keys
    # Still listed (its log stays bound in the thread), with no role and nothing left to remove.
    qtbot.waitUntil(lambda: _role_shown(dialog_a, b_id) is Role.NO_ACCESS, timeout=10_000)
    assert "removed" in dialog_a.members.index(dialog_a.members.row_of(b_id), 0).data()
    assert _editor(dialog_a, b_id, MemberColumn.ROLE).property("currentText") == "No access"
    assert not _editor(dialog_a, b_id, MemberColumn.REMOVE).isEnabled()
    assert dialog_a.error.isHidden()


def test_an_invite_is_revoked_and_the_default_role_is_kept(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime) -> None:
    client = EngineClient(runtime, qt_loop)
    summary = _album(qtbot, client)
    _engine(qtbot, client, _invite, summary.thread_id, Role.READ)
    dialog = _open(qtbot, client, summary)

    assert dialog.invites.rowCount() == 1 and not dialog.invite_view.isHidden()
    row = [dialog.invites.index(0, column).data() for column in InviteColumn]
    assert row[InviteColumn.ROLE] == "View" and row[InviteColumn.USES] == "0/1"
    assert row[InviteColumn.MADE_BY] == "you" and row[InviteColumn.STATE] == "Open"
    revoke = dialog.invite_view.indexWidget(dialog.invites.index(0, InviteColumn.REVOKE))
    assert isinstance(revoke, QPushButton) and revoke.isEnabled()
    with qtbot.waitSignal(dialog.loaded, timeout=20_000):  # the reload after the change
        revoke.click()
    assert dialog.invites.index(0, InviteColumn.STATE).data() == "Revoked"
    assert dialog.invites.index(0, 0).data(InviteRole.STATE) == "revoked"
    invites = _engine(qtbot, client, lambda node: node.membership.invites(summary.thread_id))
    assert [i.revoked for i in invites] == [True]
    revoke = dialog.invite_view.indexWidget(dialog.invites.index(0, InviteColumn.REVOKE))
    assert not revoke.isEnabled() and revoke.toolTip() == "Already revoked"

    assert dialog.default_role.isEnabled() and dialog.default_role.currentData() is Role.NO_ACCESS
    with qtbot.waitSignal(dialog.changed, timeout=20_000):
        dialog.default_role.setCurrentIndex(dialog.default_role.findData(Role.READ))
    document = _engine(qtbot, client, lambda node: node.membership.acl_document(summary.thread_id))
    assert document["default"] == "read"
    dialog.reject()
    again = _open(qtbot, client, summary)
    assert again.default_role.currentData() is Role.READ
    assert again.error.isHidden()


def _join_from(founder: Node, qtbot: Any, client: EngineClient, thread_id: ThreadId, role: Role) -> None:
    """The runtime's profile joins `founder`'s thread; records move by hand
    (both ways) as sync would move them."""
    link = InviteLink.parse(founder.invite(thread_id, role).to_uri())
    _engine(qtbot, client, Node.join, link)
    # The founder admits it (as engine/net/joining.py carries it), then the records move.
    request = _engine(qtbot, client, lambda node: node.membership.admission_request(thread_id))
    answer = founder.answer_admission(request, _engine(qtbot, client, _peer_id))
    _engine(qtbot, client, Node.take_admission, thread_id, answer)
    _engine(qtbot, client, Node.receive, thread_id, envelopes_of(founder, thread_id))
    founder.receive(thread_id, _engine(qtbot, client, envelopes_of, thread_id))


def test_a_member_who_is_not_an_admin_sees_every_control_disabled_with_the_reason(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, open_node: Callable[[str], Node]) -> None:
    founder = open_node("founder")
    summary = founder.create_thread(ThreadKind.ALBUM, "Porto")
    client = EngineClient(runtime, qt_loop)
    _join_from(founder, qtbot, client, summary.thread_id, Role.WRITE)
    founder.invite(summary.thread_id, Role.READ)  # an open invite the member cannot revoke
    _engine(qtbot, client, Node.receive, summary.thread_id, envelopes_of(founder, summary.thread_id))
    me = _engine(qtbot, client, _peer_id)

    dialog = _open(qtbot, client, summary)
    assert dialog.members.rowCount() == 2 and _role_shown(dialog, me) is Role.WRITE
    for row in range(dialog.members.rowCount()):
        for column in (MemberColumn.ROLE, MemberColumn.REMOVE):
            control = dialog.member_view.indexWidget(dialog.members.index(row, column))
            assert not control.isEnabled() and control.toolTip() == ADMINS_ONLY
            assert not dialog.members.flags(dialog.members.index(row, column)) & Qt.ItemFlag.ItemIsEditable
    assert not dialog.default_role.isEnabled() and dialog.default_role.toolTip() == ADMINS_ONLY
    assert dialog.invites.index(0, InviteColumn.STATE).data() == "Open"
    revoke = dialog.invite_view.indexWidget(dialog.invites.index(0, InviteColumn.REVOKE))
    assert not revoke.isEnabled() and revoke.toolTip() == "Only the album's admins can revoke invites"
    assert dialog.refusal_box.isHidden()

    # Even a change that got through (say, a stale dialog) is refused by the
    # engine and said inline; nothing changes.
    with qtbot.waitSignal(dialog.failed, timeout=20_000) as failure:
        dialog.set_default(Role.WRITE)
    assert failure.args[0] == "Only the people who manage its members can do that." and dialog.error.isVisible()
    assert _engine(qtbot, client, lambda node: node.membership.acl_document(summary.thread_id))["default"] == (
        "no-access")


def test_an_admin_sees_who_made_a_refused_change_and_why(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, open_node: Callable[[str], Node]) -> None:
    client = EngineClient(runtime, qt_loop)
    summary = _engine(qtbot, client, Node.create_thread, ThreadKind.CHAT, "Family")
    thread_id = summary.thread_id
    reader = open_node("reader")
    link = _engine(qtbot, client, _invite, thread_id, Role.READ)
    reader.join(InviteLink.parse(link))
    request = reader.membership.admission_request(thread_id)
    reader.take_admission(thread_id, _engine(qtbot, client, Node.answer_admission, request,
                                             str(reader.identity.peer_id)))
    reader.receive(thread_id, _engine(qtbot, client, envelopes_of, thread_id))
    _engine(qtbot, client, Node.receive, thread_id, envelopes_of(reader, thread_id))
    dialog = _open(qtbot, client, summary)
    assert dialog.refusal_box.isHidden()  # nothing refused yet

    # A modified client writes a message without the right to; it reaches us.
    force_commit(reader, thread_id, [{"type": "db", "ops": [
        {"op": "create", "c": "message", "id": message_id(reader, thread_id, 2), "set": {"text": "x"}}]}])
    _engine(qtbot, client, Node.receive, thread_id, envelopes_of(reader, thread_id))
    qtbot.waitUntil(lambda: dialog.refusals.rowCount() == 1, timeout=10_000)
    assert not dialog.refusal_box.isHidden()
    reader_id = str(reader.identity.peer_id)
    who = dialog.refusals.index(0, RefusalColumn.WHO).data()
    why = dialog.refusals.index(0, RefusalColumn.WHY).data()
    assert who == short_id(reader_id)  # the one short form every view uses
    assert dialog.refusals.index(0, 0).data(RefusalRole.AUTHOR) == reader_id
    assert why == f"{who} tried to add or change something without the role to."  # no IDs, no engine words
