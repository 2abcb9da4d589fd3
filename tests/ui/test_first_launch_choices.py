"""The first-launch page offers "Start new" beside "Add this computer to my
devices" and "Restore from a backup…"; each opens its page in the same
window and Back returns; nothing is asked of the engine before the person
acts."""

from __future__ import annotations

from pathlib import Path

import qasync

from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.dialogs.name_prompt import NamePrompt
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.settings import AppSettings


def _prompt(qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, tmp_path: Path) -> NamePrompt:  # type: ignore[no-untyped-def]
    prompt = NamePrompt(EngineClient(runtime, qt_loop), AppSettings.from_file(tmp_path / "settings.ini"),
                        peer_id="12D3KooWSomeone")
    qtbot.addWidget(prompt)
    prompt.open()
    return prompt


def test_three_ways_to_start_each_with_its_page_and_a_way_back(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, tmp_path: Path) -> None:
    prompt = _prompt(qtbot, qt_loop, runtime, tmp_path)
    assert prompt.save_button.text() == "Start new"
    assert prompt.add_computer_button.text() == "Add this computer to my devices…"
    assert prompt.restore_button.text() == "Restore from a backup…"
    name_page = prompt.pages.currentWidget()
    prompt.add_computer_button.click()
    assert prompt.pages.currentWidget() is prompt.add_computer_page
    assert prompt.windowTitle() == "Add this computer to my devices"
    assert not prompt.add_computer_page.add_button.isEnabled()  # no link yet
    prompt.add_computer_page.back_button.click()
    assert prompt.pages.currentWidget() is name_page and prompt.windowTitle() == "Welcome to Threads"
    prompt.restore_button.click()
    page = prompt.restore_page
    assert prompt.pages.currentWidget() is page and "It cannot bring back:" in page.cannot.text()
    assert not page.restore_button.isEnabled()
    page.file.setText(str(tmp_path / "backup.threadsbackup"))
    assert not page.restore_button.isEnabled()
    page.passphrase.setText("purple elephant dances quietly")
    assert page.restore_button.isEnabled()
    page.back_button.click()
    assert prompt.pages.currentWidget() is name_page


def test_the_dialog_takes_the_size_of_the_page_shown(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, tmp_path: Path) -> None:
    prompt = _prompt(qtbot, qt_loop, runtime, tmp_path)
    qtbot.waitExposed(prompt)
    short = prompt.sizeHint().height()
    prompt.restore_button.click()
    tall = prompt.sizeHint().height()
    assert tall > short + 50  # the restore page is taller: the name page had its blank before
    prompt.restore_page.back_button.click()
    assert prompt.sizeHint().height() == short
