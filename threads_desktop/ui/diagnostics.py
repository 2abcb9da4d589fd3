"""Copy Diagnostics: a plain-text report for a bug report or a helper,
safe to paste anywhere.

It says which versions run where (app, Python, Qt, PySide6, OS), where the
profile lives, how the network is doing (online, peers, listen addresses),
how many threads there are, and the last lines of the log. It never holds
keys, invite link fragments, thread names or message text: counts only, the
log lines go through logs.redact(), and any thread name, description or
member name, or the text of a recent message, that a log line happens to
hold is replaced too. (The code does not log names or text; this is the
second line of defence, not the first.)

The report is in English on purpose: it is read by whoever helps, whatever
the app's language."""

from __future__ import annotations

import platform
import sys

import PySide6
from PySide6.QtCore import QObject, Signal, qVersion
from PySide6.QtGui import QAction, QGuiApplication

from threads_desktop import __version__
from threads_desktop.logs import redact
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.operations import diagnostics as diagnostic_ops
from threads_desktop.ui.operations.diagnostics import LOG_LINES
from threads_desktop.ui.tasks import Tasks

# --- engine side (runs on the engine thread through EngineClient.run) ------------------

# --- the report -----------------------------------------------------------------------

def environment() -> dict[str, str]:
    """Versions and platform of this process (GUI thread)."""
    os_name = platform.platform()
    try:
        release = platform.freedesktop_os_release().get("PRETTY_NAME")
    except OSError:  # not Linux, or no os-release
        release = None
    return {
        "Version": f"threads-desktop {__version__}",
        "Python": f"{platform.python_version()} ({platform.python_implementation()}, {sys.executable})",
        "Qt": qVersion(),
        "PySide6": PySide6.__version__,
        "Qt platform": QGuiApplication.platformName() or "none",
        "OS": f"{os_name} ({release})" if release else os_name,
    }


def diagnostics_text(facts: diagnostic_ops.EngineFacts, env: dict[str, str] | None = None) -> str:
    env = environment() if env is None else env
    network = facts.network
    if network.online:
        state = (f"online, {network.peers} peer(s) connected, {network.nearby} nearby, "
                 f"{len(network.transfers)} transfer(s)")
    else:
        state = "offline"
    lines = [
        "Threads Desktop diagnostics (no keys, links, names or messages)",
        "",
        *(f"{key}: {value}" for key, value in env.items()),
        f"Data folder: {facts.data_dir}",
        f"Peer ID: {facts.peer_id}",
        f"Network: {state}",
        *(f"Listening on: {address}" for address in network.addresses),
        f"Threads: {facts.threads} ({facts.readable} readable, {facts.threads - facts.readable} backups or joins)",
        "",
        f"Last {len(facts.log_lines)} log lines:",
        *facts.log_lines,
    ]
    # Once more over everything: a listen address or a path is no place for a
    # key either, and the check costs nothing.
    return redact("\n".join(lines)) + "\n"


async def gather_diagnostics(client: EngineClient, log_lines: int = LOG_LINES) -> str:
    facts = await client.run(diagnostic_ops.collect_engine_facts, log_lines)
    return diagnostics_text(facts)


# --- the action -----------------------------------------------------------------------

class CopyDiagnosticsAction(QAction):
    """Help > Copy Diagnostics: gathers the report and puts it on the
    clipboard. `copied` carries the text; `failed` a message to show."""

    copied = Signal(str)
    failed = Signal(str)

    def __init__(self, client: EngineClient, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setText(self.tr("Copy &Diagnostics"))
        self.setStatusTip(self.tr("Copy versions, network status and recent log lines (never keys, names or "
                                  "messages) to paste in a bug report"))
        self._client = client
        self._tasks = Tasks(self._on_error)
        self.triggered.connect(self.copy)

    def copy(self) -> None:
        if len(self._tasks):  # one report at a time
            return
        self._tasks.spawn(self._copy())

    async def _copy(self) -> None:
        text = await gather_diagnostics(self._client)
        QGuiApplication.clipboard().setText(text)
        self.copied.emit(text)

    def _on_error(self, error: BaseException) -> None:
        self.failed.emit(self.tr("Could not gather diagnostics: %1").replace("%1", str(error)))

    def cancel(self) -> None:
        """Stop a report in progress (the window is closing)."""
        self._tasks.cancel_all(close=True)
