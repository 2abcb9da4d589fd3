"""What arrived from others, for a notification."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from threads_desktop.engine.core.errors import ThreadsError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.modules.chat import message_text
from threads_desktop.engine.node import Node
from threads_desktop.ui.operations.members import author_labels
from threads_desktop.ui.people import person

NOTIFIED_COLLECTIONS = ("photo", "message")
@dataclass(frozen=True, slots=True)
class News:
    """One thing another member did: a message (with its text and the photos
    it carries) or photos added to an album."""

    author: str  # the name they give themselves, else their short ID
    message: bool
    text: str = ""
    photos: int = 0




@dataclass(frozen=True, slots=True)
class Arrival:
    """What others did in one thread, oldest first."""

    thread_id: str
    name: str | None  # None: not known (yet)
    kind: ThreadKind | None
    news: tuple[News, ...]

    def merged(self, other: Arrival) -> Arrival:
        return replace(self, name=other.name or self.name, kind=other.kind or self.kind,
                       news=self.news + other.news)


def arrivals_from_others(node: Node, documents: Iterable[tuple[ThreadId, str, str]]) -> list[Arrival]:
    """Among changed documents, the messages and album photos that are new
    (first version) and written by another member than this profile (the
    log that created it is not ours). A chat's photos come with their
    message, so only the message counts."""
    by_thread: dict[ThreadId, list[tuple[str, str]]] = {}
    for thread_id, collection, doc_id in documents:
        if collection in NOTIFIED_COLLECTIONS:
            by_thread.setdefault(thread_id, []).append((collection, doc_id))
    arrivals = []
    for thread_id, changed in by_thread.items():
        try:
            collections = node.collections(thread_id)
            summary = node.get_thread(thread_id)
            names = author_labels(node, thread_id)  # the member's name or short ID, as every view shows it
        except ThreadsError:  # a backup we cannot read, or gone
            continue
        own_log = node.store.own_log(thread_id)
        news: list[tuple[bytes, News]] = []  # by creation stamp: a change set has no order
        for collection, doc_id in changed:
            if collection == "photo" and summary.kind != ThreadKind.ALBUM:
                continue
            document = collections[collection].find_one_by_id(doc_id)
            # An edit or a caption is not news; neither is what we wrote.
            if document is None or document.version != 1 or document.author == own_log:
                continue
            author = person(names.get(str(document.author)), str(document.author))
            if collection == "message":
                photos = document.data.get("photos")
                news.append((document.created, News(author, True, message_text(document) or "",
                                                    len(photos) if isinstance(photos, list) else 0)))
            else:
                news.append((document.created, News(author, False, photos=1)))
        if news:
            news.sort(key=lambda stamped: stamped[0])
            arrivals.append(Arrival(str(thread_id), summary.name, summary.kind, tuple(n for _, n in news)))
    return arrivals
