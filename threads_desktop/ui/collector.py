"""Python's cyclic garbage collector, run on the GUI thread only.

The collector runs on whichever thread happens to allocate past its
threshold. When that is the engine thread and the garbage holds a PySide
QObject (a dialog in a reference cycle, a test's signal blocker), the
QObject is destroyed on the engine thread: its destructor takes Qt's
connection mutex and then waits for the interpreter lock, while the GUI
thread holds that lock and waits for the same mutex in a connect(). Both
stop for good (seen in CI: a test hung in QObject::connectImpl while the
engine thread sat in ~QObject under Shiboken::GilState::acquire).

So automatic collection is switched off and this timer collects on the GUI
thread instead, a generation at a time by the interpreter's own thresholds.
Reference counting still frees everything that is not in a cycle at once,
on any thread.

For its first START_UP_S seconds the app's older generations are frozen
rather than collected: what outlives a young collection then is modules,
classes and functions (the UI's imports, then py-libp2p's on the engine
thread), and the first collection of generation 1 scanned 80,000 of them
in 45 ms, the slowest frame of a 100,000-photo album's scroll. Frozen, no
collection looks at them again; they are freed by reference counting like
any other object, and only a cycle that became garbage in those seconds
is kept."""

from __future__ import annotations

import gc
import time

from PySide6.QtCore import QObject, QTimer

TICK_MS = 100
START_UP_S = 20.0


class MainThreadCollector(QObject):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self.collect_due)
        self.collections = 0
        self.freezes = 0
        self._started = time.monotonic()

    def start(self) -> None:
        gc.disable()
        self._started = time.monotonic()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        if self.freezes:
            gc.unfreeze()  # collected as usual again
        if self._was_enabled:
            gc.enable()

    def collect_due(self) -> None:
        """Collect the oldest generation whose count passed its threshold,
        as the interpreter would have (but here, on this thread)."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        generation = -1
        for level in range(3):
            if thresholds[level] and counts[level] > thresholds[level]:
                generation = level
        if generation >= 1 and time.monotonic() - self._started < START_UP_S:
            gc.collect(0)  # the young garbage goes first (a quick scan): only what survives it is frozen
            gc.freeze()  # start-up's long-lived objects (see above); the counts start again from 0
            self.freezes += 1
        elif generation >= 0:
            gc.collect(generation)
            self.collections += 1
