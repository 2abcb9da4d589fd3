"""The invite dialog's number of uses and its "Reset links": a link made
for three people counts three uses, and Reset links asks first (saying how
many links it stops) and then revokes every open link of the album."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from tests.ui.waiting import wait_for
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.core.members import InviteState
from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.dialogs.invite_dialog import InviteDialog
from threads_desktop.ui.views.main_window import MainWindow


def _album_dialog(qtbot, window: MainWindow, name: str) -> InviteDialog:  # type: ignore[no-untyped-def]
    window.empty_new_album.click()
    assert window.new_thread_dialog is not None
    qtbot.keyClicks(window.new_thread_dialog.name_edit, name)
    with qtbot.waitSignal(window.thread_created, timeout=10_000):
        window.new_thread_dialog.create_button.click()
    dialog = window.ask_invite()
    assert dialog is not None
    return dialog


def _invites(qtbot, runtime: EngineRuntime, link: str) -> list[InviteState]:  # type: ignore[no-untyped-def]
    thread_id = InviteLink.parse(link).thread_id
    return wait_for(qtbot, runtime.call(lambda node: node.membership.invites(thread_id)))


def test_a_link_made_for_three_people_lets_three_join(qtbot, window: MainWindow,  # type: ignore[no-untyped-def]
                                                     runtime: EngineRuntime) -> None:
    dialog = _album_dialog(qtbot, window, "Lisbon")
    assert (dialog.uses.minimum(), dialog.uses.maximum(), dialog.uses.value()) == (1, 1000, 1)
    dialog.uses.setValue(3)
    with qtbot.waitSignal(dialog.link_ready, timeout=10_000) as made:
        dialog.create_button.click()
    [invite] = _invites(qtbot, runtime, made.args[0])
    assert (invite.uses, invite.used, invite.revoked) == (3, 0, False)


def test_reset_links_says_how_many_and_stops_every_open_link(qtbot, window: MainWindow,  # type: ignore[no-untyped-def]
                                                            runtime: EngineRuntime) -> None:
    dialog = _album_dialog(qtbot, window, "Porto")
    links = []
    for _ in range(2):
        with qtbot.waitSignal(dialog.link_ready, timeout=10_000) as made:
            dialog.create_button.click()
        links.append(made.args[0])
    # One link was revoked by hand before: it is not counted again.
    wait_for(qtbot, runtime.call(Node.invite, InviteLink.parse(links[0]).thread_id, InviteLink.parse(links[0]).role))
    spent = _invites(qtbot, runtime, links[0])[-1].key
    wait_for(qtbot, runtime.call(lambda node: node.membership.revoke_invite(InviteLink.parse(links[0]).thread_id,
                                                                        spent)))

    dialog.reset_button.click()
    qtbot.waitUntil(lambda: dialog.reset_box is not None and dialog.reset_box.isVisible(), timeout=10_000)
    box = dialog.reset_box
    assert box is not None
    assert "all 2 open invite links" in box.text() and "Porto" in box.text()
    [reset] = [b for b in box.buttons() if box.buttonRole(b) is QMessageBox.ButtonRole.DestructiveRole]
    with qtbot.waitSignal(dialog.links_reset, timeout=10_000) as done:
        reset.click()
    assert done.args == [2]
    assert dialog.reset_status.text() == "2 invite links stopped."
    assert all(i.revoked for i in _invites(qtbot, runtime, links[0]))

    dialog.reset_button.click()  # nothing left to stop: said so, nothing asked
    qtbot.waitUntil(lambda: dialog.reset_status.text() == "There are no open invite links to reset.",
                    timeout=10_000)
    assert dialog.reset_button.isEnabled()


def test_cancelling_reset_links_stops_nothing(qtbot, window: MainWindow,  # type: ignore[no-untyped-def]
                                             runtime: EngineRuntime) -> None:
    dialog = _album_dialog(qtbot, window, "Faro")
    with qtbot.waitSignal(dialog.link_ready, timeout=10_000) as made:
        dialog.create_button.click()
    dialog.reset_button.click()
    qtbot.waitUntil(lambda: dialog.reset_box is not None and dialog.reset_box.isVisible(), timeout=10_000)
    assert dialog.reset_box is not None
    assert "Stop the open invite link to “Faro”?" in dialog.reset_box.text()
    dialog.reset_box.button(QMessageBox.StandardButton.Cancel).click()
    qtbot.waitUntil(dialog.reset_button.isEnabled, timeout=10_000)
    assert [i.revoked for i in _invites(qtbot, runtime, made.args[0])] == [False]


def test_approving_each_person_makes_an_invite_that_asks_first_and_says_so(  # type: ignore[no-untyped-def]
        qtbot, window: MainWindow, runtime: EngineRuntime) -> None:
    dialog = _album_dialog(qtbot, window, "Braga")
    assert dialog.hint.text().endswith("whoever has it can join.")
    dialog.approve.setChecked(True)
    assert "you see their name and decide" in dialog.hint.text()
    with qtbot.waitSignal(dialog.link_ready, timeout=10_000) as made:
        dialog.create_button.click()
    [invite] = _invites(qtbot, runtime, made.args[0])
    assert invite.approve
