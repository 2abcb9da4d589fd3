"""Cyclic garbage is collected on the GUI thread only, however much other
threads allocate (a QObject destroyed on the engine thread deadlocked it
with the GUI thread: ui/collector.py)."""

from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QObject

from threads_desktop.ui.collector import MainThreadCollector


def test_collections_happen_on_the_gui_thread_while_another_thread_allocates(qtbot) -> None:  # type: ignore[no-untyped-def]
    collected_on: set[int] = set()

    def note(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            collected_on.add(threading.get_ident())

    collector = MainThreadCollector()
    gc.callbacks.append(note)
    collector.start()
    try:
        assert not gc.isenabled()

        def allocate() -> None:  # enough container objects to pass every threshold many times
            for _ in range(200_000):
                pair: list[object] = []
                pair.append(pair)  # a cycle
        worker = threading.Thread(target=allocate)
        worker.start()
        worker.join()
        cycle = [QObject()]
        cycle.append(cycle)
        del cycle
        qtbot.waitUntil(lambda: collector.collections > 0, timeout=5_000)
        assert collected_on == {threading.get_ident()}
    finally:
        collector.stop()
        gc.callbacks.remove(note)
    assert gc.isenabled()
