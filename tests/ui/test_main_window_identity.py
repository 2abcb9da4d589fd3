"""The sidebar's identity and "Copy My ID" speak of the person, not this
computer (issue 19): others invite the person, the same on each of its
devices. A real engine made a second device of another profile's person."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import qasync
from PySide6.QtGui import QGuiApplication

from tests.ui.waiting import wait_for
from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.people import short_id
from threads_desktop.ui.settings import AppSettings
from threads_desktop.ui.views.main_window import MainWindow


def _engine(qtbot: Any, client: EngineClient, fn: Any, *args: Any) -> Any:
    return wait_for(qtbot, client.run(fn, *args))


def test_a_second_device_shows_and_copies_its_persons_id_not_its_own(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, open_node: Callable[..., Node],
        tmp_path: Path) -> None:
    client = EngineClient(runtime, qt_loop)
    laptop = open_node("laptop")
    desktop_id = _engine(qtbot, client, lambda node: node.identity.peer_id)
    cert = laptop.persons.issue_cert(desktop_id, "Ana's desktop")
    seed, known = laptop.persons.book.person_key().seed(), laptop.persons.book.items()
    _engine(qtbot, client, lambda node: node.persons.adopt(seed, cert, known))
    person, device = laptop.persons.person_id, str(desktop_id)
    assert person != device

    window = MainWindow(client, AppSettings.from_file(tmp_path / "settings.ini"))
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.threads_loaded, timeout=10_000):
        window.show()
    try:
        assert short_id(person) in window.identity_label.text()
        assert short_id(device) not in window.identity_label.text()
        assert window.identity_label.toolTip().rsplit(" ", 1)[-1] == person
        window.copy_id_action.trigger()
        assert QGuiApplication.clipboard().text() == person
    finally:
        window.close()
