"""Adding photos with a progress dialog that can be cancelled.

The engine imports a few files per call (one event's worth), so the engine
thread gets back to the network between calls, progress moves file by file
and Cancel stops before the next batch: what was added stays added."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

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
    stopped: str = ""  # why the import ended early (the disk is full, say)
    total: int = 0     # files found

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
            parts.append(translate("ImportSummary", "stopped before the rest"))
        return "; ".join(parts) + "."


def _expand(_node: Node, paths: list[Path]) -> list[Path]:
    return all_paths(paths)


def _add(node: Node, thread_id: ThreadId, paths: list[Path]) -> ImportResult:
    return node.photos(thread_id).add_files(paths)


class PhotoImport(QObject):
    """One import; `finished` carries its ImportSummary."""

    progressed = Signal(int, int)
    finished = Signal(object)

    def __init__(self, client: EngineClient, thread_id: ThreadId, paths: list[Path], parent: QWidget) -> None:
        super().__init__(parent)
        self._client = client
        self._thread_id = thread_id
        self._paths = paths
        self._cancelled = False
        self.dialog = QProgressDialog(self.tr("Looking for photos…"), self.tr("Cancel"), 0, 0, parent)
        self.dialog.setWindowTitle(self.tr("Adding photos"))
        self.dialog.setWindowModality(Qt.WindowModality.WindowModal)
        self.dialog.setMinimumDuration(400)  # quick imports never flash a dialog
        self.dialog.setAutoClose(False)
        self.dialog.setAutoReset(False)
        self.dialog.canceled.connect(self.cancel)

    def cancel(self) -> None:
        self._cancelled = True
        self.dialog.setLabelText(self.tr("Stopping after the current photos…"))

    async def run(self) -> ImportSummary:
        summary = ImportSummary()
        try:
            files = await self._client.run(_expand, self._paths)
            self.dialog.setRange(0, len(files))
            summary.total = len(files)
            for start in range(0, len(files), PHOTOS_PER_EVENT):
                if self._cancelled or self.dialog.wasCanceled():
                    summary.cancelled = True
                    break
                self.dialog.setLabelText(self.tr("Adding photo {done} of {total}…").format(
                    done=start + 1, total=len(files)))
                result = await self._client.run(_add, self._thread_id, files[start:start + PHOTOS_PER_EVENT])
                summary.added += result.added
                summary.duplicates += result.duplicates
                summary.failed += result.failed
                if result.stopped:
                    summary.stopped = result.stopped
                    break
                done = min(start + PHOTOS_PER_EVENT, len(files))
                self.dialog.setValue(done)
                self.progressed.emit(done, len(files))
        finally:
            self.dialog.close()
            self.dialog.deleteLater()
        self.finished.emit(summary)
        return summary
