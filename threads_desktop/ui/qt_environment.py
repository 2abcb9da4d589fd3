"""What Qt reads from the environment once, when it starts: set before the
QApplication is made. Imports no Qt."""

from __future__ import annotations

import os
from collections.abc import MutableMapping


def serial_painting(environ: MutableMapping[str, str] = os.environ) -> None:
    """Paint on the GUI thread alone. Qt's raster engine hands a fill or a
    blend of 96 spans or more to its own thread pool and waits for it: a
    grid's scroll step waited 16-30 times, for pool threads that shared two
    cores with the decoders, and those steps were the slowest (the pool
    off: 1.0 ms median step instead of 1.4, no waits). Scaling a 6000x4000
    picture to the viewer took the same 17-20 ms either way. Someone who
    sets the variable keeps their value."""
    environ.setdefault("QT_NO_GUI_THREADPOOL", "1")
