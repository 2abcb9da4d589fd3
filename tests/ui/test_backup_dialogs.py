"""Settings > Backup's dialogs with real widgets: the passphrase is typed
twice, a hint says how guessable it is, and saving is offered only for two
equal passphrases that are not easy to guess. With real engines: a backup
exported, its passphrase checked (a wrong one said so), and restored at
first launch into a fresh profile, which gets every album and chat."""

from __future__ import annotations

import datetime
import time
from pathlib import Path

import qasync

from tests.ui.waiting import wait_for
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.devices_text import restored_text, summary_text
from threads_desktop.ui.dialogs.backup_dialogs import CheckBackupDialog, ExportBackupDialog
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.operations.backup import BackupSummary
from threads_desktop.ui.widgets.backup_page import BackupPage
from threads_desktop.ui.widgets.restore_page import RestorePage

PASSPHRASE = "purple elephant dances quietly"


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
    assert dialog.hint.text().startswith("Fair.")
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
    assert Path(chooser.selectedFiles()[0]).name == f"Threads backup {datetime.date.today().isoformat()}.threadsbackup"
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


def _engine(qtbot, client: EngineClient, fn, *args):  # type: ignore[no-untyped-def]
    return wait_for(qtbot, client.run(fn, *args), timeout=30_000)


def test_a_backup_exported_is_checked_and_restored_into_a_fresh_profile(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, tmp_path: Path) -> None:
    client = EngineClient(runtime, qt_loop)
    _engine(qtbot, client, Node.set_display_name, "Ana")
    album = _engine(qtbot, client, Node.create_thread, ThreadKind.ALBUM, "Lisbon")
    _engine(qtbot, client, Node.create_thread, ThreadKind.CHAT, "Family")
    page = BackupPage(client, default_folder=tmp_path)
    qtbot.addWidget(page)
    dialog = page.ask_export()
    dialog.passphrase.setText(PASSPHRASE)
    dialog.repeat.setText(PASSPHRASE)
    backup = tmp_path / "ana.threadsbackup"
    started = time.perf_counter()
    with qtbot.waitSignal(page.exported, timeout=30_000):
        dialog.export_to(backup)
    print(f"export: {time.perf_counter() - started:.2f} s")
    assert backup.stat().st_size > 0 and oct(backup.stat().st_mode & 0o777) == "0o600"
    assert page.status.text().startswith(f"Backup saved to {backup}.")

    check = page.ask_check()
    assert check.file.text() == str(backup)  # the file just saved
    check.passphrase.setText("purple elephant dances loudly")
    with qtbot.waitSignal(check.failed, timeout=30_000) as failed:
        check.check_button.click()
    assert failed.args == ["The passphrase is wrong, or the file is damaged. Nothing was changed."]
    check.passphrase.setText(PASSPHRASE)
    with qtbot.waitSignal(check.checked, timeout=30_000) as checked:
        check.check_button.click()
    assert checked.args == ["The passphrase is right. It holds Ana with 1 album and 1 chat."]

    fresh_runtime = EngineRuntime(lambda: Node.open(tmp_path / "fresh"))
    fresh_runtime.start()
    try:
        fresh = EngineClient(fresh_runtime, qt_loop)
        restore = RestorePage(fresh)
        qtbot.addWidget(restore)
        restore.file.setText(str(backup))
        restore.passphrase.setText("wrong but long enough")
        with qtbot.waitSignal(restore.failed, timeout=30_000):
            restore.restore_button.click()
        assert restore.status.text() == "The passphrase is wrong, or the file is damaged. Nothing was changed."
        assert _engine(qtbot, fresh, Node.list_threads) == []
        restore.passphrase.setText(PASSPHRASE)
        started = time.perf_counter()
        with qtbot.waitSignal(restore.restored, timeout=30_000) as restored:
            restore.restore_button.click()
        print(f"restore: {time.perf_counter() - started:.2f} s")
        assert restored.args[0].startswith("Restored 1 album and 1 chat.")
        assert restore.progress.isHidden() and not restore.restore_button.isEnabled()
        threads = _engine(qtbot, fresh, Node.list_threads)
        assert album.thread_id in {t.thread_id for t in threads} and len(threads) == 2
        assert _engine(qtbot, fresh, Node.display_name) == "Ana"
        me = _engine(qtbot, client, lambda node: node.persons.person_id)
        assert _engine(qtbot, fresh, lambda node: node.persons.person_id) == me  # the same person, a new device
    finally:
        fresh_runtime.stop()


def test_what_a_backup_holds_is_said_without_zero_counts(qapp) -> None:  # type: ignore[no-untyped-def]
    assert summary_text(BackupSummary("Ana", 1, 0)) == "It holds Ana with 1 album."
    assert restored_text(BackupSummary(None, 0, 3)).startswith("Restored 3 chats.")
    assert summary_text(BackupSummary(None, 0, 0)) == "It holds no albums or chats."
