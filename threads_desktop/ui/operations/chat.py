"""What the chat view asks of the engine: small functions of the Node's public
API, run on the engine thread through `EngineClient.run`. They return plain
values (no Qt), so the view never holds a Document or a database handle."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from threads_desktop.engine.core.errors import InvalidInputError, NotFoundError
from threads_desktop.engine.core.hlc import unpack
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import ItemActions, ThreadSummary
from threads_desktop.engine.db.collections import Document
from threads_desktop.engine.modules.chat import Chat, message_text
from threads_desktop.engine.node import Node
from threads_desktop.ui.operations.members import author_device_names, author_labels

PAGE_SIZE = 200  # messages loaded at once; older ones page in by this many


@dataclass(frozen=True, slots=True)
class Reaction:
    emoji: str
    count: int
    mine: bool


@dataclass(frozen=True, slots=True)
class MessageItem:
    id: str
    author: str  # the author's log ID in this thread
    text: str
    created: bytes  # the event stamp: the thread's total order, compared with read markers
    created_ms: int  # wall-clock milliseconds of the author's clock (from the stamp's HLC)
    edited: bool
    mine: bool
    reply_to: str | None = None
    reply_author: str | None = None
    reply_quote: str | None = None  # the quoted message's first line; None when it is gone
    photos: tuple[str, ...] = ()
    reactions: tuple[Reaction, ...] = ()


@dataclass(frozen=True, slots=True)
class ChatPage:
    """The newest `len(messages)` messages of a chat, oldest first."""

    messages: tuple[MessageItem, ...]
    total: int
    me: str | None  # our log ID in the thread (None: we have no log there)
    read_up_to: bytes  # the stamp of the newest message we marked read (b"": none)
    unread: int
    thumbnails: dict[str, bytes]  # photo ID -> JPEG, only for photos the caller did not have yet
    names: dict[str, str]  # author (log ID) -> its name, else its member's short ID (ui/people.py)
    actions: dict[str, ItemActions] = field(default_factory=dict)  # what we may do to each message now
    # A page of changed messages only (`load_page(..., changed=...)`): those
    # still here, and the IDs of those gone; the others shown stay as they are.
    partial: bool = False
    gone: tuple[str, ...] = ()
    # author (log ID) -> the name of the device it writes from, for persons
    # writing here from more than one ("" for an unnamed first device; issue 19)
    devices: dict[str, str] = field(default_factory=dict)
    my_logs: frozenset[str] = frozenset()  # our log and those of our person's other devices
    persons: dict[str, str] = field(default_factory=dict)  # author (log ID) -> its person: one colour each


@dataclass(frozen=True, slots=True)
class ChangedMessages:
    """What a change set named in a chat: messages, and reactions (each to a
    message, or to something else of the thread)."""

    messages: frozenset[str]
    reactions: frozenset[str] = frozenset()


def _chat(node: Node, thread_id: ThreadId) -> Chat:
    # node.chat() insists on a log of our own (it writes); reading needs none.
    own_log = node.store.own_log(thread_id)
    return Chat(node.collections(thread_id), own_log if own_log is not None else node.identity.peer_id,
                node.database)


def load_page(node: Node, thread_id: ThreadId, from_stamp: bytes | None, older: int,
              known_photos: frozenset[str], changed: ChangedMessages | None = None) -> ChatPage:
    """The newest `older` messages (`from_stamp` None: opening the chat), or
    every message from the one stamped `from_stamp` (the oldest shown) plus
    `older` before it, and never fewer than the newest PAGE_SIZE: a live
    reload keeps what is shown and only grows. With `changed`, only the
    messages a change set named (a partial page)."""
    if changed is not None:
        return _changed_page(node, thread_id, changed, known_photos)
    chat = _chat(node, thread_id)
    own_log = node.store.own_log(thread_id)
    me = str(own_log) if own_log is not None else None
    total = chat.messages.count()
    if from_stamp is None:
        offset = max(0, total - older)
    else:
        before = total - chat.messages.count(created_after=from_stamp) - 1
        # At least the newest page: a message that arrives late with an
        # earlier time than the oldest shown (written offline) belongs there.
        offset = max(0, min(before - older, total - PAGE_SIZE))
    documents = chat.history(limit=total - offset, offset=offset)  # without a limit, find ignores offset
    quoted = {d.id: d for d in documents}
    return _page(node, thread_id, chat, tuple(_item(chat, d, me, quoted) for d in documents), total, me,
                 known_photos)


def _changed_page(node: Node, thread_id: ThreadId, changed: ChangedMessages,
                  known_photos: frozenset[str]) -> ChatPage:
    chat = _chat(node, thread_id)
    own_log = node.store.own_log(thread_id)
    me = str(own_log) if own_log is not None else None
    named = set(changed.messages)
    for reaction in node.collections(thread_id)["reaction"].by_ids(sorted(changed.reactions)):
        target = reaction.data.get("target")
        if isinstance(target, str) and target.startswith("message/"):
            named.add(target.removeprefix("message/"))
    documents = sorted(chat.messages.by_ids(sorted(named)), key=lambda d: (d.created, d.id))
    page = _page(node, thread_id, chat, tuple(_item(chat, d, me, {}) for d in documents), chat.messages.count(),
                 me, known_photos)
    return replace(page, partial=True, gone=tuple(sorted(named - {d.id for d in documents})))


def _page(node: Node, thread_id: ThreadId, chat: Chat, items: tuple[MessageItem, ...], total: int, me: str | None,
          known_photos: frozenset[str]) -> ChatPage:
    # What our person's other devices wrote is ours too (issue 19): "You", on our side.
    authors = node.author_devices(thread_id)
    my_logs = frozenset({log for log, author in authors.items() if author.person == node.membership.me}
                        | ({me} if me else set()))
    items = tuple(replace(item, mine=True) if item.author in my_logs and not item.mine else item for item in items)
    thumbnails: dict[str, bytes] = {}
    wanted = {p for item in items for p in item.photos} - known_photos
    if wanted:
        photos = node.collections(thread_id)["photo"]
        for photo_id in wanted:
            photo = photos.find_one_by_id(photo_id)
            if photo is not None and isinstance(photo.data.get("thumbnail"), bytes):
                thumbnails[photo_id] = photo.data["thumbnail"]
    read_up_to = chat.read_up_to() if me else b""
    unread = chat.unread_count() if me else 0
    return ChatPage(items, total, me, read_up_to, unread, thumbnails, author_labels(node, thread_id),
                    message_actions(node, thread_id, [item.id for item in items]),
                    devices=author_device_names(node, thread_id), my_logs=my_logs,
                    persons=node.author_members(thread_id))


def message_actions(node: Node, thread_id: ThreadId, message_ids: list[str]) -> dict[str, ItemActions]:
    """What the ACL lets us do now to each of these messages (edit, delete)."""
    return node.item_actions(thread_id, "message", message_ids)


def _item(chat: Chat, message: Document, me: str | None, quoted: dict[str, Document]) -> MessageItem:
    described = chat.describe(message)
    reply_to = described["reply_to"]
    reply_author = reply_quote = None
    if reply_to:
        original = quoted.get(reply_to) or chat.messages.find_one_by_id(reply_to)
        if original is not None:
            reply_author = str(original.author)
            text = message_text(original) or ""
            reply_quote = text.split("\n", 1)[0] if text else ("📷" if original.data.get("photos") else "")
    reactions = tuple(Reaction(emoji, len(who), me is not None and me in who)
                      for emoji, who in described["reactions"].items())
    return MessageItem(
        id=message.id, author=described["author"], text=described["text"] or "", created=message.created,
        created_ms=unpack(message.created_hlc)[0], edited=described["edited"],
        mine=me is not None and described["author"] == me, reply_to=reply_to, reply_author=reply_author,
        reply_quote=reply_quote, photos=tuple(described["photos"] or ()), reactions=reactions)


def thread_summary(node: Node, thread_id: ThreadId) -> ThreadSummary:
    return node.get_thread(thread_id)


def post(node: Node, thread_id: ThreadId, text: str, reply_to: str | None, photos: Sequence[Path]) -> str:
    chat = node.chat(thread_id)
    if photos and reply_to is None:
        return chat.post_photos(node.photos(thread_id), list(photos), text)
    if photos:  # post_photos takes no reply: import, then post the reply with them
        result = node.photos(thread_id).add_files(list(photos))
        if result.failed:
            name, reason = result.failed[0]
            raise InvalidInputError(f"{name}: {reason}")
        return chat.post(text, reply_to=reply_to, photos=list(dict.fromkeys(result.added + result.already_there)))
    return chat.post(text, reply_to=reply_to)


def edit(node: Node, thread_id: ThreadId, message_id: str, text: str) -> None:
    node.chat(thread_id).edit(message_id, text)


def delete(node: Node, thread_id: ThreadId, message_id: str) -> None:
    node.chat(thread_id).delete(message_id)


def react(node: Node, thread_id: ThreadId, message_id: str, emoji: str, on: bool) -> None:
    node.chat(thread_id).react(message_id, emoji, on)


def mark_read(node: Node, thread_id: ThreadId, message_id: str) -> int:
    """Marks read up to that message (a reader, which writes nothing to the
    thread, on this device only); returns what is still unread."""
    chat = _chat(node, thread_id)
    try:
        if node.get_thread(thread_id).can_write:
            node.chat(thread_id).mark_read(message_id)
        else:
            chat.mark_read_here(message_id)
    except NotFoundError:
        pass  # deleted meanwhile: nothing to mark
    return chat.unread_count()


def unread_count(node: Node, thread_id: ThreadId) -> int:
    return _chat(node, thread_id).unread_count()
