"""Chat: messages with replies, edits, deletes, reactions and read markers.

Collections: `message` (text, reply_to, attachments) and `read_marker` (one
per person: the stamp of the newest message read); reactions to messages are
those of modules/reactions.py. A reader (no write role) writes no marker: its
read position stays on this device (the profile's local settings)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from threads_desktop.engine.core.errors import InvalidInputError, StorageError
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.db.collections import Document, ThreadCollections
from threads_desktop.engine.db.models import FieldSpec, Model
from threads_desktop.engine.logstore.database import Database
from threads_desktop.engine.logstore.local_settings import read_setting, write_setting
from threads_desktop.engine.modules.reactions import REACTION_MODEL, Reactions
from threads_desktop.engine.modules.texts import clean_text, text_from_peer

if TYPE_CHECKING:
    from threads_desktop.engine.modules.photos import Photos

MAX_MESSAGE_LENGTH = 10_000
MAX_ATTACHMENTS = 20

MESSAGE_MODEL = Model("message", {
    "text": FieldSpec("text", max_length=MAX_MESSAGE_LENGTH),
    "reply_to": FieldSpec("text", index=True, max_length=128),
    "photos": FieldSpec("list", max_length=MAX_ATTACHMENTS),  # IDs of photos in the thread
})
READ_MARKER_MODEL = Model("read_marker", {
    "up_to": FieldSpec("bytes", required=True, max_length=64),  # stamp of the newest message read
}, ids="log")
# Reactions are on photos and comments too; their model is listed here, with
# the chat's, as it always was (one schema holds every thread's models).
MODELS = (MESSAGE_MODEL, REACTION_MODEL, READ_MARKER_MODEL)


def message_text(message: Document) -> str | None:
    """A message's text as shown: cleaned on every read."""
    return text_from_peer(message.data.get("text"), MAX_MESSAGE_LENGTH)


class Chat:
    def __init__(self, collections: ThreadCollections, author: PeerId, local: Database | None = None) -> None:
        self.thread_id: ThreadId = collections.thread_id
        self._collections = collections
        self.messages = collections["message"]
        self._markers = collections["read_marker"]
        self._author = author
        self._local = local  # where a reader's read position is kept (None: only the marker counts)
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

    def mark_read_here(self, message_id: str) -> None:
        """Mark read on this device only, writing nothing to the thread (a
        reader may not write its marker)."""
        if self._local is None:
            return
        created = self.messages.get(message_id).created
        if created > self.read_up_to():
            write_setting(self._local, _local_read_key(self.thread_id), created)

    def read_up_to(self) -> bytes:
        """The stamp of the newest message read: our marker, or the position
        kept on this device, whichever is further."""
        marker = self._markers.find_one_by_id(str(self._author))
        up_to: bytes = marker.data["up_to"] if marker else b""
        local = read_setting(self._local, _local_read_key(self.thread_id)) if self._local is not None else None
        return max(up_to, local) if isinstance(local, bytes) else up_to

    def unread_count(self) -> int:
        return self.messages.count(created_after=self.read_up_to(), not_by=self._author)

    def describe(self, message: Document) -> dict[str, Any]:
        return {"id": message.id, "author": str(message.author), "text": message_text(message),
                "reply_to": message.data.get("reply_to"), "photos": message.data.get("photos", []),
                "edited": message.version > 1, "reactions": {e: [str(p) for p in who] for e, who in
                                                            self.reactions.of(message).items()}}


def _local_read_key(thread_id: ThreadId) -> str:
    return f"read_up_to/{thread_id}"
