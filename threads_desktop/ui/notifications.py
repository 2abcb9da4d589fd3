"""What a notification says: who wrote or added what, where ("Alice: see
you at 6" in "Alice & Bob"; "Bob added 3 photos to Holidays"), gathered
from the engine's change sets and batched per few seconds. How it is shown
(the desktop's notification service or the tray) is ui/notifiers.py."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal

from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.ui.operations.notifications import Arrival, News

BATCH_MS = 4000  # one notification per this long at most
PREVIEW_CHARACTERS = 80
MESSAGES_SHOWN = 3  # per chat in one notification; the rest are counted




class NotificationDetail(enum.Enum):
    """How much a notification tells anyone who glances at the screen (a
    setting, as in Signal): everything, who but not what, only that
    something arrived, or no notification at all."""

    FULL = "full"
    NAMES = "names"
    NOTHING = "nothing"
    OFF = "off"

# --- the text ----------------------------------------------------------------------------

# Each string in its own translate() call, so that pyside6-lupdate finds it.
translate = QCoreApplication.translate

def preview(text: str) -> str:
    """A message's first line, shortened for a notification."""
    line = " ".join(text.strip().splitlines()[0].split()) if text.strip() else ""
    return line if len(line) <= PREVIEW_CHARACTERS else line[:PREVIEW_CHARACTERS - 1].rstrip() + "…"


def _photos(count: int) -> str:
    if count == 1:
        return translate("Notifications", "a photo")
    return translate("Notifications", "{count} photos").format(count=count)


def _place(arrival: Arrival) -> str:
    if arrival.name:
        return arrival.name
    if arrival.kind == ThreadKind.ALBUM:
        return translate("Notifications", "an album")
    return translate("Notifications", "a chat")


def _message_line(news: News, chat: str | None, detail: NotificationDetail) -> str:
    if detail is NotificationDetail.NAMES:
        if chat is None:
            return translate("Notifications", "{author} sent a message").format(author=news.author)
        return translate("Notifications", "{author} sent a message in {chat}").format(author=news.author, chat=chat)
    said = preview(news.text)
    if said and news.photos:
        said = translate("Notifications", "{text} (and {photos})").format(text=said, photos=_photos(news.photos))
    elif not said:
        said = translate("Notifications", "sent {photos}").format(photos=_photos(news.photos or 1))
        if chat is None:
            return f"{news.author} {said}"
        return translate("Notifications", "{author} in {chat} {what}").format(author=news.author, chat=chat, what=said)
    if chat is None:
        return f"{news.author}: {said}"
    return translate("Notifications", "{author} in {chat}: {text}").format(author=news.author, chat=chat, text=said)


def arrival_lines(arrival: Arrival, *, alone: bool, detail: NotificationDetail = NotificationDetail.FULL) -> list[str]:
    """The lines for one thread; `alone`: it is the only one, so the
    notification's title names the chat and its lines need not."""
    lines = []
    added: dict[str, int] = {}
    for news in arrival.news:
        if not news.message:
            added[news.author] = added.get(news.author, 0) + news.photos
    for author, count in added.items():
        lines.append(translate("Notifications", "{author} added {photos} to {album}").format(
            author=author, photos=_photos(count), album=_place(arrival)))
    messages = [news for news in arrival.news if news.message]
    chat = None if alone else _place(arrival)
    lines += [_message_line(news, chat, detail) for news in messages[-MESSAGES_SHOWN:]]
    hidden = len(messages) - MESSAGES_SHOWN
    if hidden > 0:
        lines.append(translate("Notifications", "and 1 more message") if hidden == 1
                     else translate("Notifications", "and {count} more messages").format(count=hidden))
    return lines


def notification_for(arrivals: list[Arrival],
                     detail: NotificationDetail = NotificationDetail.FULL) -> tuple[str, str]:
    """Title and body of one notification, plain text (a name may hold any
    character: a backend escapes it if its server reads markup). With
    NOTHING, neither names nor albums nor words: only how much arrived."""
    if detail is NotificationDetail.NOTHING:
        return translate("Notifications", "Threads"), _counts(arrivals)
    alone = len(arrivals) == 1
    title = _place(arrivals[0]) if alone else translate("Notifications", "Threads")
    return title, "\n".join(line for arrival in arrivals
                            for line in arrival_lines(arrival, alone=alone, detail=detail))


def _counts(arrivals: list[Arrival]) -> str:
    messages = sum(1 for arrival in arrivals for news in arrival.news if news.message)
    photos = sum(news.photos for arrival in arrivals for news in arrival.news if not news.message)
    said = []
    if messages:
        said.append(translate("Notifications", "1 new message") if messages == 1
                    else translate("Notifications", "{count} new messages").format(count=messages))
    if photos:
        said.append(translate("Notifications", "1 new photo") if photos == 1
                    else translate("Notifications", "{count} new photos").format(count=photos))
    return ", ".join(said) or translate("Notifications", "Something new arrived")


class NotificationBatcher(QObject):
    """Gathers arrivals and emits one notification per `delay_ms`: the first
    arrival starts the wait, everything until then is gathered per thread."""

    ready = Signal(str, str)  # title, body

    def __init__(self, delay_ms: int = BATCH_MS, parent: QObject | None = None, *,
                 detail: Callable[[], NotificationDetail] = lambda: NotificationDetail.FULL) -> None:
        super().__init__(parent)
        self._detail = detail  # read at each notification: a change applies at once
        self._pending: dict[str, Arrival] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self.flush)

    def add(self, arrivals: Iterable[Arrival]) -> None:
        for arrival in arrivals:
            held = self._pending.get(arrival.thread_id)
            self._pending[arrival.thread_id] = held.merged(arrival) if held else arrival
        if self._pending and not self._timer.isActive():
            self._timer.start()

    def pending(self) -> list[Arrival]:
        return list(self._pending.values())

    def flush(self) -> None:
        self._timer.stop()
        if not self._pending:
            return
        arrivals, self._pending = list(self._pending.values()), {}
        detail = self._detail()
        if detail is not NotificationDetail.OFF:
            self.ready.emit(*notification_for(arrivals, detail))
