"""Display names: one name per profile, told to every thread it writes to.

The name itself is a local setting (logstore/local_settings.py, a small
key-value table of this profile). Each thread learns it from a
`member_profile` document, one per author (its ID is the author's log ID,
so nobody can write anyone else's), which every member reads like any other
document. Members who may only view write theirs too (`readers_write_own`;
PROTOCOL §10b). A name is a hint written by a peer: it is cleaned again
whenever it is read, so a hostile one can neither break a layout nor pass
for text it is not.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from threads_desktop.engine.core import text
from threads_desktop.engine.core.errors import InvalidInputError
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.db.collections import ThreadCollections
from threads_desktop.engine.db.models import FieldSpec, Model
from threads_desktop.engine.logstore.database import Database
from threads_desktop.engine.logstore.local_settings import read_setting, write_setting

MAX_DISPLAY_NAME = 64
MEMBER_PROFILE_MODEL = Model("member_profile", {
    "name": FieldSpec("text", max_length=MAX_DISPLAY_NAME),
}, ids="log", readers_write_own=True)  # a member who may only view still tells its name
MODELS = (MEMBER_PROFILE_MODEL,)

_DISPLAY_NAME_KEY = "display_name"
def clean_display_name(name: str) -> str:
    """A name as we write it: NFC, trimmed, inner whitespace made single
    spaces, at most 64 characters, no hidden characters. Empty means none."""
    if not isinstance(name, str):
        raise InvalidInputError("a name is text")
    cleaned = unicodedata.normalize("NFC", " ".join(name.split()))
    if len(cleaned) > MAX_DISPLAY_NAME:
        raise InvalidInputError(f"a name has at most {MAX_DISPLAY_NAME} characters")
    if text.has_hidden(cleaned):
        raise InvalidInputError("a name cannot hold control or invisible characters")
    return cleaned


def name_from_peer(value: Any, limit: int = MAX_DISPLAY_NAME) -> str | None:
    """A display name as we show it, from whatever a peer wrote (core/text.py's rule)."""
    return text.name_from_peer(value, limit)


def display_name(database: Database) -> str:
    value = read_setting(database, _DISPLAY_NAME_KEY)
    return value if isinstance(value, str) else ""


def store_display_name(database: Database, name: str) -> None:
    write_setting(database, _DISPLAY_NAME_KEY, name)


def publish_name(collections: ThreadCollections, own_log: PeerId, name: str) -> bool:
    """Write our profile document in one thread if it does not say `name`
    yet. True if it wrote."""
    profiles = collections[MEMBER_PROFILE_MODEL.collection]
    doc_id = str(own_log)
    current = profiles.find_one_by_id(doc_id)
    if current is None:
        if not name:
            return False
        profiles.create({"name": name}, doc_id=doc_id)
        return True
    if current.data.get("name", "") == name:
        return False
    if name:
        profiles.update(doc_id, {"name": name})
    else:
        profiles.update(doc_id, {}, unset=["name"])
    return True


def names_by_log(collections: ThreadCollections) -> dict[PeerId, str]:
    """Each author log's name in one thread, cleaned (authors without one
    are left out); oldest change first, so that a person's newest name,
    written by any of its devices, comes last."""
    names = {}
    for document in sorted(collections[MEMBER_PROFILE_MODEL.collection].find(), key=lambda d: d.updated):
        name = name_from_peer(document.data.get("name"))
        if name is not None and document.id == str(document.author):
            names[document.author] = name
    return names
