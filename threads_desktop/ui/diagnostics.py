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
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import PySide6
from PySide6.QtCore import QObject, Signal, qVersion
from PySide6.QtGui import QAction, QGuiApplication

from threads_desktop import __version__
from threads_desktop.engine.core.errors import ThreadsError
from threads_desktop.engine.core.types import NetworkStatus, ThreadKind, ThreadSummary
from threads_desktop.engine.node import Node
from threads_desktop.logs import recent_log_lines, redact
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.tasks import Tasks

LOG_LINES = 200
RECENT_MESSAGES = 200  # per chat, whose texts are scrubbed from the log lines
NAME_PLACEHOLDER = "<name>"
TEXT_PLACEHOLDER = "<text>"


@dataclass(frozen=True)
class EngineFacts:
    """What the engine thread contributes: no names, no keys, no text."""

    data_dir: Path
    peer_id: str  # public: others see it when we join, and it names us in peers' logs
    network: NetworkStatus
    threads: int
    readable: int
    log_lines: tuple[str, ...]


# --- engine side (runs on the engine thread through EngineClient.run) ------------------

def collect_engine_facts(node: Node, log_lines: int = LOG_LINES) -> EngineFacts:
    threads = node.list_threads()
    names: set[str] = {node.display_name()}
    texts: set[str] = set()
    for summary in threads:
        names.update(text for text in (summary.name, summary.description) if text)
        if not summary.can_read:
            continue
        try:
            names.update(node.member_names(summary.thread_id).values())
            if summary.kind is ThreadKind.CHAT:
                texts.update(_recent_texts(node, summary))
        except ThreadsError:  # a thread mid-join: nothing of it is known yet, so nothing logged either
            pass
    data_dir = node.profile.directory
    lines = scrub(scrub(recent_log_lines(data_dir, log_lines), names, NAME_PLACEHOLDER), texts, TEXT_PLACEHOLDER,
                  min_length=3)
    return EngineFacts(data_dir=data_dir, peer_id=str(node.identity.peer_id), network=node.network_status(),
                       threads=len(threads), readable=sum(1 for t in threads if t.can_read),
                       log_lines=tuple(lines))


def _recent_texts(node: Node, summary: ThreadSummary) -> set[str]:
    chat = node.chat(summary.thread_id)
    recent = chat.history(limit=RECENT_MESSAGES, offset=max(0, summary.message_count - RECENT_MESSAGES))
    texts = set()
    for message in recent:
        text = message.data.get("text")
        if isinstance(text, str):
            texts.add(text)
            texts.update(text.splitlines())  # a log line holds one line of it at most
    return texts


def scrub(lines: Iterable[str], secrets: Iterable[str], placeholder: str = NAME_PLACEHOLDER, *,
          min_length: int = 2) -> list[str]:
    """`lines` with every occurrence of each secret (any case) replaced.
    Shorter ones are left: one letter would blot out the whole log."""
    pattern = _secrets_pattern(secrets, min_length)
    if pattern is None:
        return list(lines)
    return [pattern.sub(placeholder, line) for line in lines]


def _secrets_pattern(secrets: Iterable[str], min_length: int) -> re.Pattern[str] | None:
    alternatives = []
    for name in sorted({n.strip() for n in secrets if len(n.strip()) >= min_length}, key=len, reverse=True):
        # Whole words where the name begins or ends with one: "Al" must not
        # eat "Alert" in every line.
        before = r"(?<!\w)" if re.match(r"\w", name[0]) else ""
        after = r"(?!\w)" if re.match(r"\w", name[-1]) else ""
        alternatives.append(f"{before}{re.escape(name)}{after}")
    return re.compile("|".join(alternatives), re.IGNORECASE) if alternatives else None


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


def diagnostics_text(facts: EngineFacts, env: dict[str, str] | None = None) -> str:
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
    facts = await client.run(collect_engine_facts, log_lines)
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
