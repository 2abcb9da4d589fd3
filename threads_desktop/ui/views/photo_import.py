"""Adding photos, with progress and a way to stop.

One engine call imports every file (Photos.import_files): the engine
thread serves the network while the files are prepared, progress comes
back file by file and Stop ends it before the next file: what was added
stays added."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, Signal

from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.operations import photos as photo_ops


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
        self._running = False  # the engine call is under way: its progress is shown

    def cancel(self) -> None:
        """Stop before the next file: what was added stays added."""
        self.cancelled = True

    async def run(self) -> ImportSummary:
        summary = ImportSummary()
        files = await self._client.run(photo_ops.expand_paths, self._paths)
        self.total = len(files)
        summary.total = len(files)
        self.progressed.emit(0, len(files))
        loop = asyncio.get_running_loop()

        def progress(done: int, total: int) -> None:  # on the engine thread: the GUI hears of it on its own
            loop.call_soon_threadsafe(self._progressed, done, total)

        self._running = True
        try:
            result = await self._client.run(photo_ops.import_photos, self.thread_id, files, progress,
                                                lambda: self.cancelled)
        finally:
            self._running = False  # progress posted before the end but delivered after it is dropped
        summary.added, summary.duplicates, summary.failed = result.added, result.duplicates, result.failed
        summary.stopped = result.stopped or ""
        seen = len(result.added) + len(result.duplicates) + len(result.failed)
        summary.cancelled = self.cancelled and not result.stopped and seen < len(files)
        self.finished.emit(summary)
        return summary

    def _progressed(self, done: int, total: int) -> None:
        if self._running and done > self.done:
            self.done = done
            self.progressed.emit(done, total)
