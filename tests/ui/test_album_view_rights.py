"""The album offers Delete only where the ACL allows it now: a writer on
its own photos, not on others'; nothing after a downgrade to view; others'
photos too once given the delete role; Invite only to admins. Two real
engines on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import qasync

from tests.ui.album import drop_files, new_album, photo_files
from tests.ui.waiting import wait_for
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.operations import members as member_calls
from threads_desktop.ui.views.album_view import AlbumView
from threads_desktop.ui.views.main_window import MainWindow


def _window(qtbot, loop: qasync.QEventLoop, engine: EngineRuntime) -> MainWindow:  # type: ignore[no-untyped-def]
    window = MainWindow(EngineClient(engine, loop))
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.threads_loaded, timeout=10_000):
        window.show()
    return window


def _select(qtbot, view: AlbumView, photo_ids: list[str]) -> bool:  # type: ignore[no-untyped-def]
    """Select these photos; whether Delete is offered once the ACL answered."""
    rows = sorted(view.model.row_of(photo_id) for photo_id in photo_ids)
    with qtbot.waitSignal(view.actions_checked, timeout=10_000,
                          check_params_cb=lambda ids: ids == [view.model.ids()[row] for row in rows]):
        view.select_rows(rows)
    return view.delete_button.isEnabled()


def test_a_writer_may_delete_only_own_photos_and_delete_follows_the_admins_role_changes(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, two_app_engines: tuple[EngineRuntime, EngineRuntime],
        tmp_path: Path) -> None:
    a, b = two_app_engines
    window_a, window_b = _window(qtbot, qt_loop, a), _window(qtbot, qt_loop, b)
    thread = new_album(qtbot, window_a, "Lisbon")
    with qtbot.waitSignal(window_a.album_view.import_finished, timeout=30_000):
        drop_files(window_a.album_view.grid, photo_files(tmp_path / "a", 2))
    qtbot.waitUntil(lambda: window_a.album_view.model.rowCount() == 2, timeout=10_000)
    theirs = window_a.album_view.model.ids()
    link = wait_for(qtbot, window_a._client.invite(ThreadId.parse(thread), Role.WRITE, None))[0]
    wait_for(qtbot, window_b._client.join(InviteLink.parse(link)))
    window_b.select_thread(thread, when_listed=True)
    view = window_b.album_view
    qtbot.waitUntil(lambda: view.model.rowCount() == 2 and view.add_button.isEnabled(), timeout=30_000)
    with qtbot.waitSignal(view.import_finished, timeout=30_000):
        drop_files(view.grid, photo_files(tmp_path / "b", 1, first_seed=7))
    qtbot.waitUntil(lambda: view.model.rowCount() == 3, timeout=10_000)
    [mine] = [photo_id for photo_id in view.model.ids() if photo_id not in theirs]
    # Only admins invite: a writer is offered no Invite anywhere, the admin is.
    assert view.invite_button.isHidden() and not window_b.invite_action.isEnabled()
    assert not window_a.album_view.invite_button.isHidden() and window_a.invite_action.isEnabled()

    assert _select(qtbot, view, [mine])
    assert not _select(qtbot, view, [theirs[0]])
    assert "only photos you added" in view.delete_button.toolTip()
    assert view.selection_label.text() == "1 selected: you can delete only photos you added yourself"
    assert view.ask_delete() is None  # the Delete key offers nothing either
    assert not _select(qtbot, view, [mine, theirs[0]])
    assert _select(qtbot, view, [mine])

    # The admin turns B into a viewer: Delete goes, with nothing clicked in B.
    b_id = wait_for(qtbot, window_b._client.identity()).peer_id
    wait_for(qtbot, window_a._client.run(member_calls.set_member_role, ThreadId.parse(thread), b_id, Role.READ))
    qtbot.waitUntil(lambda: not view.delete_button.isEnabled() and not view.add_button.isEnabled(), timeout=30_000)
    assert view.ask_delete() is None

    # ... then gives B the delete role: others' photos may go too.
    wait_for(qtbot, window_a._client.run(member_calls.set_member_role, ThreadId.parse(thread), b_id, Role.DELETE))
    qtbot.waitUntil(view.add_button.isEnabled, timeout=30_000)
    assert _select(qtbot, view, [theirs[0]])
    box = view.ask_delete()
    assert box is not None
