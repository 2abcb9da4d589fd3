"""Start Threads at login: a desktop entry in the XDG autostart folder
(`$XDG_CONFIG_HOME/autostart`, `~/.config/autostart` by default), which
every freedesktop session (GNOME, KDE, Xfce, ...) launches at login.

The file itself is the setting: a user who removes it in their desktop's
own settings has turned it off, and the app's checkbox says so.

Standard library only: nothing here needs Qt."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

FILE_NAME = "threads-desktop.desktop"  # the app's desktop file ID: sessions de-duplicate by it


def config_home(env: Mapping[str, str] = os.environ) -> Path:
    """$XDG_CONFIG_HOME if set to an absolute path (the spec ignores a
    relative one), else ~/.config."""
    value = env.get("XDG_CONFIG_HOME", "")
    return Path(value) if value and os.path.isabs(value) else Path.home() / ".config"


def launch_command() -> list[str]:
    """How this installation starts: the bundle's executable, the
    `threads-desktop` script on PATH, or this Python with `-m`."""
    if getattr(sys, "frozen", False):  # a PyInstaller bundle
        return [sys.executable]
    script = shutil.which("threads-desktop")
    if script is not None:
        return [os.path.abspath(script)]
    return [sys.executable, "-m", "threads_desktop"]


class Autostart:
    def __init__(self, config_dir: Path | None = None) -> None:
        self.path = (config_dir or config_home()) / "autostart" / FILE_NAME

    @property
    def enabled(self) -> bool:
        """True if the session will start the app: our entry exists and is
        not hidden (how desktops' settings panels turn an entry off)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError:
            return False
        keys = dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))
        return keys.get("Hidden", "false").strip() != "true" and \
            keys.get("X-GNOME-Autostart-enabled", "true").strip() != "false"

    def enable(self, command: Sequence[str] | None = None) -> Path:
        """Write the entry (replacing any older one); OSError if it cannot."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(entry(command or launch_command()), encoding="utf-8")
        temporary.replace(self.path)  # never a half-written entry at login
        return self.path

    def disable(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    def set_enabled(self, on: bool) -> None:
        if on:
            self.enable()
        else:
            self.disable()


def entry(command: Sequence[str]) -> str:
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Name=Threads",
        "Comment=Private peer-to-peer photo albums and chats",
        f"Exec={exec_line(command)}",
        "Icon=threads-desktop",
        "Terminal=false",
        "X-GNOME-Autostart-enabled=true",
        "",
    ])


def exec_line(command: Sequence[str]) -> str:
    """`command` as a desktop entry's Exec value: arguments quoted as the
    spec says, '%' doubled (field codes), and the value's own backslash
    escape applied on top."""
    quoted = []
    for argument in command:
        argument = argument.replace("%", "%%")
        if argument and not any(c in argument for c in ' \t\n"\'\\><~|&;$*?#()`'):
            quoted.append(argument)
        else:
            escaped = "".join("\\" + c if c in '"`$\\' else c for c in argument)
            quoted.append(f'"{escaped}"')
    return " ".join(quoted).replace("\\", "\\\\")
