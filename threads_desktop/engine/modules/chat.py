"""Chat: messages with replies, edits, deletes, reactions and read markers.

Collections: `message` (text, reply_to, attachments), `reaction` (one
document per person, target and emoji, switched on and off) and `read_marker`
(one per person: the stamp of the newest message read)."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from threads_desktop.engine.core.errors import InvalidInputError, StorageError
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.db.collections import Document, Ops, ThreadCollections
from threads_desktop.engine.db.models import FieldSpec, Model, bound_id

if TYPE_CHECKING:  # photos imports this module's Reactions
    from threads_desktop.engine.modules.photos import Photos

MAX_MESSAGE_LENGTH = 10_000
MAX_ATTACHMENTS = 20

MESSAGE_MODEL = Model("message", {
    "text": FieldSpec("text", max_length=MAX_MESSAGE_LENGTH),
    "reply_to": FieldSpec("text", index=True, max_length=128),
    "photos": FieldSpec("list", max_length=MAX_ATTACHMENTS),  # IDs of photos in the thread
})
REACTION_MODEL = Model("reaction", {
    "target": FieldSpec("text", required=True, index=True, max_length=160),  # "collection/id"
    "emoji": FieldSpec("text", required=True, max_length=32),
    "on": FieldSpec("bool", required=True),
})
READ_MARKER_MODEL = Model("read_marker", {
    "up_to": FieldSpec("bytes", required=True, max_length=64),  # stamp of the newest message read
}, ids="log")
MODELS = (MESSAGE_MODEL, REACTION_MODEL, READ_MARKER_MODEL)


# Bidi embeddings, overrides and isolates: they reorder what follows them, so
# peer text could pass for other text or spill into what is shown after it.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_LINE_BREAKS = frozenset("\u2028\u2029")  # line and paragraph separators: a plain line break


def clean_text(text: str, limit: int) -> str:
    if not isinstance(text, str):
        raise InvalidInputError("a message is text")
    text = unicodedata.normalize("NFC", text).strip()
    if len(text) > limit:
        raise InvalidInputError(f"a message has at most {limit} characters")
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text):
        raise InvalidInputError("a message cannot hold control characters")
    return text


def text_from_peer(value: Any, limit: int) -> str | None:
    """A message, caption or comment as we show it, from whatever a peer
    wrote (the reducer checks only type and length): control characters
    but line breaks and tabs dropped (terminal escapes among them), bidi
    overrides and isolates dropped, NFC, trimmed, cut to `limit`. None
    when nothing is left or it is not text."""
    if not isinstance(value, str):
        return None
    kept = "".join("\n" if ch in _LINE_BREAKS else ch for ch in value
                   if ch in "\n\t" or ch in _LINE_BREAKS
                   or (ch not in _BIDI_CONTROLS and unicodedata.category(ch) not in ("Cc", "Cs")))
    return unicodedata.normalize("NFC", kept).strip()[:limit] or None


def message_text(message: Document) -> str | None:
    """A message's text as shown: cleaned on every read."""
    return text_from_peer(message.data.get("text"), MAX_MESSAGE_LENGTH)


class Reactions:
    """Reactions to any document of a thread (messages, photos, comments)."""

    def __init__(self, collections: ThreadCollections, author: PeerId) -> None:
        self._reactions = collections["reaction"]
        self._author = author

    def set(self, target: Document, emoji: str, on: bool = True, *, ops: Ops | None = None) -> None:
        emoji = unicodedata.normalize("NFC", emoji).strip()
        if not 0 < len(emoji) <= 8 or not emoji.isprintable():
            raise InvalidInputError("a reaction is one emoji")
        target_ref = f"{target.collection}/{target.id}"
        # One document per person, target and emoji: switching it is an update
        # by its only author, so it never conflicts.
        doc_id = bound_id(self._author, hashlib.sha256(f"{target_ref}\0{emoji}".encode()).digest()[:8])
        if self._reactions.find_one_by_id(doc_id) is None:
            self._reactions.create({"target": target_ref, "emoji": emoji, "on": on}, doc_id=doc_id, ops=ops)
        else:
            self._reactions.update(doc_id, {"on": on}, ops=ops)

    def of(self, target: Document) -> dict[str, list[PeerId]]:
        """Emoji -> who reacted with it (switched on)."""
        result: dict[str, list[PeerId]] = {}
        for reaction in self._reactions.find({"target": f"{target.collection}/{target.id}"}):
            emoji = text_from_peer(reaction.data["emoji"], 8)  # a peer's: cleaned like any text
            if reaction.data["on"] and emoji is not None and emoji.isprintable():
                result.setdefault(emoji, []).append(reaction.author)
        return dict(sorted(result.items()))


class Chat:
    def __init__(self, collections: ThreadCollections, author: PeerId) -> None:
        self.thread_id: ThreadId = collections.thread_id
        self._collections = collections
        self.messages = collections["message"]
        self._markers = collections["read_marker"]
        self._author = author
        self.reactions = Reactions(collections, author)

    def post(self, text: str, *, reply_to: str | None = None, photos: list[str] | None = None) -> str:
        text = clean_text(text, MAX_MESSAGE_LENGTH)
        if not text and not photos:
            raise InvalidInputError("a message needs text or a photo")
        if reply_to is not None:
            self.messages.get(reply_to)
        return self.messages.create({"text": text or None, "reply_to": reply_to, "photos": photos or None})

    def post_photos(self, photos: Photos, paths: Sequence[Path], text: str = "") -> str:
        """A message with pictures: they are imported into this chat through
        the same blob path as an album's (thumbnail inline, the rest sealed)."""
        result = photos.add_files(paths)
        if result.failed:
            name, reason = result.failed[0]
            raise InvalidInputError(f"{name}: {reason}")
        if result.stopped:
            raise StorageError(f"the message was not sent: {result.stopped}")
        return self.post(text, photos=list(dict.fromkeys(result.added + result.already_there)))

    def edit(self, message_id: str, text: str) -> None:
        message = self.messages.get(message_id)
        text = clean_text(text, MAX_MESSAGE_LENGTH)
        if not text and not message.data.get("photos"):
            raise InvalidInputError("a message needs text or a photo")
        self.messages.save(message, {**message.data, "text": text or None})

    def delete(self, message_id: str) -> None:
        self.messages.get(message_id)
        self.messages.delete(message_id)

    def react(self, message_id: str, emoji: str, on: bool = True) -> None:
        self.reactions.set(self.messages.get(message_id), emoji, on)

    def history(self, *, limit: int | None = None, offset: int = 0) -> list[Document]:
        """Messages in the thread's total order (oldest first)."""
        return self.messages.find(limit=limit, offset=offset)

    def mark_read(self, message_id: str) -> None:
        message = self.messages.get(message_id)
        marker_id = str(self._author)
        current = self._markers.find_one_by_id(marker_id)
        if current is None:
            self._markers.create({"up_to": message.created}, doc_id=marker_id)
        elif current.data["up_to"] < message.created:
            self._markers.update(marker_id, {"up_to": message.created})

    def unread_count(self) -> int:
        marker = self._markers.find_one_by_id(str(self._author))
        up_to: bytes = marker.data["up_to"] if marker else b""
        return self.messages.count(created_after=up_to, not_by=self._author)

    def describe(self, message: Document) -> dict[str, Any]:
        return {"id": message.id, "author": str(message.author), "text": message_text(message),
                "reply_to": message.data.get("reply_to"), "photos": message.data.get("photos", []),
                "edited": message.version > 1, "reactions": {e: [str(p) for p in who] for e, who in
                                                            self.reactions.of(message).items()}}
