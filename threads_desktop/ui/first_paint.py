"""Work that waits for a window's first paint: what the app starts once
people see its window rather than before (the network: importing py-libp2p
on the engine thread holds the interpreter lock against the window)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QWidget

NOT_PAINTED_AFTER_MS = 3_000  # a window never painted (hidden, minimised to the tray) does not hold it longer


class AfterFirstPaint(QObject):
    """Calls `then()` once, on Qt's loop just after `window` first painted
    (or at once if it is not shown, or after NOT_PAINTED_AFTER_MS)."""

    def __init__(self, window: QWidget, then: Callable[[], None]) -> None:
        super().__init__(window)
        self._window = window
        self._then: Callable[[], None] | None = then
        window.installEventFilter(self)
        QTimer.singleShot(0 if not window.isVisible() else NOT_PAINTED_AFTER_MS, self._call)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._window and event.type() == QEvent.Type.Paint and self._then is not None:
            QTimer.singleShot(0, self._call)  # after this paint is on the screen
        return False

    def _call(self) -> None:
        then, self._then = self._then, None
        if then is not None:
            self._window.removeEventFilter(self)
            then()
