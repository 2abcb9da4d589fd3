"""Membership notices and removals in a person's words: names, never peer
IDs ("Bob joined (invited by Alice)", "Alice removed Bob", "Carol left",
"Dan changed Bob's role to View"), and "you" for ourselves."""

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


def notice_text(notice: MembershipNotice, names: dict[str, str], me: str) -> str:
    def who(peer: str, *, start: bool) -> str:
        if peer == me:
            return _tr("You") if start else _tr("you")
        return person(names.get(peer), peer)

    subject = who(notice.subject, start=True)
    actor = who(notice.actor, start=True) if notice.actor is not None else ""
    if notice.kind == "joined":
        if notice.by_invite_of is None:
            return _tr("{subject} joined").format(subject=subject)
        return _tr("{subject} joined (invited by {inviter})").format(
            subject=subject, inviter=who(notice.by_invite_of, start=False))
    if notice.kind == "left":
        return _tr("{subject} left").format(subject=subject)
    target = who(notice.subject, start=False)
    if notice.kind == "removed":
        return _tr("{actor} removed {subject}").format(actor=actor, subject=target)
    role = role_text(notice.role or Role.NO_ACCESS)
    if notice.kind == "added":
        return _tr("{actor} added {subject} ({role})").format(actor=actor, subject=target, role=role)
    if notice.subject == me:
        return _tr("{actor} changed your role to {role}").format(actor=actor, role=role)
    return _tr("{actor} changed {subject}'s role to {role}").format(actor=actor, subject=target, role=role)


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
