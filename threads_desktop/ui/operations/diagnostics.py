"""What the diagnostics report reads from the engine."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from threads_desktop.engine.core.errors import ThreadsError
from threads_desktop.engine.core.types import NetworkStatus, ThreadKind, ThreadSummary
from threads_desktop.engine.node import Node
from threads_desktop.logs import recent_log_lines

LOG_LINES = 200
RECENT_MESSAGES = 200  # per chat, whose texts are scrubbed from the log lines
NAME_PLACEHOLDER = "<name>"
TEXT_PLACEHOLDER = "<text>"
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




@dataclass(frozen=True)
class EngineFacts:
    """What the engine thread contributes: no names, no keys, no text."""

    data_dir: Path
    peer_id: str  # public: others see it when we join, and it names us in peers' logs
    network: NetworkStatus
    threads: int
    readable: int
    log_lines: tuple[str, ...]


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
