"""The Settings dialog's relay list: the relay peers the user names by
address, each checked by the engine as it is added (a bad one is said at
once, in plain words, next to the field); nothing is stored until the
dialog is saved."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QListWidget, QPushButton, QVBoxLayout, QWidget

from threads_desktop.engine.core.errors import ThreadsError
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.operations import network as network_ops
from threads_desktop.ui.refusals import explain


class RelayEditor(QWidget):
    refused = Signal(str)  # an address was not added: why, in the user's words

    def __init__(self, client: EngineClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._client = client
        self._adding: asyncio.Task[None] | None = None
        self.relays = QListWidget()
        self.relays.setMaximumHeight(64)
        self.relays.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # the host and the ID's end both show
        self.relays.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.address = QLineEdit()
        self.address.setPlaceholderText(self.tr("Paste a relay's address"))
        self.address.setToolTip(self.tr("Like /ip4/203.0.113.5/tcp/4141/p2p/12D3KooW…: where the relay "
                                        "listens, and its ID"))
        self.address.installEventFilter(self)  # Return there adds the relay; it does not press the dialog's OK
        self.add_button = QPushButton(self.tr("Add"))
        self.add_button.setEnabled(False)
        self.add_button.setAutoDefault(False)
        self.add_button.clicked.connect(self.add)
        self.remove_button = QPushButton(self.tr("Remove"))
        self.remove_button.setEnabled(False)
        self.remove_button.setAutoDefault(False)
        self.remove_button.clicked.connect(self.remove_selected)
        self.relays.currentRowChanged.connect(lambda row: self.remove_button.setEnabled(row >= 0))
        self.address.textChanged.connect(lambda text: self.add_button.setEnabled(bool(text.strip())))
        self.error = QLabel()
        self.error.setStyleSheet("color: #b3261e")
        self.error.setWordWrap(True)
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.hide()
        row = QHBoxLayout()
        row.addWidget(self.address, 1)
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        layout = QVBoxLayout(self)  # a hidden error takes no room (a form row would keep its spacing)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.relays)
        layout.addLayout(row)
        layout.addWidget(self.error)

    def addresses(self) -> list[str]:
        return [self.relays.item(row).text() for row in range(self.relays.count())]

    def set_addresses(self, addresses: list[str]) -> None:
        self.relays.clear()
        self.relays.addItems(addresses)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.address and event.type() == QEvent.Type.KeyPress and isinstance(
                event, QKeyEvent) and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.add()
            return True
        return super().eventFilter(watched, event)

    def add(self) -> None:
        text = self.address.text().strip()
        if text and (self._adding is None or self._adding.done()):
            self._adding = asyncio.ensure_future(self._check_and_add(text))

    async def _check_and_add(self, text: str) -> None:
        try:
            address = await self._client.run(network_ops.check_relay, text)
        except ThreadsError as exc:
            self.error.setText(explain(exc))
            self.error.show()
            self.refused.emit(self.error.text())
            return
        self.error.hide()
        if address not in self.addresses():
            self.relays.addItem(address)
        self.address.clear()

    def remove_selected(self) -> None:
        row = self.relays.currentRow()
        if row >= 0:
            self.relays.takeItem(row)

    def stop(self) -> None:
        """The dialog closes: a check under way is dropped."""
        if self._adding is not None and not self._adding.done():
            self._adding.cancel()
