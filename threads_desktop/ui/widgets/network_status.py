"""The status bar's network corner: offline / peers connected, and a
progress bar while photos come in."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QWidget

from threads_desktop.engine.core.types import NetworkStatus


class NetworkStatusWidget(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 6, 0)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(160)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.label = QLabel(self.tr("Offline"))
        layout.addWidget(self.progress)
        layout.addWidget(self.label)

    def show_status(self, status: NetworkStatus) -> None:
        if not status.online:
            self.label.setText(self.tr("Offline"))
            self.label.setToolTip(self.tr("Not connected: changes are kept and sync when peers meet"))
        else:
            if status.peers == 0:
                text = self.tr("Online, no peers connected")
            elif status.peers == 1:
                text = self.tr("1 peer connected")
            else:
                text = self.tr("%1 peers connected").replace("%1", str(status.peers))
            self.label.setText(text)
            self.label.setToolTip("\n".join(status.addresses))
        done = sum(t.done for t in status.transfers)
        total = sum(t.total for t in status.transfers)
        if total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * done / total))
            self.progress.setFormat(self.tr("Photos %p%"))
            self.progress.setToolTip(self.tr("%1 of %2 MB").replace("%1", f"{done / 1e6:.1f}")
                                     .replace("%2", f"{total / 1e6:.1f}"))
            self.progress.show()
        else:
            self.progress.hide()
