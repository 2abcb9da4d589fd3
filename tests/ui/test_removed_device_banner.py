"""A computer another device of its person removed: the window shows a bar
saying so ("Removed from Ana's devices on …"), and "Remove from this
computer…" deletes, after asking, every album and chat it kept. Real
engines: the window's (the removed desktop) and the laptop that removed it;
records move as sync moves them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import qasync
from PySide6.QtWidgets import QMessageBox

from tests.engine.eventstore.peers import envelopes_of
from tests.ui.waiting import wait_for
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.widgets.removed_device_banner import RemovedDeviceBanner


def _engine(qtbot: Any, client: EngineClient, fn: Any, *args: Any) -> Any:
    return wait_for(qtbot, client.run(fn, *args))


def _become_device(node: Node, cert: Any, seed: bytes, known: list[Any], threads: list[tuple[Any, ...]]) -> None:
    node.persons.adopt(seed, cert, known)
    for thread in threads:
        node.persons.add_thread(*thread)


def test_a_removed_computer_says_so_and_can_delete_what_it_kept(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, open_node: Callable[..., Node]) -> None:
    client = EngineClient(runtime, qt_loop)
    laptop = open_node("laptop")
    laptop.set_display_name("Ana")
    album = laptop.create_thread(ThreadKind.ALBUM, "Lisbon").thread_id
    desktop_id = _engine(qtbot, client, lambda node: node.identity.peer_id)
    threads = [(s.thread_id, s.kind, s.name, laptop.store.thread_keys(s.thread_id)) for s in laptop.list_threads()]
    cert = laptop.persons.issue_cert(desktop_id, "Ana's desktop")
    _engine(qtbot, client, _become_device, cert, laptop.persons.book.person_key().seed(),
            laptop.persons.book.items(), threads)
    records = envelopes_of(laptop, album)
    _engine(qtbot, client, lambda node: node.receive(album, records))

    banner = RemovedDeviceBanner(client)
    qtbot.addWidget(banner)
    with qtbot.waitSignal(banner.loaded, timeout=10_000):
        banner.show()
    assert banner.isHidden()  # one of Ana's devices: nothing to say

    laptop.persons.remove_device(str(desktop_id))
    records = envelopes_of(laptop, album)
    with qtbot.waitSignal(banner.loaded, timeout=10_000):  # the change set of the records arriving reloads it
        _engine(qtbot, client, lambda node: node.receive(album, records))
    qtbot.waitUntil(banner.isVisible, timeout=10_000)
    assert banner.headline.text().startswith("Removed from Ana's devices on ")
    assert "no longer receives new photos and messages" in banner.detail.text()

    box = banner.ask_remove()
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert len(_engine(qtbot, client, Node.list_threads)) == 1
    box = banner.ask_remove()
    delete = next(b for b in box.buttons() if b.text() == "Delete")
    with qtbot.waitSignal(banner.cleared, timeout=10_000) as cleared:
        delete.click()
    assert cleared.args == [1]
    assert _engine(qtbot, client, Node.list_threads) == []
    assert banner.remove_button.isHidden() and "deleted from this computer" in banner.detail.text()
