"""Reactions to any document of a thread (messages, photos, comments): one
`reaction` document per person, target and emoji, switched on and off."""

from __future__ import annotations

import hashlib
import unicodedata

from threads_desktop.engine.core.errors import InvalidInputError
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.db.collections import Document, ThreadCollections, WriteBatch
from threads_desktop.engine.db.models import FieldSpec, Model, bound_id
from threads_desktop.engine.modules.texts import text_from_peer

REACTION_MODEL = Model("reaction", {
    "target": FieldSpec("text", required=True, index=True, max_length=160),  # "collection/id"
    "emoji": FieldSpec("text", required=True, max_length=32),
    "on": FieldSpec("bool", required=True),
})


class Reactions:
    """Reactions to any document of a thread (messages, photos, comments)."""

    def __init__(self, collections: ThreadCollections, author: PeerId) -> None:
        self._reactions = collections["reaction"]
        self._author = author

    def set(self, target: Document, emoji: str, on: bool = True, *, batch: WriteBatch | None = None) -> None:
        emoji = unicodedata.normalize("NFC", emoji).strip()
        if not 0 < len(emoji) <= 8 or not emoji.isprintable():
            raise InvalidInputError("a reaction is one emoji")
        target_ref = f"{target.collection}/{target.id}"
        # One document per person, target and emoji: switching it is an update
        # by its only author, so it never conflicts.
        doc_id = bound_id(self._author, hashlib.sha256(f"{target_ref}\0{emoji}".encode()).digest()[:8])
        if self._reactions.find_one_by_id(doc_id) is None:
            self._reactions.create({"target": target_ref, "emoji": emoji, "on": on}, doc_id=doc_id, batch=batch)
        else:
            self._reactions.update(doc_id, {"on": on}, batch=batch)

    def of(self, target: Document) -> dict[str, list[PeerId]]:
        """Emoji -> who reacted with it (switched on)."""
        result: dict[str, list[PeerId]] = {}
        for reaction in self._reactions.find({"target": f"{target.collection}/{target.id}"}):
            emoji = text_from_peer(reaction.data["emoji"], 8)  # a peer's: cleaned like any text
            if reaction.data["on"] and emoji is not None and emoji.isprintable():
                result.setdefault(emoji, []).append(reaction.author)
        return dict(sorted(result.items()))
