"""The Devices window, in the manner of Syncthing's device list: everyone
this profile shares an album or chat with, by name, how each is connected
now (or since when it is offline), what it shares and how far that is in
step. It follows the engine's change sets (DeviceFeed); it changes nothing."""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListView,
    QVBoxLayout,
    QWidget,
)

from threads_desktop.engine.core.types import ChangeSet
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.models.device_model import DeviceFeed
from threads_desktop.ui.widgets.device_delegate import DeviceDelegate

_REPAINT_MS = 60_000  # "Offline since" reads the clock: today's time becomes a date at midnight


class DevicesDialog(QDialog):
    loaded = Signal()

    def __init__(self, client: EngineClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Devices"))
        self.setMinimumSize(560, 420)
        self.feed = DeviceFeed(client, self)
        self.model = self.feed.model
        self.intro = QLabel(self.tr("The people and devices you share albums and chats with, and how each "
                                    "is connected now."))
        self.intro.setWordWrap(True)
        self.reachability = QLabel()
        self.reachability.setWordWrap(True)
        self.reachability.hide()
        self.view = QListView()
        self.view.setModel(self.model)
        self.view.setItemDelegate(DeviceDelegate(self.view))
        self.view.setMouseTracking(True)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setUniformItemSizes(True)
        self.empty = QLabel(self.tr("No one yet. When you invite someone to an album or chat, or join one, "
                                    "their devices are listed here."))
        self.empty.setWordWrap(True)
        self.empty.setEnabled(False)  # muted, in the style's own disabled colour
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.reachability)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.empty)
        layout.addWidget(buttons)
        for signal in (self.model.rowsInserted, self.model.rowsRemoved, self.model.modelReset):
            signal.connect(self._fit)
        self.feed.loaded.connect(self._fit)
        self.feed.loaded.connect(self.loaded)
        client.changed.connect(self._on_changes)
        self._fit()
        self._clock = QTimer(self)
        self._clock.timeout.connect(self.view.viewport().update)
        self._clock.start(_REPAINT_MS)

    def _fit(self) -> None:
        self.empty.setVisible(self.model.rowCount() == 0)

    def _on_changes(self, changes: ChangeSet) -> None:
        if changes.network is not None:
            self.show_reachability(changes.network.reachability)

    def show_reachability(self, reachability: str | None) -> None:
        """Say so when peers beyond this network cannot connect to us
        (nothing while it is unknown)."""
        if reachability == "unreachable":
            self.reachability.setText(self.tr(
                "Devices outside your network cannot connect to this one directly (your router does not let "
                "them in), so it connects to them through relays: other devices that share your albums."))
            self.reachability.show()
        else:
            self.reachability.hide()
