"""Qt paints on the GUI thread alone unless someone asked otherwise
(ui/qt_environment.py)."""

from __future__ import annotations

from threads_desktop.ui.qt_environment import serial_painting


def test_the_gui_thread_pool_is_switched_off_unless_set() -> None:
    environ: dict[str, str] = {}
    serial_painting(environ)
    assert environ == {"QT_NO_GUI_THREADPOOL": "1"}
    theirs = {"QT_NO_GUI_THREADPOOL": ""}
    serial_painting(theirs)
    assert theirs == {"QT_NO_GUI_THREADPOOL": ""}
