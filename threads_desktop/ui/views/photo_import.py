"""Adding photos, with progress and a way to stop.

The engine imports a few files per call (one event's worth), so the engine
thread gets back to the network between calls, progress moves batch by
batch and Stop ends it before the next batch: what was added stays added."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, Signal

from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.modules.photos import PHOTOS_PER_EVENT, ImportResult, all_paths
from threads_desktop.engine.node import Node
from threads_desktop.ui.engine_client import EngineClient


@dataclass
class ImportSummary:
    added: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    cancelled: bool = False
    total: int = 0  # files found
    stopped: str = ""  # why the import ended early (the disk is full, say)

    def message(self) -> str:
        # One translation context, whoever shows the text; spelled out in
        # each call so that pyside6-lupdate finds the strings.
        translate = QCoreApplication.translate
        added = len(self.added)
        if self.stopped:
            parts = [translate("ImportSummary", "Saved {n} of {total} photos").format(n=added, total=self.total),
                     self.stopped]
        else:
            parts = [translate("ImportSummary", "Added 1 photo") if added == 1
                     else translate("ImportSummary", "Added {n} photos").format(n=added)]
        if self.duplicates:
            parts.append(translate("ImportSummary", "{n} already in the album").format(n=len(self.duplicates)))
        if self.failed:
            name, reason = self.failed[0]
            more = translate("ImportSummary", " and {n} more").format(n=len(self.failed) - 1) \
                if len(self.failed) > 1 else ""
            parts.append(translate("ImportSummary", "could not add {name} ({reason}){more}").format(
                name=name, reason=reason, more=more))
        if self.cancelled:
            left = self.total - len(self.added) - len(self.duplicates) - len(self.failed)
            parts.append(translate("ImportSummary", "stopped before the other {n}; add the same photos again "
                                   "to finish (those already in the album are skipped)").format(n=left))
        return "; ".join(parts) + "."


def _expand(_node: Node, paths: list[Path]) -> list[Path]:
    return all_paths(paths)


def _add(node: Node, thread_id: ThreadId, paths: list[Path]) -> ImportResult:
    return node.photos(thread_id).add_files(paths)


class PhotoImport(QObject):
    """One import; `finished` carries its ImportSummary. It shows nothing
    itself: the album's progress strip follows `progressed`. (A modal
    QProgressDialog runs Qt's events inside setValue, so inside this
    coroutine, and qasync would then step other tasks inside it.)"""

    progressed = Signal(int, int)  # photos done, photos found
    finished = Signal(object)

    def __init__(self, client: EngineClient, thread_id: ThreadId, paths: list[Path], parent: QObject) -> None:
        super().__init__(parent)
        self._client = client
        self.thread_id = thread_id
        self._paths = paths
        self.cancelled = False
        self.done = 0
        self.total = 0

    def cancel(self) -> None:
        """Stop before the next batch: what was added stays added."""
        self.cancelled = True

    async def run(self) -> ImportSummary:
        summary = ImportSummary()
        files = await self._client.run(_expand, self._paths)
        self.total = len(files)
        summary.total = len(files)
        self.progressed.emit(0, len(files))
        for start in range(0, len(files), PHOTOS_PER_EVENT):
            if self.cancelled:
                summary.cancelled = True
                break
            result = await self._client.run(_add, self.thread_id, files[start:start + PHOTOS_PER_EVENT])
            summary.added += result.added
            summary.duplicates += result.duplicates
            summary.failed += result.failed
            if result.stopped:
                summary.stopped = result.stopped
                break
            self.done = min(start + PHOTOS_PER_EVENT, len(files))
            self.progressed.emit(self.done, len(files))
        self.finished.emit(summary)
        return summary
