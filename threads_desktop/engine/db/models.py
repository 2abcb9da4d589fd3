"""Models: what a collection's documents may hold, and who may change them.

Every peer checks every change against the model when it applies it, so a
peer that sends a malformed change gets it refused everywhere alike."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from threads_desktop.engine.codec.cbor import Link
from threads_desktop.engine.core.errors import SchemaError
from threads_desktop.engine.core.ids import PeerId

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_ID_LENGTH = 128
# A stored document, all fields together: each value is bounded by the event
# that wrote it (2 MiB), and concurrent writes may add up, so this only bounds
# what a read will decode.
MAX_DOCUMENT_BYTES = 64 << 20
_INT64 = range(-(1 << 63), 1 << 63)

# "blob": a map holding a blob reference ({manifest, key, size, mime}), checked
# as a map (what peers accept is the same), and always indexed by its manifest
# CID, so that a blob that arrives finds the documents naming it.
FieldKind = Literal["text", "int", "float", "bool", "bytes", "link", "list", "map", "blob", "any"]
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "text": (str,), "int": (int,), "float": (float, int), "bool": (bool,), "bytes": (bytes,),
    "link": (Link,), "list": (list,), "map": (dict,), "blob": (dict,),
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    kind: FieldKind
    required: bool = False
    index: bool = False
    max_length: int | None = None  # characters, bytes or items
    # Kept in its field's row only, not also in the document's data: a
    # photo's thumbnail (6-20 KB) is then stored once in the views, and the
    # reads that return documents fill it in (`Collection`). Not indexable.
    apart: bool = False

    def check(self, name: str, value: Any) -> None:
        if value is None:
            if self.required:
                raise SchemaError(f"field '{name}' is required")
            return
        if self.kind != "any":
            types = _PYTHON_TYPES[self.kind]
            if not isinstance(value, types) or (self.kind in ("int", "float") and isinstance(value, bool)):
                raise SchemaError(f"field '{name}' must be {self.kind}")
        if self.kind == "int" and value not in _INT64:
            raise SchemaError(f"field '{name}' must fit in 64 bits")
        if self.max_length is not None and isinstance(value, (str, bytes, list, dict)) \
                and len(value) > self.max_length:
            raise SchemaError(f"field '{name}' is longer than {self.max_length}")


@dataclass(frozen=True, slots=True)
class Model:
    """A collection's schema. `editors`: who may update or delete a document,
    its author(s) only, or every member who may write. `ids`: what a new
    document's ID must be. "own": made by its author's log (`bound_id`), so
    nobody else can create, and so claim, a document with that ID; "log":
    the author's log ID (one document per member); "any": free (content
    hashes, where two members adding the same photo make one document; names
    every member shares). `readers_write_own`: in an access-controlled
    thread, members who may only read may still write their own document of
    this collection (one per member, so `ids` is "log"): a display name."""

    collection: str
    fields: Mapping[str, FieldSpec]
    editors: Literal["author", "members"] = "author"
    ids: Literal["own", "log", "any"] | None = None  # None: "own" for author-edited models, else "any"
    readers_write_own: bool = False
    indexes: tuple[str, ...] = field(init=False)
    blobs: tuple[str, ...] = field(init=False)  # fields holding a blob reference (indexed by manifest)
    apart: tuple[str, ...] = field(init=False)  # fields kept out of the document's data (FieldSpec.apart)

    def __post_init__(self) -> None:
        if not NAME_PATTERN.match(self.collection):
            raise ValueError(f"bad collection name {self.collection!r}")
        if self.ids is None:
            object.__setattr__(self, "ids", "own" if self.editors == "author" else "any")
        if self.readers_write_own and (self.ids != "log" or self.editors != "author"):
            raise ValueError("only a one-per-member document its author alone edits can be written by readers")
        object.__setattr__(self, "blobs", tuple(sorted(n for n, f in self.fields.items() if f.kind == "blob")))
        object.__setattr__(self, "indexes", tuple(sorted(n for n, f in self.fields.items()
                                                         if f.index or f.kind == "blob")))
        object.__setattr__(self, "apart", tuple(sorted(n for n, f in self.fields.items() if f.apart)))
        if set(self.apart) & set(self.indexes):
            raise ValueError("a field kept apart cannot be indexed")

    def check(self, values: Mapping[str, Any], *, creating: bool) -> None:
        for name, value in values.items():
            spec = self.fields.get(name)
            if spec is None:
                raise SchemaError(f"{self.collection} has no field '{name}'")
            spec.check(name, value)
        if creating:
            missing = [n for n, f in self.fields.items() if f.required and values.get(n) is None]
            if missing:
                raise SchemaError(f"{self.collection} needs {', '.join(sorted(missing))}")

    def check_unset(self, names: Sequence[str]) -> None:
        for name in names:
            spec = self.fields.get(name)
            if spec is None:
                raise SchemaError(f"{self.collection} has no field '{name}'")
            if spec.required:
                raise SchemaError(f"field '{name}' is required and cannot be unset")


class Schema:
    """The models the app knows, by collection."""

    def __init__(self, models: Sequence[Model]) -> None:
        self._models = {m.collection: m for m in models}
        if len(self._models) != len(models):
            raise ValueError("two models share a collection name")

    @property
    def models(self) -> tuple[Model, ...]:
        return tuple(self._models.values())

    def model(self, collection: Any) -> Model:
        model = self._models.get(collection) if isinstance(collection, str) else None
        if model is None:
            raise SchemaError(f"unknown collection {collection!r}")
        return model


def bound_id(log_id: PeerId, salt: bytes) -> str:
    """A document ID only `log_id` can make: 8 bytes of salt and 7 of a
    hash binding them to the log (24 base32 characters, like a random ID)."""
    if len(salt) != 8:
        raise ValueError("a bound ID's salt is 8 bytes")
    return base64.b32encode(salt + _binding(log_id, salt)).decode("ascii").lower()


def is_bound_id(doc_id: str, log_id: PeerId) -> bool:
    if len(doc_id) != 24 or not doc_id.isascii():
        return False
    try:
        raw = base64.b32decode(doc_id.upper())
    except ValueError:
        return False
    return raw[8:] == _binding(log_id, raw[:8])


def _binding(log_id: PeerId, salt: bytes) -> bytes:
    return hashlib.sha256(b"threads/1/document-id" + log_id.raw + salt).digest()[:7]


def check_id(value: Any) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LENGTH or not value.isprintable():
        raise SchemaError("a document ID is printable text of 1 to 128 characters")
    return value
