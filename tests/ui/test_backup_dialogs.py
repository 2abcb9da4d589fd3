"""Settings > Backup's dialogs with real widgets: the passphrase is typed
twice, a hint says how guessable it is, and saving is offered only for two
equal passphrases that are not easy to guess."""

from __future__ import annotations

import qasync

from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.dialogs.backup_dialogs import CheckBackupDialog, ExportBackupDialog
from threads_desktop.ui.engine_client import EngineClient


def test_saving_waits_for_two_equal_passphrases_that_are_hard_to_guess(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime) -> None:
    dialog = ExportBackupDialog(EngineClient(runtime, qt_loop))
    qtbot.addWidget(dialog)
    dialog.open()
    assert not dialog.save_button.isEnabled() and "words" in dialog.hint.text()
    qtbot.keyClicks(dialog.passphrase, "short")
    assert "at least 10 characters" in dialog.hint.text() and not dialog.save_button.isEnabled()
    dialog.passphrase.setText("aaaaaaaaaaaaaaaa")
    assert dialog.hint.text().startswith("Easy to guess")
    dialog.repeat.setText("aaaaaaaaaaaaaaaa")
    assert not dialog.save_button.isEnabled()  # equal, but guessable
    dialog.passphrase.setText("purple elephant dances quietly")
    assert dialog.hint.text() == "Strong."
    dialog.repeat.clear()
    qtbot.keyClicks(dialog.repeat, "purple")
    assert dialog.mismatch.isHidden()  # still typing what it starts with
    qtbot.keyClicks(dialog.repeat, "x")
    assert not dialog.mismatch.isHidden() and not dialog.save_button.isEnabled()
    dialog.repeat.setText("purple elephant dances quietly")
    assert dialog.mismatch.isHidden() and dialog.save_button.isEnabled()
    assert dialog.passphrase.echoMode() == dialog.passphrase.EchoMode.Password
    dialog.show_passphrase.setChecked(True)
    assert dialog.repeat.echoMode() == dialog.repeat.EchoMode.Normal


def test_the_save_button_asks_where_with_a_file_dialog_that_does_not_block(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, tmp_path) -> None:
    dialog = ExportBackupDialog(EngineClient(runtime, qt_loop), default_folder=tmp_path)
    qtbot.addWidget(dialog)
    dialog.open()
    assert dialog.ask_file() is None  # nothing typed: not offered
    dialog.passphrase.setText("purple elephant dances quietly")
    dialog.repeat.setText("purple elephant dances quietly")
    dialog.save_button.click()
    chooser = dialog.chooser
    assert chooser is not None and chooser.isVisible() and chooser.defaultSuffix() == "threadsbackup"
    chooser.reject()


def test_checking_needs_a_file_and_a_passphrase(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, tmp_path) -> None:
    dialog = CheckBackupDialog(EngineClient(runtime, qt_loop))
    qtbot.addWidget(dialog)
    dialog.open()
    assert not dialog.check_button.isEnabled()
    dialog.file.setText(str(tmp_path / "x.threadsbackup"))
    assert not dialog.check_button.isEnabled()
    dialog.passphrase.setText("anything")
    assert dialog.check_button.isEnabled()
