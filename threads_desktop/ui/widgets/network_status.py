"""The status bar's network corner: offline / peers connected, whether
devices outside this network can connect to us (said only when they
cannot), and a progress bar while photos come in. A click opens the
Devices window."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QWidget

from threads_desktop.engine.core.types import NetworkStatus


class NetworkStatusWidget(QWidget):
    clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 6, 0)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(160)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.label = QLabel(self.tr("Offline"))
        self.reachability = QLabel(self.tr("Reached through relays"))
        self.reachability.setToolTip(self.tr(
            "Devices outside your network cannot connect to this one directly (your router does not let them "
            "in), so it connects through relays: other devices that share your albums. Click for your devices."))
        self.reachability.hide()
        layout.addWidget(self.progress)
        layout.addWidget(self.reachability)
        layout.addWidget(self.label)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mouseReleaseEvent(event)

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
            self.label.setToolTip("\n".join([*status.addresses, self.tr("Click for your devices.")]))
        self.reachability.setVisible(status.online and status.reachability == "unreachable")
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
