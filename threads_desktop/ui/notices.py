"""Membership notices and removals in a person's words: names, never peer
IDs ("Bob joined (invited by Alice)", "Alice removed Bob", "Carol left",
"Dan changed Bob's role to View", "Alice made Bob an admin", "Alice let
anyone with the album's keys view it", "Alice let Bob edit one photo",
"Alice added a device: Alice's desktop"), and "you" for ourselves."""

from __future__ import annotations

import datetime

from PySide6.QtCore import QCoreApplication, QDate, QLocale

from threads_desktop.engine.acl.notices import MembershipNotice
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.ui.models.member_table_model import role_text
from threads_desktop.ui.operations.notices import RemovalNotice
from threads_desktop.ui.people import person


def _tr(text: str) -> str:
    return QCoreApplication.translate("Notices", text)


def notice_text(notice: MembershipNotice, names: dict[str, str], me: str, kind: ThreadKind | None = None) -> str:
    """`kind`: the thread's, for the words of a default role ("the album's keys")."""
    def who(peer: str, *, start: bool) -> str:
        if peer == me:
            return _tr("You") if start else _tr("you")
        return person(names.get(peer), peer)

    subject = who(notice.subject, start=True)
    actor = who(notice.actor, start=True) if notice.actor is not None else ""
    if notice.kind in ("admin-given", "admin-taken", "default-changed", "document-role"):
        return _rights_text(notice, actor, who(notice.subject, start=False), notice.subject == me, kind)
    if notice.kind == "joined":
        if notice.by_invite_of is None:
            return _tr("{subject} joined").format(subject=subject)
        return _tr("{subject} joined (invited by {inviter})").format(
            subject=subject, inviter=who(notice.by_invite_of, start=False))
    if notice.kind == "left":
        return _tr("{subject} left").format(subject=subject)
    if notice.kind in ("device-added", "device-removed"):
        return _device_text(notice, subject)
    target = who(notice.subject, start=False)
    if notice.kind == "removed":
        return _tr("{actor} removed {subject}").format(actor=actor, subject=target)
    role = role_text(notice.role or Role.NO_ACCESS)
    if notice.kind == "added":
        return _tr("{actor} added {subject} ({role})").format(actor=actor, subject=target, role=role)
    if notice.subject == me:
        return _tr("{actor} changed your role to {role}").format(actor=actor, role=role)
    return _tr("{actor} changed {subject}'s role to {role}").format(actor=actor, subject=target, role=role)


def _device_text(notice: MembershipNotice, subject: str) -> str:
    """A person's devices (issue 19): "Alice added a device: Alice's desktop"."""
    name = notice.entity
    if notice.kind == "device-added":
        if name:
            return _tr("{subject} added a device: {device}").format(subject=subject, device=name)
        return _tr("{subject} added a device").format(subject=subject)
    if name:
        return _tr("{subject} removed a device: {device}").format(subject=subject, device=name)
    return _tr("{subject} removed a device").format(subject=subject)


def _rights_text(notice: MembershipNotice, actor: str, subject: str, about_me: bool, kind: ThreadKind | None) -> str:
    """Admin rights, the default role, one document's roles: what it lets people do."""
    if notice.kind == "admin-given":
        return _tr("{actor} made {subject} an admin").format(actor=actor, subject=subject)
    if notice.kind == "admin-taken":
        if about_me:
            return _tr("{actor} took your admin rights").format(actor=actor)
        return _tr("{actor} took {subject}'s admin rights").format(actor=actor, subject=subject)
    role = notice.role or Role.NO_ACCESS
    if notice.kind == "default-changed":  # the role of anyone holding the keys whom the ACL does not name
        album, chat = kind is ThreadKind.ALBUM, kind is ThreadKind.CHAT
        if role is Role.NO_ACCESS:
            thread = _tr("the album") if album else _tr("the chat") if chat else _tr("it")
            return _tr("{actor} closed {thread} to anyone not listed as a member").format(actor=actor, thread=thread)
        keys = _tr("the album's keys") if album else _tr("the chat's keys") if chat else _tr("its keys")
        return _tr(_DEFAULT_WORDS[role]).format(actor=actor, keys=keys)
    document = _document_words(notice.entity or "")
    if notice.subject == "":  # the role of anyone the document does not name
        if role is Role.NO_ACCESS:
            return _tr("{actor} kept {document} from everyone else").format(actor=actor, document=document)
        return _tr("{actor} let everyone else {can} {document}").format(
            actor=actor, can=_tr(_DOCUMENT_VERBS[role]), document=document)
    if role is Role.NO_ACCESS:
        if about_me:
            return _tr("{actor} took your access to {document}").format(actor=actor, document=document)
        return _tr("{actor} took {subject}'s access to {document}").format(
            actor=actor, subject=subject, document=document)
    return _tr("{actor} let {subject} {can} {document}").format(
        actor=actor, subject=subject, can=_tr(_DOCUMENT_VERBS[role]), document=document)


# Translated where used (_tr), as role_text does.
_DEFAULT_WORDS = {
    Role.FOLLOW: "{actor} let anyone with {keys} keep an encrypted backup of it",
    Role.READ: "{actor} let anyone with {keys} view it",
    Role.WRITE: "{actor} let anyone with {keys} view it and add to it",
    Role.DELETE: "{actor} let anyone with {keys} view it, add to it and delete from it",
}
_DOCUMENT_VERBS = {
    Role.FOLLOW: "only keep a backup of",
    Role.READ: "only view",
    Role.WRITE: "edit",
    Role.DELETE: "edit and delete",
}


def _document_words(entity: str) -> str:
    """"one photo" for `photo/<id>`, and so on; "one item" for what has no word here."""
    words = {"photo": _tr("one photo"), "message": _tr("one message"), "comment": _tr("one comment")}
    return words.get(entity.rpartition("/")[0], _tr("one item"))


def removal_text(notice: RemovalNotice, kind: ThreadKind | None) -> str:
    """"Alice removed you from Lisbon 2024 on 6 Dec", or the role left to us."""
    removal = notice.removal
    by = person(notice.by_name, removal.by)
    unnamed = {ThreadKind.ALBUM: _tr("this album"), ThreadKind.CHAT: _tr("this chat")}
    thread = notice.thread_name or (unnamed[kind] if kind is not None else _tr("this backup"))
    day = _day(removal.at_ms)
    if removal.role_left is None:
        return _tr("{by} removed you from {thread} on {day}").format(by=by, thread=thread, day=day)
    return _tr("Your access to {thread} was changed to {role} by {by} on {day}").format(
        thread=thread, role=role_text(removal.role_left), by=by, day=day)


def _day(ms: int) -> str:
    """"6 Dec" this year, "6 Dec 2025" before (the writer's clock: nonsense shows as a bare date)."""
    try:
        when = datetime.datetime.fromtimestamp(ms / 1000)
    except (OverflowError, OSError, ValueError):
        return "?"
    pattern = "d MMM" if when.year == datetime.datetime.now().year else "d MMM yyyy"
    return QLocale().toString(QDate(when.year, when.month, when.day), pattern)
