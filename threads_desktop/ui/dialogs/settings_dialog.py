"""Preferences: the name others see, where the profile lives, LAN discovery,
relays and UPnP, when full-size photos download, how the window uses the
tray, whether Threads starts at login, and how much notifications show.

The display name, relays, UPnP and when full-size photos download belong to
the profile (the engine keeps them, so `serve` and CLI commands follow them too); the
rest are this computer's choices, kept in QSettings (AppSettings). The data folder and
LAN discovery are read at start, so they say they apply after a restart.
Starting at login is the XDG autostart entry itself (ui/autostart.py), not
a QSettings key: removing the entry elsewhere turns the box off.

Two more tabs act at once rather than on OK: Devices (this person's
computers: add, remove) and Backup (export one, check its passphrase); they
show a single Close instead of OK and Cancel."""

from __future__ import annotations

import asyncio
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from threads_desktop.engine.core.errors import ThreadsError
from threads_desktop.engine.core.types import FetchOriginals
from threads_desktop.ui.autostart import Autostart
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.notifications import NotificationDetail
from threads_desktop.ui.operations import network as network_ops
from threads_desktop.ui.operations import profile as profile_ops
from threads_desktop.ui.refusals import explain
from threads_desktop.ui.settings import AppSettings
from threads_desktop.ui.widgets.backup_page import BackupPage
from threads_desktop.ui.widgets.devices_page import DevicesPage
from threads_desktop.ui.widgets.relay_editor import RelayEditor


