"""The words for devices and backups (issue 19) that more than one view
says: what a backup holds, what a restore brought back, what a device link
will do."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication

from threads_desktop.ui.operations.backup import BackupSummary
from threads_desktop.ui.operations.devices import DeviceLinkPreview


def _counts(summary: BackupSummary) -> str:
    """ "3 albums and 2 chats", "1 album": only what there is."""
    tr = QCoreApplication.translate
    parts = []
    if summary.albums:
        parts.append(tr("Backup", "1 album") if summary.albums == 1 else
                     tr("Backup", "%1 albums").replace("%1", str(summary.albums)))
    if summary.chats:
        parts.append(tr("Backup", "1 chat") if summary.chats == 1 else
                     tr("Backup", "%1 chats").replace("%1", str(summary.chats)))
    if not parts:
        return tr("Backup", "no albums or chats")
    return parts[0] if len(parts) == 1 else tr("Backup", "%1 and %2").replace("%1", parts[0]).replace("%2", parts[1])


def summary_text(summary: BackupSummary) -> str:
    """ "It holds Alice with 3 albums and 2 chats." """
    tr = QCoreApplication.translate
    if summary.name:
        return tr("Backup", "It holds %1 with %2.").replace("%1", summary.name).replace("%2", _counts(summary))
    return tr("Backup", "It holds %1.").replace("%1", _counts(summary))


def restored_text(summary: BackupSummary) -> str:
    tr = QCoreApplication.translate
    return tr("Backup", "Restored %1. Their photos and messages come back as the people you share them with "
                        "come online.").replace("%1", _counts(summary))


def preview_text(preview: DeviceLinkPreview) -> str:
    """What using a device link would do here, or why it cannot."""
    tr = QCoreApplication.translate
    if preview.problem == "expired":
        return tr("Devices", "This link has expired. Make a new one on your other device.")
    if preview.problem == "already yours":
        return tr("Devices", "This computer is already one of these devices.")
    if preview.problem == "has albums":
        return tr("Devices", "This computer already has albums or chats of its own, so it cannot become "
                             "another device. Choose an empty data folder in Settings first.")
    if preview.device_name:
        return tr("Devices", "This will make this computer another of your devices (the link came from “%1”). "
                             "It will see every album and chat you are in.").replace("%1", preview.device_name)
    return tr("Devices", "This will make this computer another of your devices. It will see every album and "
                         "chat you are in.")
