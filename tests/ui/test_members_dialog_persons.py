"""The members dialog and the chat show persons: a person writing from two
devices is one row, and hovering it lists the devices (a removed one leaves
the list); in the chat, hovering a message says which device wrote it. Real
engines: the window's, and a second device of its person whose records
reach it as sync brings them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import qasync
from PySide6.QtCore import Qt

from tests.engine.eventstore.peers import envelopes_of
from tests.ui.waiting import wait_for
from threads_desktop.engine.acl.devices import DeviceCert
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.core.types import ThreadKind, ThreadSummary
from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.dialogs.members_dialog import MembersDialog
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.models.member_table_model import MemberColumn, MemberRole
from threads_desktop.ui.models.message_list_model import MessageListModel, MessageRole
from threads_desktop.ui.operations import chat as chat_ops

T = TypeVar("T")


def _engine(qtbot: Any, client: EngineClient, fn: Callable[..., T], *args: Any) -> T:
    return wait_for(qtbot, client.run(fn, *args))


def _certify(node: Node, device: PeerId, name: str) -> tuple[DeviceCert, bytes, list[Any], list[tuple[Any, ...]]]:
    """On the window's engine, what the device link flow hands a new device."""
    threads = [(s.thread_id, s.kind, s.name, node.store.thread_keys(s.thread_id)) for s in node.list_threads()]
    cert = node.persons.issue_cert(device, name)
    return cert, node.persons.book.person_key().seed(), node.persons.book.items(), threads


def _become_device(node: Node, cert: DeviceCert, seed: bytes, known: list[Any],
                   threads: list[tuple[Any, ...]]) -> None:
    node.persons.adopt(seed, cert, known)
    for thread in threads:
        node.persons.add_thread(*thread)


def test_one_row_per_person_with_its_devices_on_hover(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, open_node: Callable[..., Node]) -> None:
    client = EngineClient(runtime, qt_loop)
    desktop = open_node("desktop")
    summary: ThreadSummary = _engine(qtbot, client, Node.create_thread, ThreadKind.ALBUM, "Lisbon")
    offer = _engine(qtbot, client, _certify, desktop.identity.peer_id, "Ana's desktop")
    _become_device(desktop, *offer)
    records = envelopes_of(desktop, summary.thread_id)
    _engine(qtbot, client, lambda node: node.receive(summary.thread_id, records))

    dialog = MembersDialog(client, summary)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.loaded, timeout=10_000):
        dialog.open()
    model = dialog.members
    assert model.rowCount() == 1  # the laptop and the desktop are one person
    index = model.index(0, MemberColumn.MEMBER)
    assert index.data(MemberRole.IS_ME)
    assert index.data(MemberRole.DEVICES) == ["", "Ana's desktop"]
    assert index.data(Qt.ItemDataRole.ToolTipRole) == "On 2 devices: their first device, Ana's desktop"
    assert "(you, admin)" in index.data(Qt.ItemDataRole.DisplayRole)

    desktop_id = str(desktop.identity.peer_id)
    with qtbot.waitSignal(dialog.loaded, timeout=10_000):
        _engine(qtbot, client, lambda node: node.persons.remove_device(desktop_id))
        dialog.reload()
    index = model.index(0, MemberColumn.MEMBER)
    assert index.data(MemberRole.DEVICES) == [""]
    assert index.data(Qt.ItemDataRole.ToolTipRole) == index.data(MemberRole.PEER_ID)  # one device: as before


def test_a_chat_message_says_on_hover_which_of_its_persons_devices_wrote_it(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, open_node: Callable[..., Node]) -> None:
    client = EngineClient(runtime, qt_loop)
    desktop = open_node("desktop")
    summary: ThreadSummary = _engine(qtbot, client, Node.create_thread, ThreadKind.CHAT, "Us")
    _engine(qtbot, client, lambda node: node.chat(summary.thread_id).post("from the laptop"))
    offer = _engine(qtbot, client, _certify, desktop.identity.peer_id, "Ana's desktop")
    _become_device(desktop, *offer)
    desktop.receive(summary.thread_id, _engine(qtbot, client, envelopes_of, summary.thread_id))  # sync
    desktop.chat(summary.thread_id).post("from the desktop")
    records = envelopes_of(desktop, summary.thread_id)
    _engine(qtbot, client, lambda node: node.receive(summary.thread_id, records))

    page = _engine(qtbot, client, chat_ops.load_page, summary.thread_id, None, 50, frozenset())
    model = MessageListModel()
    model.set_page(page)
    tips = {model.index(row).data(MessageRole.TEXT): model.index(row).data(Qt.ItemDataRole.ToolTipRole)
            for row in range(model.rowCount()) if not model.index(row).data(MessageRole.NOTICE)}
    assert tips["from the desktop"].endswith("\nfrom “Ana's desktop”")
    assert tips["from the laptop"].endswith("\nfrom their first device")
    names = {model.index(row).data(MessageRole.AUTHOR_NAME) for row in range(model.rowCount())
             if not model.index(row).data(MessageRole.NOTICE)}
    assert names == {"You"}  # one person: what the desktop wrote is ours too
    assert all(model.index(row).data(MessageRole.MINE) for row in range(model.rowCount())
               if not model.index(row).data(MessageRole.NOTICE))
    # One colour per person: both devices' messages name the same person.
    persons = {model.index(row).data(MessageRole.AUTHOR_PERSON) for row in range(model.rowCount())
               if not model.index(row).data(MessageRole.NOTICE)}
    assert len(persons) == 1
    assert {model.index(row).data(MessageRole.AUTHOR) for row in range(model.rowCount())
            if not model.index(row).data(MessageRole.NOTICE)} != persons
