"""CoalescingLoad: asks during a load fold into one more load; nothing is
shown into a model that went away; an engine error ends the load."""

from __future__ import annotations

import asyncio

import qasync

from threads_desktop.engine.core.errors import StorageError, ThreadsError
from threads_desktop.ui.models.coalescing_load import CoalescingLoad


class _Engine:
    """An answer per call, released by the test one call at a time."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self.error: ThreadsError | None = None

    async def fetch(self) -> int:
        self.calls += 1
        call = self.calls
        await self.release.wait()
        self.release.clear()
        if self.error is not None:
            raise self.error
        return call


def test_asks_during_a_load_make_one_more_load_and_the_newest_answer_is_shown(
        qtbot, qt_loop: qasync.QEventLoop) -> None:  # type: ignore[no-untyped-def]
    engine, shown, loaded = _Engine(), [], []
    load = CoalescingLoad(engine.fetch, shown.append, alive=lambda: True, loaded=lambda: loaded.append(True))
    load.refresh()
    qtbot.waitUntil(lambda: engine.calls == 1)
    for _ in range(5):
        load.refresh()  # while the first call runs
    assert load.busy
    engine.release.set()
    qtbot.waitUntil(lambda: engine.calls == 2)
    engine.release.set()
    qtbot.waitUntil(lambda: bool(loaded))
    assert engine.calls == 2
    assert shown == [1, 2]
    assert loaded == [True]
    assert not load.busy


def test_nothing_is_shown_once_the_model_went_away(qtbot, qt_loop: qasync.QEventLoop) -> None:  # type: ignore[no-untyped-def]
    engine, shown, loaded = _Engine(), [], []
    alive = [True]
    load = CoalescingLoad(engine.fetch, shown.append, alive=lambda: alive[0], loaded=lambda: loaded.append(True))
    load.refresh()
    qtbot.waitUntil(lambda: engine.calls == 1)
    alive[0] = False
    engine.release.set()
    qtbot.waitUntil(lambda: not load.busy)
    assert shown == [] and loaded == []


def test_an_engine_error_is_reported_and_ends_the_load(qtbot, qt_loop: qasync.QEventLoop) -> None:  # type: ignore[no-untyped-def]
    engine, shown, errors = _Engine(), [], []
    engine.error = StorageError("the profile database failed")
    load = CoalescingLoad(engine.fetch, shown.append, alive=lambda: True, loaded=lambda: None,
                          failed=errors.append)
    load.refresh()
    qtbot.waitUntil(lambda: engine.calls == 1)
    load.refresh()
    engine.release.set()
    qtbot.waitUntil(lambda: not load.busy)
    assert shown == [] and engine.calls == 1
    assert [str(e) for e in errors] == ["the profile database failed"]
