"""The one place that turns an engine error into words for a person: what
went wrong and why, never a peer ID, a hash or an exception's own text.
Every view shows errors through `explain` (or `refused`, which says what
was being done first)."""

from __future__ import annotations

import logging
import re

from PySide6.QtCore import QCoreApplication

from threads_desktop.engine.core.errors import (
    AccessDeniedError,
    BackupError,
    ConflictError,
    EngineStoppedError,
    FileWriteError,
    InvalidInputError,
    InvalidLinkError,
    MissingKeyError,
    NotFoundError,
    PeerError,
    ProfileError,
    SchemaError,
    StorageError,
)

log = logging.getLogger(__name__)
# What must never reach a person: peer IDs, thread IDs and CIDs (multibase
# base32), hex digests, entity paths such as "photo/<id>", and the words of
# formats and protocol a developer would use.
_INTERNAL = re.compile(r"12D3KooW\w+|\bb[a-z2-7]{20,}|\b[0-9a-f]{16,}\b|\b[a-z_]+/[\w-]{8,}"
                       r"|multibase|base32|base58|base64|cbor|\bcid\b|schema|payload|epoch|\bops?\b|\bseq\b"
                       r"|\blog\b|\bbytes\b|traceback|exception", re.IGNORECASE)


def explain(error: BaseException) -> str:
    """Why it did not happen, as one sentence a person can act on."""
    if isinstance(error, AccessDeniedError | SchemaError) and "only the author" in str(error):
        return QCoreApplication.translate("Refusals", "Only the person who added it can change it.")
    if isinstance(error, AccessDeniedError):
        return _access_denied(str(error))
    if isinstance(error, BackupError | ConflictError | FileWriteError) or _device_refusal(error):
        return _persons(error)
    if isinstance(error, InvalidLinkError):
        return QCoreApplication.translate("Refusals", "This link is incomplete or damaged; ask for a new one.")
    if isinstance(error, MissingKeyError):
        return QCoreApplication.translate(
            "Refusals", "This device keeps only an encrypted backup of it, so it cannot change it.")
    if isinstance(error, NotFoundError):
        return QCoreApplication.translate("Refusals", "It is no longer here: it was deleted, or you left it.")
    if isinstance(error, StorageError):
        return QCoreApplication.translate("Refusals", "The disk could not save it (is it full?). Nothing was changed.")
    if isinstance(error, PeerError):
        return QCoreApplication.translate(
            "Refusals", "The other device could not be reached. Try again when you are both online.")
    if isinstance(error, EngineStoppedError):
        return QCoreApplication.translate("Refusals", "The app is closing.")
    if isinstance(error, ProfileError | InvalidInputError) and not _INTERNAL.search(str(error)):
        # Bad input the engine words for the user ("a name has at most 64 characters").
        text = str(error)
        return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
    if isinstance(error, InvalidInputError):
        return QCoreApplication.translate(
            "Refusals", "It was not accepted: something in it is not in a form the app can use.")
    log.error("unexpected error shown to the user", exc_info=error)
    return QCoreApplication.translate("Refusals", "Something went wrong inside the app; the details are in its log.")


def refused(action: str, error: BaseException) -> str:
    """'Could not delete the photos: <why>'. `action` is already translated."""
    return QCoreApplication.translate("Refusals", "%1: %2").replace("%1", action).replace("%2", explain(error))


def _access_denied(reason: str) -> str:
    if "delete others" in reason:
        return QCoreApplication.translate("Refusals", "You can delete only what you added yourself.")
    if "admins" in reason or "the ACL" in reason:
        return QCoreApplication.translate("Refusals", "Only the people who manage its members can do that.")
    if re.search(r"\b(may not|right to) (read|follow)\b", reason):
        return QCoreApplication.translate("Refusals", "You are no longer a member of it.")
    # The engine says "that right was revoked" only when it was: a member who
    # joined as a viewer never had a role that changed.
    if "revoked" in reason:
        return QCoreApplication.translate(
            "Refusals", "You can only view it now: the people who manage it changed your role.")
    if "write" in reason or "add to it" in reason:
        return QCoreApplication.translate("Refusals", "You can view it but not add to it or change it.")
    return QCoreApplication.translate("Refusals", "Your role in it does not allow that.")


def refused_change(reason: str, who: str) -> str:
    """Why a member's change was refused by every member (the admin's list
    of refused changes), from the engine's reason; `who` names them."""
    if "delete others" in reason:
        return QCoreApplication.translate(
            "Refusals", "%1 tried to delete something someone else added, without the role to.").replace("%1", who)
    if "only the author" in reason:
        return QCoreApplication.translate(
            "Refusals", "%1 tried to change something someone else added.").replace("%1", who)
    if "edit the ACL" in reason or "revocation of its author's right to edit" in reason:
        return QCoreApplication.translate(
            "Refusals", "%1 tried to change the members without managing them.").replace("%1", who)
    if "revoked concurrently" in reason:
        return QCoreApplication.translate(
            "Refusals", "%1 changed something just as their role was taken away.").replace("%1", who)
    if "may not write" in reason or "may not read" in reason:
        return QCoreApplication.translate(
            "Refusals", "%1 tried to add or change something without the role to.").replace("%1", who)
    if "not bound to a member" in reason:
        return QCoreApplication.translate("Refusals", "Someone who is not a member tried to add something.")
    if "invite" in reason:
        return QCoreApplication.translate(
            "Refusals", "%1 tried to join with an invite that was no longer valid.").replace("%1", who)
    return QCoreApplication.translate("Refusals", "A change by %1 was not accepted.").replace("%1", who)


_DEVICE_REFUSALS = {
    "spent": "This link was used already. Make a new one on your other device.",
    "expired": "This link has expired. Make a new one on your other device.",
    "unknown": "Your other device does not know this link. Make a new one there.",
    "large": "Your other device holds too many albums and chats to send them all over a link. "
             "The link still works: leave some you no longer need there, then try it again.",
}


def _device_refusal(error: BaseException) -> bool:
    """The issuing device refused a device link (engine/persons/flows.DeviceLinkRefused)."""
    return isinstance(error, PeerError) and getattr(error, "reason", None) in _DEVICE_REFUSALS


def _persons(error: BaseException) -> str:
    """Backups, device links and profiles that already hold something (issue 19)."""
    tr = QCoreApplication.translate
    text = str(error)
    if _device_refusal(error):
        return tr("Refusals", _DEVICE_REFUSALS[str(getattr(error, "reason", ""))])
    if isinstance(error, ConflictError):
        return tr("Refusals", "This computer already has albums or chats of its own. A backup or another "
                              "device's link only goes into a profile that is still empty.")
    if isinstance(error, FileWriteError):
        return tr("Refusals", "The file could not be saved there. Choose another folder.")
    if "newer version" in text:
        return tr("Refusals", "This backup was made by a newer version of Threads. Update the app to open it.")
    if "not a Threads" in text:
        return tr("Refusals", "This file is not a Threads backup.")
    if text.startswith("cannot read"):
        return tr("Refusals", "The file could not be read.")
    if "passphrase is" in text or "cannot be written down" in text:
        return tr("Refusals", "The passphrase cannot be used: it is empty, too long or has characters that "
                              "cannot be typed.")
    return tr("Refusals", "The passphrase is wrong, or the file is damaged. Nothing was changed.")
