"""Whether Qt will find a display to open windows on. Without one, creating
a QApplication aborts the process (qFatal: "could not connect to display"),
which nothing can catch: this is asked first. Imports no Qt."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

# Platform plugins that need a display server, and the variable naming it.
_NEEDS = {"xcb": "DISPLAY", "wayland": "WAYLAND_DISPLAY", "wayland-egl": "WAYLAND_DISPLAY"}


def missing_display(environ: Mapping[str, str] = os.environ, platform: str = sys.platform) -> str | None:
    """Why the app could not show a window here, in a person's words; None
    when it can (or when only trying would tell: Windows, macOS, a plugin
    such as offscreen or vnc that needs no display server)."""
    if platform in ("win32", "darwin"):
        return None
    chosen = [name.split(":")[0].strip() for name in environ.get("QT_QPA_PLATFORM", "").split(";") if name.strip()]
    if any(name not in _NEEDS for name in chosen):
        return None
    variables = {_NEEDS[name] for name in chosen} or {"DISPLAY", "WAYLAND_DISPLAY"}
    if any(environ.get(variable) for variable in variables):
        return None
    return f"there is no display here ({' and '.join(sorted(variables))} not set)"
