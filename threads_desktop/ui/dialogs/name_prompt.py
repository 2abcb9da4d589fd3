"""On a first launch, ask once for the name others see (prefilled from the
account's full name), so people appear by name rather than by ID. It can be
skipped; Settings changes it later. Shown with open(), never exec().

Beside "Start new", someone who already uses Threads elsewhere can make
this computer another of their devices (a link from that device) or
restore a backup; either brings their name, albums and chats with it."""

from __future__ import annotations

import asyncio
import getpass
import os

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from threads_desktop.engine.core.errors import ThreadsError
from threads_desktop.engine.modules.profiles import MAX_DISPLAY_NAME
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.operations import profile as profile_ops
from threads_desktop.ui.refusals import explain
from threads_desktop.ui.settings import AppSettings
from threads_desktop.ui.widgets.add_computer_page import AddComputerPage
from threads_desktop.ui.widgets.restore_page import RestorePage


def account_name() -> str:
    """The account's full name (the first field of its GECOS entry), else
    its login name; "" when neither can be read."""
    try:
        import pwd  # Unix only

        entry = pwd.getpwuid(os.getuid())
        full = entry.pw_gecos.split(",")[0].strip()
        return " ".join((full or entry.pw_name).split())[:MAX_DISPLAY_NAME]
    except (ImportError, KeyError, AttributeError):
        try:
            return getpass.getuser()[:MAX_DISPLAY_NAME]
        except (OSError, KeyError):
            return ""


class Pages(QWidget):
    """One page shown at a time, the others hidden: unlike a QStackedWidget,
    the dialog then takes the size of the page shown, not of the largest."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._pages: list[QWidget] = []

    def addWidget(self, page: QWidget) -> None:
        self._pages.append(page)
        self._layout.addWidget(page)
        page.setVisible(len(self._pages) == 1)

    def setCurrentWidget(self, page: QWidget) -> None:
        for other in self._pages:
            other.setVisible(other is page)

    def currentWidget(self) -> QWidget | None:
        return next((page for page in self._pages if not page.isHidden()), None)


class NamePrompt(QDialog):
    saved = Signal(str)  # the name now told to every thread
    failed = Signal(str)
    came_back = Signal(str)  # this computer became a device of someone (added or restored): what was said

    def __init__(self, client: EngineClient, settings: AppSettings, parent: QWidget | None = None, *,
                 peer_id: str) -> None:
        super().__init__(parent)
        self._client = client
        self._settings = settings
        self._peer_id = peer_id
        self._task: asyncio.Task[None] | None = None
        self.setWindowTitle(self.tr("Welcome to Threads"))
        self.setMinimumWidth(480)
        intro = QLabel(self.tr("What name should the people you share with see? "
                               "You can change it any time in Settings."))
        intro.setWordWrap(True)
        self.name_edit = QLineEdit(account_name())
        self.name_edit.setMaxLength(MAX_DISPLAY_NAME)
        self.name_edit.setPlaceholderText(self.tr("Your name"))
        self.name_edit.selectAll()
        self.error = QLabel()
        self.error.setStyleSheet("color: #b3261e")
        self.error.setWordWrap(True)
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.hide()
        self.buttons = QDialogButtonBox()
        self.save_button = self.buttons.addButton(self.tr("Start new"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.skip_button = self.buttons.addButton(self.tr("Skip"), QDialogButtonBox.ButtonRole.RejectRole)
        self.save_button.setDefault(True)
        self.buttons.accepted.connect(self._save)
        self.buttons.rejected.connect(self.reject)
        self.name_edit.textChanged.connect(lambda text: self.save_button.setEnabled(bool(text.strip())))
        self.save_button.setEnabled(bool(self.name_edit.text().strip()))
        elsewhere = QLabel(self.tr("Already using Threads on another computer?"))
        self.add_computer_button = QPushButton(self.tr("Add this computer to my devices…"))
        self.restore_button = QPushButton(self.tr("Restore from a backup…"))
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        other_row = QHBoxLayout()
        other_row.addWidget(self.add_computer_button)
        other_row.addWidget(self.restore_button)
        other_row.addStretch()
        name_page = QWidget()
        name_layout = QVBoxLayout(name_page)
        name_layout.setContentsMargins(0, 0, 0, 0)
        name_layout.addWidget(intro)
        name_layout.addWidget(self.name_edit)
        name_layout.addWidget(self.error)
        name_layout.addWidget(self.buttons)
        name_layout.addWidget(line)
        name_layout.addWidget(elsewhere)
        name_layout.addLayout(other_row)
        name_layout.addStretch()
        self.add_computer_page = AddComputerPage(client)
        self.restore_page = RestorePage(client)
        self.pages = Pages()
        for page in (name_page, self.add_computer_page, self.restore_page):
            self.pages.addWidget(page)
        self.add_computer_button.clicked.connect(lambda: self._show_page(self.add_computer_page))
        self.restore_button.clicked.connect(lambda: self._show_page(self.restore_page))
        for other in (self.add_computer_page, self.restore_page):
            other.back_requested.connect(lambda: self._show_page(name_page))
        self.add_computer_page.added.connect(lambda _person: self._came_back(self.tr(
            "This computer is now one of your devices. Your albums and chats are arriving.")))
        self.restore_page.restored.connect(self._came_back)
        layout = QVBoxLayout(self)
        layout.addWidget(self.pages)
        self._show_page(name_page)
        self.finished.connect(self._remember_asked)

    @classmethod
    async def open_if_new(cls, client: EngineClient, settings: AppSettings,
                          parent: QWidget | None = None) -> NamePrompt | None:
        """Open the prompt if this profile has no name and it was never asked."""
        peer_id = (await client.identity()).peer_id
        if settings.name_asked(peer_id):
            return None
        name: str = await client.run(profile_ops.display_name)
        if name:
            return None
        prompt = cls(client, settings, parent, peer_id=peer_id)
        prompt.open()  # never exec(): no nested loop inside qasync
        prompt.adjustSize()  # to the page shown, now that it is laid out
        prompt.name_edit.setFocus()
        return prompt

    def _save(self) -> None:
        if self._task is not None and not self._task.done():
            return
        self.save_button.setEnabled(False)
        self._task = asyncio.ensure_future(self._run_save(self.name_edit.text()))

    async def _run_save(self, name: str) -> None:
        try:
            await self._client.run(profile_ops.set_display_name, name)
        except ThreadsError as exc:
            self.error.setText(explain(exc))
            self.error.show()
            self.save_button.setEnabled(True)
            self.failed.emit(explain(exc))
            return
        self.saved.emit(" ".join(name.split()))
        self.accept()

    def _show_page(self, page: QWidget) -> None:
        self.pages.setCurrentWidget(page)
        titles = {self.add_computer_page: self.tr("Add this computer to my devices"),
                  self.restore_page: self.tr("Restore from a backup")}
        self.setWindowTitle(titles.get(page, self.tr("Welcome to Threads")))
        self.adjustSize()  # to the page shown

    def _came_back(self, text: str) -> None:
        self.came_back.emit(text)
        self.accept()

    def done(self, result: int) -> None:
        self.add_computer_page.stop()
        self.restore_page.stop()
        super().done(result)

    def _remember_asked(self) -> None:
        # Saved or skipped, it is not asked again (for this profile).
        self._settings.mark_name_asked(self._peer_id)
        self._settings.sync()