class SettingsDialog(QDialog):
    loaded = Signal()   # the engine's values are in the fields
    saved = Signal()    # everything was written; the dialog closed
    failed = Signal(str)

    def __init__(self, client: EngineClient, settings: AppSettings, parent: QWidget | None = None, *,
                 default_data_dir: Path | None = None, autostart: Autostart | None = None,
                 page: str = "general") -> None:
        """`page`: the tab shown first, "general", "devices" or "backup"."""
        super().__init__(parent)
        self._client = client
        self._settings = settings
        self._autostart = autostart or Autostart()
        self._loaded_name: str | None = None
        self._loaded_policy: FetchOriginals | None = None
        self._loaded_network: tuple[list[str], bool] | None = None
        self._task: asyncio.Task[None] | None = None
        self.restart_needed = False  # set on save: a start-time setting changed
        self.setWindowTitle(self.tr("Settings"))
        self.setMinimumWidth(520)

        self.display_name = QLineEdit()
        self.display_name.setPlaceholderText(self.tr("How others see you"))
        self.display_name.setMaxLength(64)
        self.display_name.setEnabled(False)  # until the engine has answered

        self.data_dir = QLineEdit(str(settings.data_dir or ""))
        self.data_dir.setPlaceholderText(str(default_data_dir) if default_data_dir else self.tr("Default folder"))
        self.data_dir.setClearButtonEnabled(True)
        self.choose_data_dir = QPushButton(self.tr("Choose…"))
        self.choose_data_dir.clicked.connect(self._choose_folder)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.data_dir, 1)
        folder_row.addWidget(self.choose_data_dir)

        self.lan_discovery = QCheckBox(self.tr("Find people on the local network"))
        self.lan_discovery.setChecked(settings.lan_discovery)

        self.upnp = QCheckBox(self.tr("Ask the router to let other devices in (UPnP)"))
        self.upnp.setEnabled(False)  # until the engine has answered
        self.relays = RelayEditor(client)
        self.relays.setEnabled(False)  # until the engine has answered
        self.relays.refused.connect(self.failed)

        self.fetch_originals = QComboBox()
        self.fetch_originals.addItem(self.tr("Always, with the previews"), FetchOriginals.ALWAYS)
        self.fetch_originals.addItem(self.tr("Only when I open or export one"), FetchOriginals.ON_DEMAND)
        self.fetch_originals.setCurrentIndex(-1)  # blank, not a guess, until the engine has answered
        self.fetch_originals.setEnabled(False)

        self.start_minimised = QCheckBox(self.tr("Start minimised to the tray"))
        self.start_minimised.setChecked(settings.start_minimised)
        self.close_to_tray = QCheckBox(self.tr("Keep running in the tray when the window is closed"))
        self.close_to_tray.setChecked(settings.close_to_tray)
        self.start_at_login = QCheckBox(self.tr("Start Threads when I log in"))
        self.start_at_login.setChecked(self._autostart.enabled)

        self.notification_detail = QComboBox()
        self.notification_detail.addItem(self.tr("Show who wrote and what"), NotificationDetail.FULL)
        self.notification_detail.addItem(self.tr("Show who wrote, not what"), NotificationDetail.NAMES)
        self.notification_detail.addItem(self.tr("Show only that something arrived"), NotificationDetail.NOTHING)
        self.notification_detail.addItem(self.tr("Don't show notifications"), NotificationDetail.OFF)
        self.notification_detail.setCurrentIndex(self.notification_detail.findData(settings.notification_detail))

        form = QFormLayout()
        form.addRow(self.tr("Your name:"), self.display_name)
        form.addRow(self.tr("Data folder:"), folder_row)
        form.addRow("", self._note(self.tr("Another folder opens another profile; nothing is moved. "
                                           "Applies after restart.")))
        form.addRow(self.tr("Network:"), self.lan_discovery)
        form.addRow("", self._note(self.tr("Applies after restart.")))
        form.addRow(self.tr("Router:"), self.upnp)
        form.addRow(self.tr("Relays:"), self.relays)
        form.addRow("", self._note(self.tr(
            "A relay passes your connections on when a direct one is not possible, such as a server of yours "
            "running Threads. Devices that share your albums relay for you without being listed here.")))
        form.addRow(self.tr("Full-size photos:"), self.fetch_originals)
        form.addRow(self.tr("Window:"), self.start_minimised)
        form.addRow("", self.close_to_tray)
        form.addRow("", self.start_at_login)
        form.addRow(self.tr("Notifications:"), self.notification_detail)
        form.addRow("", self._note(self.tr("Anyone near your screen can read a notification.")))

        self.error = QLabel()
        self.error.setStyleSheet("color: #b3261e")
        self.error.setWordWrap(True)
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        # Devices and Backup act at once: there, one Close (it saves nothing).
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.buttons.accepted.connect(self._save)
        self.buttons.rejected.connect(self.reject)
        general = QWidget()
        general_layout = QVBoxLayout(general)
        general_layout.addLayout(form)
        general_layout.addStretch()
        self.devices_page = DevicesPage(client)
        self.backup_page = BackupPage(client)
        self.tabs = QTabWidget()
        self.tabs.addTab(general, self.tr("General"))
        self.tabs.addTab(self.devices_page, self.tr("Devices"))
        self.tabs.addTab(self.backup_page, self.tr("Backup"))
        self.tabs.currentChanged.connect(self._fit_buttons)
        self.tabs.setCurrentIndex({"devices": 1, "backup": 2}.get(page, 0))
        self._fit_buttons(self.tabs.currentIndex())
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self._load_task = asyncio.ensure_future(self._load())

    def _fit_buttons(self, index: int) -> None:
        general = index == 0
        for button in (self.ok_button, self.buttons.button(QDialogButtonBox.StandardButton.Cancel)):
            button.setVisible(general)
        self.close_button.setVisible(not general)
        (self.ok_button if general else self.close_button).setDefault(True)

    def _note(self, text: str) -> QLabel:
        note = QLabel(text)
        note.setWordWrap(True)
        note.setEnabled(False)  # greyed: a hint, not a field
        return note

    # --- loading --------------------------------------------------------------------

    async def _load(self) -> None:
        try:
            name, policy = await self._client.run(profile_ops.profile_choices)
        except ThreadsError as exc:  # the rest of the dialog still works
            unavailable = self.tr("Not available: %1").replace("%1", explain(exc))
            self.display_name.setToolTip(unavailable)
            self.fetch_originals.setToolTip(unavailable)
        else:
            self._loaded_name, self._loaded_policy = name, policy
            self.display_name.setText(name)
            self.display_name.setEnabled(True)
            self.fetch_originals.setCurrentIndex(self.fetch_originals.findData(policy))
            self.fetch_originals.setEnabled(True)
        try:
            relays, upnp = await self._client.run(network_ops.network_settings)
        except ThreadsError as exc:
            unavailable = self.tr("Not available: %1").replace("%1", explain(exc))
            self.upnp.setToolTip(unavailable)
            self.relays.setToolTip(unavailable)
        else:
            self._loaded_network = (relays, upnp)
            self.relays.set_addresses(relays)
            self.upnp.setChecked(upnp)
            for widget in (self.upnp, self.relays):
                widget.setEnabled(True)
        self.loaded.emit()


    def _choose_folder(self) -> None:
        # open(), not the static getExistingDirectory(): no nested event loop under qasync.
        chooser = QFileDialog(self, self.tr("Choose the data folder"), self.data_dir.text() or str(Path.home()))
        chooser.setFileMode(QFileDialog.FileMode.Directory)
        chooser.setOption(QFileDialog.Option.ShowDirsOnly, True)
        chooser.fileSelected.connect(self.data_dir.setText)
        chooser.finished.connect(chooser.deleteLater)
        chooser.open()

    # --- saving -----------------------------------------------------------------------

    def _save(self) -> None:
        if self._task is not None and not self._task.done():
            return
        self.ok_button.setEnabled(False)
        self.error.hide()
        self._task = asyncio.ensure_future(self._run_save())

    async def _run_save(self) -> None:
        name = self.display_name.text().strip()
        try:
            if self.display_name.isEnabled() and name != self._loaded_name:
                await self._client.run(profile_ops.set_display_name, name)
                self._loaded_name = name
            if self.fetch_originals.isEnabled():
                policy = FetchOriginals(self.fetch_originals.currentData())
                if policy != self._loaded_policy:
                    await self._client.run(profile_ops.set_fetch_originals, policy)
                    self._loaded_policy = policy
            if self._loaded_network is not None:
                chosen = (self.relays.addresses(), self.upnp.isChecked())
                if chosen != self._loaded_network:
                    await self._client.run(network_ops.set_network_settings, *chosen)
                    self._loaded_network = chosen
            if self.start_at_login.isChecked() != self._autostart.enabled:  # untouched: leave the file alone
                self._autostart.set_enabled(self.start_at_login.isChecked())
        except (ThreadsError, OSError) as exc:
            message = explain(exc) if isinstance(exc, ThreadsError) else self.tr(
                "Could not change the start at login setting: %1").replace("%1", exc.strerror or str(exc))
            self.error.setText(message)
            self.error.show()
            self.ok_button.setEnabled(True)
            self.failed.emit(message)
            return
        self._store()
        self._task = None  # finished: done() must not cancel the task that calls it
        self.saved.emit()
        self.accept()

    def _store(self) -> None:
        settings = self._settings
        folder = self.data_dir.text().strip()
        data_dir = Path(folder).expanduser() if folder else None
        self.restart_needed = data_dir != settings.data_dir or self.lan_discovery.isChecked() != settings.lan_discovery
        settings.data_dir = data_dir
        settings.lan_discovery = self.lan_discovery.isChecked()
        settings.start_minimised = self.start_minimised.isChecked()
        settings.close_to_tray = self.close_to_tray.isChecked()
        settings.notification_detail = NotificationDetail(self.notification_detail.currentData())
        settings.sync()

    def done(self, result: int) -> None:
        self.relays.stop()
        self.devices_page.stop()
        for task in (self._load_task, self._task):
            if task is not None and not task.done():
                task.cancel()
        super().done(result)
