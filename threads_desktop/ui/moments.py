"""When something was written, for a person: short and in their locale
("14:05", "Yesterday, 14:05", "3 Dec, 14:05", "03/12/2024, 14:05"), and in
full for a tooltip. The time is the author's clock, which a peer sets: a
nonsense value shows nothing rather than raising inside a model's data()."""

from __future__ import annotations

import datetime

from PySide6.QtCore import QCoreApplication, QDate, QDateTime, QLocale, QTime


def _moment(ms: int) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromtimestamp(ms / 1000)
    except (OverflowError, OSError, ValueError, TypeError):
        return None


def short_time(ms: int, now: datetime.datetime | None = None) -> str:
    when = _moment(ms)
    if when is None:
        return ""
    locale = QLocale()
    today = (now or datetime.datetime.now()).date()
    clock = locale.toString(QTime(when.hour, when.minute), QLocale.FormatType.ShortFormat)
    day = QDate(when.year, when.month, when.day)
    if when.date() == today:
        return clock
    if when.date() == today - datetime.timedelta(days=1):
        return QCoreApplication.translate("Moments", "Yesterday, {time}").format(time=clock)
    if when.year == today.year:
        return f"{locale.toString(day, 'd MMM')}, {clock}"
    return f"{locale.toString(day, QLocale.FormatType.ShortFormat)}, {clock}"


def full_time(ms: int) -> str:
    when = _moment(ms)
    if when is None:
        return ""
    moment = QDateTime(QDate(when.year, when.month, when.day), QTime(when.hour, when.minute, when.second))
    return QLocale().toString(moment, QLocale.FormatType.LongFormat)
