"""Nearby peers and direct invitations in the UI, against real engines on
127.0.0.1. LAN discovery never runs in tests (no multicast on the host):
a peer is made "found" by handing its announcement to the network
service's discovery callback on the engine thread, as zeroconf would."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import qasync
import trio
from PySide6.QtCore import QPersistentModelIndex, Qt

from tests.ui.counting_runtime import CountingRuntime
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.core.keys import SigningKey
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import NearbyPeer, ThreadKind, ThreadSummary
from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.dialogs.invite_dialog import InviteDialog
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.models.invitation_model import InvitationRole
from threads_desktop.ui.models.nearby_model import NearbyModel, NearbyRole
from threads_desktop.ui.models.thread_list_model import ThreadRole
from threads_desktop.ui.people import short_id
from threads_desktop.ui.views.main_window import MainWindow
from threads_desktop.ui.widgets.invitations_bar import InvitationsBar
from threads_desktop.ui.widgets.nearby_list import NearbyList

WAIT_MS = 20_000


def _call(qtbot, engine: EngineRuntime, fn, *args) -> Any:  # type: ignore[no-untyped-def]
    """An engine call awaited on the Qt loop the widgets use."""
    future = asyncio.ensure_future(engine.call(fn, *args))
    qtbot.waitUntil(future.done, timeout=WAIT_MS)
    return future.result()


async def _listening(node: Node) -> list[str]:
    """Where the node listens, once its network service is up (it starts
    beside the engine, without holding up the window)."""
    with trio.fail_after(WAIT_MS / 1000):
        while not node.listen_addresses:
            await trio.sleep(0.02)
    return list(node.listen_addresses)


def _announce(qtbot, engine: EngineRuntime, peer_id: str, addresses: list[str]) -> None:  # type: ignore[no-untyped-def]
    _call(qtbot, engine, _listening)  # the service (and its callback) is up
    _call(qtbot, engine, lambda node: node.network._found(PeerId.parse(peer_id), addresses))


def _peer_id(qtbot, engine: EngineRuntime) -> str:  # type: ignore[no-untyped-def]
    return str(_call(qtbot, engine, Node.identity_card).peer_id)


def _nearby_list(qtbot, client: EngineClient) -> NearbyList:  # type: ignore[no-untyped-def]
    nearby = NearbyList(client)
    qtbot.addWidget(nearby)
    with qtbot.waitSignal(nearby.feed.loaded, timeout=WAIT_MS):
        nearby.show()
    return nearby


def _invitations(qtbot, client: EngineClient) -> InvitationsBar:  # type: ignore[no-untyped-def]
    bar = InvitationsBar(client)
    qtbot.addWidget(bar)
    qtbot.waitSignal(bar.loaded, timeout=WAIT_MS).wait()
    return bar


def _invite_dialog(qtbot, client: EngineClient, summary: ThreadSummary,  # type: ignore[no-untyped-def]
                   peer_id: str | None = None) -> InviteDialog:
    dialog = InviteDialog(client, summary, peer_id=peer_id)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.nearby_feed.loaded, timeout=WAIT_MS):
        dialog.open()
    return dialog


def test_a_peer_found_nearby_is_invited_from_the_dialog_and_accepts_into_the_album(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, two_app_engines: tuple[EngineRuntime, EngineRuntime]) -> None:
    a, b = two_app_engines
    client_a, client_b = EngineClient(a, qt_loop), EngineClient(b, qt_loop)
    peer_a, peer_b = _peer_id(qtbot, a), _peer_id(qtbot, b)
    summary = _call(qtbot, a, Node.create_thread, ThreadKind.ALBUM, "Lisbon")
    nearby = _nearby_list(qtbot, client_a)
    assert nearby.model.rowCount() == 0
    assert nearby.empty_label.isVisible() and nearby.empty_label.text() == "No one nearby"
    window_b = MainWindow(client_b)
    qtbot.addWidget(window_b)
    with qtbot.waitSignal(window_b.threads_loaded, timeout=WAIT_MS):
        window_b.show()
    bar = window_b.invitations  # the window's own: accepting there opens what was accepted
    assert bar.pending_count() == 0 and bar.isHidden() and bar.badge_text() == ""

    _announce(qtbot, a, peer_b, _call(qtbot, b, _listening))
    qtbot.waitUntil(lambda: nearby.model.rowCount() == 1, timeout=WAIT_MS)
    row = nearby.model.index(0)
    assert row.data(NearbyRole.PEER_ID) == peer_b
    assert row.data(Qt.ItemDataRole.DisplayRole) == short_id(peer_b)  # no shared thread: no name yet
    assert nearby.view.isVisible() and not nearby.empty_label.isVisible()

    # The sidebar asks the window to invite the peer, from its menu or a double click.
    nearby.view.setCurrentIndex(row)
    with qtbot.waitSignal(nearby.invite_requested, timeout=1000) as requested:
        nearby.invite_action.trigger()
    assert requested.args == [peer_b]
    nearby.set_invite_enabled(False)  # no album or chat selected: nothing to invite to
    with qtbot.assertNotEmitted(nearby.invite_requested):
        nearby.request_invite(peer_b)

    dialog = _invite_dialog(qtbot, client_a, summary, peer_id=peer_b)
    assert dialog.selected_peer() == peer_b and dialog.invite_button.isEnabled()
    dialog.role.setCurrentIndex(dialog.role.findData(Role.READ))
    with qtbot.waitSignal(dialog.invitation_sent, timeout=WAIT_MS) as sent:
        dialog.invite_button.click()
    assert sent.args == [peer_b]
    assert dialog.nearby_status.text().startswith(f"Invitation sent to {short_id(peer_b)}")

    qtbot.waitUntil(lambda: bar.pending_count() == 1, timeout=WAIT_MS)
    assert bar.isVisible() and bar.badge_text() == "1 invitation" and bar.title.text() == "1 invitation"
    invitation = bar.model.index(0)
    assert invitation.data(InvitationRole.SENDER) == peer_a
    assert invitation.data(InvitationRole.THREAD_ID) == str(summary.thread_id)
    assert invitation.data(InvitationRole.ROLE) is Role.READ
    assert invitation.data(Qt.ItemDataRole.DisplayRole) == (
        f"{short_id(peer_a)} invites you to “Lisbon”\nYou can view it")
    assert bar.accept_button.isEnabled() and bar.decline_button.isEnabled()

    with qtbot.waitSignal(bar.accepted, timeout=WAIT_MS) as accepted:
        bar.accept_button.click()
    assert accepted.args == [summary.thread_id]
    qtbot.waitUntil(lambda: bar.pending_count() == 0 and bar.isHidden(), timeout=WAIT_MS)
    # The album comes over the network, name and all, into B's window, which shows it (as a join
    # waiting to be let in until it is).
    qtbot.waitUntil(lambda: window_b.threads.rowCount() == 1 and window_b.threads.index(0).data() == "Lisbon"
                    and window_b.threads.index(0).data(ThreadRole.KIND) == "album", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window_b.pages.currentWidget() is window_b.album_view, timeout=WAIT_MS)


def test_a_declined_invitation_goes_away_and_joins_nothing(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, two_app_engines: tuple[EngineRuntime, EngineRuntime]) -> None:
    a, b = two_app_engines
    client_a, client_b = EngineClient(a, qt_loop), EngineClient(b, qt_loop)
    peer_b = _peer_id(qtbot, b)
    summary = _call(qtbot, a, Node.create_thread, ThreadKind.CHAT, "Porto")
    bar = _invitations(qtbot, client_b)
    counts: list[int] = []
    bar.count_changed.connect(counts.append)
    _announce(qtbot, a, peer_b, _call(qtbot, b, _listening))
    dialog = _invite_dialog(qtbot, client_a, summary)
    qtbot.waitUntil(lambda: dialog.nearby_feed.model.rowCount() == 1, timeout=WAIT_MS)
    assert not dialog.invite_button.isEnabled()  # nobody chosen yet
    dialog.nearby.setCurrentIndex(dialog.nearby_feed.model.index(0))
    with qtbot.waitSignal(dialog.invitation_sent, timeout=WAIT_MS):
        dialog.invite_button.click()

    qtbot.waitUntil(lambda: bar.pending_count() == 1, timeout=WAIT_MS)
    assert bar.model.index(0).data(InvitationRole.THREAD_NAME) == "Porto"
    with qtbot.waitSignal(bar.declined, timeout=WAIT_MS):
        bar.decline_button.click()
    qtbot.waitUntil(lambda: bar.pending_count() == 0 and bar.isHidden(), timeout=WAIT_MS)
    assert counts == [1, 0]
    assert _call(qtbot, b, lambda node: node.membership.direct_invites()) == []
    assert _call(qtbot, b, Node.list_threads) == []


def test_inviting_a_nearby_peer_out_of_reach_says_why(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, two_app_engines: tuple[EngineRuntime, EngineRuntime]) -> None:
    a, _b = two_app_engines
    client_a = EngineClient(a, qt_loop)
    summary = _call(qtbot, a, Node.create_thread, ThreadKind.ALBUM, "Faro")
    stranger = str(SigningKey.generate().peer_id)  # nobody runs it; nothing listens on port 9
    _announce(qtbot, a, stranger, [f"/ip4/127.0.0.1/tcp/9/p2p/{stranger}"])
    dialog = _invite_dialog(qtbot, client_a, summary, peer_id=stranger)
    qtbot.waitUntil(lambda: dialog.selected_peer() == stranger, timeout=WAIT_MS)
    with qtbot.waitSignal(dialog.invitation_failed, timeout=WAIT_MS) as failed:
        dialog.invite_button.click()
    assert failed.args[0] == "The other device could not be reached. Try again when you are both online."
    assert dialog.nearby_status.text().startswith(f"Could not invite {short_id(stranger)}: ")
    assert dialog.invite_button.isEnabled()  # try again


def test_offline_nobody_is_nearby_and_the_dialog_says_so(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime) -> None:
    client = EngineClient(runtime, qt_loop)
    summary = _call(qtbot, runtime, Node.create_thread, ThreadKind.ALBUM, "Home")
    nearby = _nearby_list(qtbot, client)
    assert nearby.empty_label.isVisible() and not nearby.view.isVisible()
    dialog = _invite_dialog(qtbot, client, summary)
    assert dialog.nearby_empty.isVisible() and not dialog.invite_button.isEnabled()
    assert dialog.create_button.isEnabled()  # a link still works offline


def _peer(name: str, seen: float, display: str | None = None) -> NearbyPeer:
    return NearbyPeer(name, (f"/ip4/127.0.0.1/tcp/1/p2p/{name}",), seen, display)


def test_the_nearby_model_keeps_the_selected_peer_through_refreshes(qtbot) -> None:  # type: ignore[no-untyped-def]
    model = NearbyModel()
    model.set_peers([_peer("carol", 3.0), _peer("bob", 2.0), _peer("alice", 1.0)])
    kept = QPersistentModelIndex(model.index(1))
    # Alice is seen again (now first), Carol drops off, Dan arrives, Bob gives a name.
    model.set_peers([_peer("alice", 5.0), _peer("dan", 4.0), _peer("bob", 2.0, "Bob")])
    assert model.peer_ids() == ["alice", "dan", "bob"]
    assert kept.isValid() and kept.row() == 2 and kept.data(NearbyRole.NAME) == "Bob"
    assert model.index(0).data(NearbyRole.LAST_SEEN) == 5.0
    model.set_peers([])
    assert model.rowCount() == 0 and not kept.isValid()


@pytest.fixture
def counted_b(tmp_path: Path) -> Iterator[CountingRuntime]:
    """A second app engine (network on 127.0.0.1) whose UI calls are counted."""
    from threads_desktop.app import background_services
    from threads_desktop.cli.commands import forwarding_handler

    engine = CountingRuntime(lambda: Node.open(tmp_path / "counted"),
                             background_services(["/ip4/127.0.0.1/tcp/0"], lan_discovery=False,
                                                        commands=forwarding_handler))
    engine.start()
    yield engine
    engine.stop()


def test_a_waiting_invitation_is_not_loaded_again_for_each_transfer_progress(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, two_app_engines: tuple[EngineRuntime, EngineRuntime],
        counted_b: CountingRuntime) -> None:
    a, b = two_app_engines[0], counted_b
    client_b = EngineClient(b, qt_loop)
    peer_b = _peer_id(qtbot, b)
    summary = _call(qtbot, a, Node.create_thread, ThreadKind.CHAT, "Porto")
    bar = _invitations(qtbot, client_b)
    _announce(qtbot, a, peer_b, _call(qtbot, b, _listening))
    _call(qtbot, a, Node.invite_nearby, summary.thread_id, peer_b, Role.WRITE)
    qtbot.waitUntil(lambda: bar.pending_count() == 1, timeout=WAIT_MS)
    heard: list[object] = []
    client_b.changed.connect(heard.append)
    before = b.calls
    notifications = 20

    def publish(node: Node) -> None:
        for _ in range(notifications):
            node.network_changed()  # as a transfer's progress does

    published = asyncio.ensure_future(b.call(publish))
    qtbot.waitUntil(lambda: published.done() and len(heard) >= notifications, timeout=WAIT_MS)
    _call(qtbot, b, Node.identity_card)  # one more round trip: any load the notifications started has asked by now
    assert b.calls - before == 2  # the two calls above; the bar asked nothing
    assert bar.pending_count() == 1
