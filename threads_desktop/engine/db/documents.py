"""The reducer behind every collection: a document is a map of
last-writer-wins fields (the write with the later stamp wins), created by its
earliest create, deleted once a delete has removed every create (a delete
removes the creates it had seen).

Whether an op may act is decided from the event's causal past (its log and
its deps), never from what happens to be applied here: an update or delete
needs the document's create in its causal past, and a create of a document
that already exists is accepted only from a writer who had not seen that
document (two members adding the same photo at once). Every rule is
commutative, so peers that apply the same events in any order hold
byte-identical views.

"ops" means three things in this code base, named apart: a db event's
document ops (here: `MAX_DOCUMENT_OPS`, `WriteBatch.document_ops`), a control
event's ACL ops (`acl/control_ops.py`), and the UI's typed calls into the
engine, its operations (`ui/operations/`). Both payloads say "ops" on the wire.

Event payload: `{"type": "db", "ops": [op, ...]}` with op one of
  {"op": "create", "c": collection, "id": ID, "set": {field: value}}
  {"op": "update", "c": collection, "id": ID, "set": {...}, "unset": [field]}
  {"op": "delete", "c": collection, "id": ID}
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from threads_desktop.engine.acl.control_ops import document_entity
from threads_desktop.engine.codec import cbor
from threads_desktop.engine.codec.cbor import Link
from threads_desktop.engine.core.errors import SchemaError, StorageError
from threads_desktop.engine.core.ids import PEER_ID_LENGTH, ThreadId
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.db.models import MAX_DOCUMENT_BYTES, Model, Schema, check_id, is_bound_id
from threads_desktop.engine.eventstore.stamps import STAMP_LENGTH
from threads_desktop.engine.eventstore.store import DIGEST_MODULUS, AppliedChanges, Event, PayloadOf

DB_EVENT = "db"
_CREATED, _DELETED = object(), object()  # what an op did to its document's existence
MAX_DOCUMENT_OPS = 256
_OP_FIELDS = {"create": ({"op", "c", "id", "set"}, set()), "update": ({"op", "c", "id"}, {"set", "unset"}),
              "delete": ({"op", "c", "id"}, set())}
_INT64 = range(-(1 << 63), 1 << 63)

Key = tuple[bytes, str, str]


def db_event(*document_ops: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": DB_EVENT, "ops": [dict(op) for op in document_ops]}


def readers_may_write(schema: Schema) -> Callable[[Any], bool]:
    """For the ACL gate: is this payload a db event whose every op is on a
    collection that readers may write their own document of? (The reducer
    then checks each op: readers write only their own.)"""
    allowed = frozenset(model.collection for model in schema.models if model.readers_write_own)

    def check(payload: Any) -> bool:
        if not allowed or not isinstance(payload, dict) or payload.get("type") != DB_EVENT:
            return False
        ops = payload.get("ops")
        return isinstance(ops, list) and bool(ops) and all(isinstance(op, dict) and op.get("c") in allowed
                                                         for op in ops)
    return check


class DocumentReducer:
    def __init__(self, connection: sqlite3.Connection, schema: Schema) -> None:
        self._sql = connection
        self.schema = schema

    def reduce(self, event: Event, changes: AppliedChanges) -> None:
        payload = event.payload
        if not isinstance(payload, dict) or payload.get("type") != DB_EVENT:
            return  # another reducer's event
        ops = payload.get("ops")
        if set(payload) != {"type", "ops"} or not isinstance(ops, list) or not 0 < len(ops) <= MAX_DOCUMENT_OPS:
            raise SchemaError(f"a db event holds 1 to {MAX_DOCUMENT_OPS} ops")
        touched: dict[Key, Model] = {}
        for index, op in enumerate(ops):
            # Ops of one event apply in order: each gets the event's stamp and
            # its position, so a later op of the event wins over an earlier one.
            key, model, fresh, now = self._apply(event, event.stamp + index.to_bytes(2, "big"), op)
            if not fresh:
                touched[key] = model
            document = (event.thread_id, key[1], key[2])
            if now is _CREATED:
                changes.document_created(document)
            elif now is _DELETED:
                changes.document_deleted(document)
            else:
                changes.documents.add(document)
        for key, model in touched.items():  # once per document, however many ops touched it
            self._refresh(key, model)

    def _apply(self, event: Event, op_stamp: bytes, op: Any) -> tuple[Key, Model, bool, object]:
        """Apply one op; True as third value when it wrote a new document
        whole; fourth, whether the document came into being (_CREATED), went
        (_DELETED) or neither (None)."""
        if not isinstance(op, dict) or op.get("op") not in _OP_FIELDS:
            raise SchemaError("an op is a map whose 'op' is create, update or delete")
        required, optional = _OP_FIELDS[op["op"]]
        if not required <= set(op) <= required | optional:
            raise SchemaError(f"a {op['op']} op has fields {sorted(required | optional)}")
        model = self.schema.model(op["c"])
        key = (event.thread_id.raw, model.collection, check_id(op["id"]))
        if event.rights is not None:  # a document may have an ACL of its own that narrows the thread's
            # Readers may write only their own document of such a model: its
            # ID is their log's (checked on create), and updates need its author.
            event.rights.require(Role.READ if model.readers_write_own else Role.WRITE,
                                 document_entity(model.collection, key[2]))
        values = op.get("set", {})
        unset = op.get("unset", [])
        if not isinstance(values, dict) or not isinstance(unset, list) \
                or not all(isinstance(name, str) for name in unset):
            raise SchemaError("'set' is a map and 'unset' a list of field names")
        if op["op"] == "create":
            model.check(values, creating=True)
            if (model.ids == "own" and not is_bound_id(key[2], event.log_id)) or (
                    model.ids == "log" and key[2] != str(event.log_id)):
                raise SchemaError(f"a new {model.collection}'s ID must be made by its author's log")
            if self._create_new(key, model, values, event, op_stamp):
                return key, model, True, _CREATED
            transition = _CREATED if self._create(key, event, op_stamp) else None
        else:
            if op["op"] == "update":
                self._require_editor(key, model, event)
                model.check(values, creating=False)
                model.check_unset(unset)
                if set(values) & set(unset):
                    raise SchemaError("a field is both set and unset")
                transition = None
            else:
                transition = _DELETED if self._delete(key, model, event) else None
        self._sql.executemany(
            "INSERT INTO fields (thread_id, collection, id, field, stamp, value) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (thread_id, collection, id, field) DO UPDATE SET stamp = excluded.stamp,"
            " value = excluded.value WHERE excluded.stamp > stamp",
            [(*key, name, op_stamp, None if value is None else cbor.encode(value))
             for name, value in [*values.items(), *((name, None) for name in unset)]])
        self._sql.execute(
            "UPDATE documents SET version = version + 1, updated = MAX(updated, ?) WHERE thread_id = ?"
            " AND collection = ? AND id = ?", (op_stamp, *key))
        return key, model, False, transition

    # --- creates and who may change a document ---------------------------------------

    def _create_new(self, key: Key, model: Model, values: Mapping[str, Any], event: Event, op_stamp: bytes) -> bool:
        """The common case, a document nobody created before: written whole,
        without reading anything back. False if it exists already."""
        present = {name: value for name, value in values.items() if value is not None}
        data = cbor.encode({name: value for name, value in present.items() if name not in model.apart})
        inserted = self._sql.execute(
            "INSERT OR IGNORE INTO documents (thread_id, collection, id, data, author, created, updated, version)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 1)", (*key, data, event.log_id.raw, op_stamp, op_stamp)).rowcount
        if not inserted:
            return False
        self._sql.execute("INSERT INTO document_authors VALUES (?, ?, ?, ?, ?, 0)",
                          (*key, event.log_id.raw, event.seq))
        # Exactly the rows the general path writes: a None value is an unset field.
        self._sql.executemany(
            "INSERT INTO fields (thread_id, collection, id, field, stamp, value) VALUES (?, ?, ?, ?, ?, ?)",
            [(*key, name, op_stamp, None if value is None else cbor.encode(value)) for name, value in values.items()])
        self._index(key, model, present)
        return True

    def _create(self, key: Key, event: Event, op_stamp: bytes) -> bool:
        """A create of a document that exists: only from a writer who had not
        seen it, i.e. concurrent with every create so far. True if it brings
        a deleted document back."""
        earlier = [(log_raw, seq) for log_raw, seq in self._authors(key) if (log_raw, seq) != (event.log_id.raw,
                                                                                          event.seq)]
        if any(_in_causal_past(event, log_raw, seq) for log_raw, seq in earlier):
            raise SchemaError(f"{key[2]!r} already exists in {key[1]}")
        self._sql.execute("INSERT OR IGNORE INTO document_authors VALUES (?, ?, ?, ?, ?, 0)",
                          (*key, event.log_id.raw, event.seq))
        # A create no delete had seen keeps the document (add wins).
        revived = self._sql.execute("UPDATE documents SET deleted = 0 WHERE thread_id = ? AND collection = ? AND id = ?"
                                    " AND deleted = 1", key).rowcount
        # The earliest create names the document's author, whatever arrives first.
        self._sql.execute(
            "UPDATE documents SET author = CASE WHEN ? < created THEN ? ELSE author END, created = MIN(created, ?)"
            " WHERE thread_id = ? AND collection = ? AND id = ?",
            (op_stamp, event.log_id.raw, op_stamp, *key))
        return bool(revived)

    def _delete(self, key: Key, model: Model, event: Event) -> bool:
        """Observed-remove: a delete removes creates it had seen (its author's
        own, or everyone's with the delete role); the document is gone once
        every create is removed. So a create nobody's delete had seen (two
        members adding one photo at once) keeps it, and a member who claims a
        concurrent create removes only that claim."""
        seen = [log_raw for log_raw, seq in self._authors(key) if _in_causal_past(event, log_raw, seq)]
        if not seen:
            raise SchemaError(f"no document {key[2]!r} in {key[1]} that this change could have seen")
        rights, entity = event.rights, document_entity(key[1], key[2])
        if rights is None:  # threads without access control: the author's log, or any member's document
            if model.editors == "author" and event.log_id.raw not in seen:
                raise SchemaError(f"only the author of {key[2]!r} may change it")
            removed = seen
        elif model.editors == "members" or not any(rights.same_member(log_raw) for log_raw in seen):
            # A shared document (a thread's name, a kv entry) has no owner one
            # could prove, and others' creates are theirs: moderation.
            rights.require(Role.DELETE, entity)
            removed = seen
        elif rights.may(Role.DELETE, entity):
            removed = seen
        else:
            removed = [log_raw for log_raw in seen if rights.same_member(log_raw)]
        self._sql.executemany(
            "UPDATE document_authors SET removed = 1 WHERE thread_id = ? AND collection = ? AND id = ? AND log_id = ?",
            [(*key, log_raw) for log_raw in removed])
        # True when this delete is the one that makes the document gone.
        return bool(self._sql.execute(
            "UPDATE documents SET deleted = 1 WHERE thread_id = ? AND collection = ? AND id = ? AND deleted = 0"
            " AND NOT EXISTS (SELECT 1 FROM document_authors a WHERE a.thread_id = ? AND a.collection = ?"
            " AND a.id = ? AND a.removed = 0)", (*key, *key)).rowcount)

    def _require_editor(self, key: Key, model: Model, event: Event) -> None:
        seen = [log_raw for log_raw, seq in self._authors(key) if _in_causal_past(event, log_raw, seq)]
        if not seen:
            raise SchemaError(f"no document {key[2]!r} in {key[1]} that this change could have seen")
        rights = event.rights
        own = any(rights.same_member(log_raw) for log_raw in seen) if rights is not None \
            else event.log_id.raw in seen
        if not own and model.editors == "author":
            raise SchemaError(f"only the author of {key[2]!r} may change it")

    def _authors(self, key: Key) -> list[tuple[bytes, int]]:
        return self._sql.execute(
            "SELECT log_id, seq FROM document_authors WHERE thread_id = ? AND collection = ? AND id = ?",
            key).fetchall()

    # --- derived rows ---------------------------------------------------------------

    def _refresh(self, key: Key, model: Model) -> None:
        """Recompute the document's data and index rows from its fields."""
        # No size check here: it would depend on which concurrent writes are
        # applied yet. Each value is bounded by its event (MAX_BODY_BYTES).
        # Fields kept apart stay in their rows (read back by `Collection`).
        data = {name: cbor.decode(value, max_size=MAX_DOCUMENT_BYTES) for name, value in self._sql.execute(
            "SELECT field, value FROM fields WHERE thread_id = ? AND collection = ? AND id = ?"
            " AND value IS NOT NULL", key) if name not in model.apart}
        encoded = cbor.encode(data)
        old_blob, deleted = self._sql.execute(
            "SELECT data, deleted FROM documents WHERE thread_id = ? AND collection = ? AND id = ?", key).fetchone()
        self._sql.execute("UPDATE documents SET data = ? WHERE thread_id = ? AND collection = ? AND id = ?",
                          (encoded, *key))
        old = cbor.decode(old_blob, max_size=MAX_DOCUMENT_BYTES)
        # The exact old index rows, so nothing scans the collection's index.
        self._sql.executemany(
            "DELETE FROM document_index WHERE thread_id = ? AND collection = ? AND field = ? AND missing = ?"
            " AND value = ? AND id = ?", [(*key[:2], *_index_key(model, name, old), key[2]) for name in model.indexes])
        if not deleted:
            self._index(key, model, data)

    def _index(self, key: Key, model: Model, data: Mapping[str, Any]) -> None:
        self._sql.executemany(
            "INSERT OR IGNORE INTO document_index (thread_id, collection, field, missing, value, id)"
            " VALUES (?, ?, ?, ?, ?, ?)", [(*key[:2], *_index_key(model, name, data), key[2])
                                            for name in model.indexes])

    # --- snapshots ------------------------------------------------------------

    def save(self, thread_id: ThreadId) -> int:
        """Save again the rows of the documents touched since the last
        snapshot (`snapshot_dirty`): what changed, not what exists. Returns
        what that adds to the digest (removed rows' hashes subtracted)."""
        raw, delta = thread_id.raw, 0
        for view, saved_table, columns in _SAVED:
            # CROSS JOIN: the dirty documents lead (SQLite would scan the whole thread
            # otherwise), each found by its primary key.
            join = "v.thread_id = d.thread_id AND v.collection = d.collection AND v.id = d.id"
            listed = ", ".join(f"v.{column}" for column in columns)
            for row in self._sql.execute(f"SELECT {listed} FROM snapshot_dirty d CROSS JOIN {saved_table} v ON {join}"
                                         " WHERE d.thread_id = ?", (raw,)):
                delta -= _row_hash(saved_table, row)
            self._sql.execute(f"DELETE FROM {saved_table} WHERE thread_id = ? AND (collection, id) IN"
                              " (SELECT collection, id FROM snapshot_dirty WHERE thread_id = ?)", (raw, raw))
            listed = listed.replace("v.value_hash", "v.value")
            insert = (f"INSERT INTO {saved_table} (thread_id, {', '.join(columns)})"
                      f" VALUES ({', '.join('?' * (len(columns) + 1))})")
            saved: list[tuple[Any, ...]] = []
            for row in self._sql.execute(f"SELECT {listed} FROM snapshot_dirty d CROSS JOIN {view} v ON {join}"
                                         " WHERE d.thread_id = ?", (raw,)):
                if view == "fields":  # the value's hash only: a photo's thumbnail is not copied
                    row = (*row[:4], None if row[4] is None else hashlib.sha256(row[4]).digest())
                delta += _row_hash(saved_table, row)
                saved.append((raw, *row))
                if len(saved) >= _BATCH:  # bounded pieces, however many documents changed
                    self._sql.executemany(insert, saved)
                    saved.clear()
            self._sql.executemany(insert, saved)
        return delta % DIGEST_MODULUS

    def restore(self, thread_id: ThreadId, payload_of: PayloadOf) -> None:
        """The views from the saved rows: each field's value is read from the
        op its stamp names (events in stamp order, each decoded once) and
        checked against its saved hash."""
        self.clear(thread_id)
        raw = thread_id.raw
        self._sql.execute("INSERT INTO documents (thread_id, collection, id, data, author, created, updated, version,"
                          " deleted) SELECT thread_id, collection, id, x'a0', author, created, updated, version,"
                          " deleted FROM snapshot_documents WHERE thread_id = ?", (raw,))
        self._sql.execute("INSERT INTO document_authors SELECT thread_id, collection, id, log_id, seq, removed"
                          " FROM snapshot_authors WHERE thread_id = ?", (raw,))
        current: tuple[bytes, Any] = (b"", None)  # the event read last and its payload
        fields = []
        for collection, doc_id, name, field_stamp, value_hash in self._sql.execute(
                "SELECT collection, id, field, stamp, value_hash FROM snapshot_fields WHERE thread_id = ?"
                " ORDER BY stamp", (raw,)):
            event_stamp, index = field_stamp[:STAMP_LENGTH], int.from_bytes(field_stamp[STAMP_LENGTH:], "big")
            if current[0] != event_stamp:
                current = (event_stamp, payload_of(event_stamp[8:8 + PEER_ID_LENGTH],
                                                   int.from_bytes(event_stamp[8 + PEER_ID_LENGTH:], "big")))
            value = _written_value(current[1], index, name)
            if (None if value is None else hashlib.sha256(value).digest()) != value_hash:
                raise StorageError(f"the snapshot of {collection} {doc_id!r} does not match the event that wrote it")
            fields.append((raw, collection, doc_id, name, field_stamp, value))
            if len(fields) >= _BATCH:
                self._sql.executemany("INSERT INTO fields VALUES (?, ?, ?, ?, ?, ?)", fields)
                fields.clear()
        self._sql.executemany("INSERT INTO fields VALUES (?, ?, ?, ?, ?, ?)", fields)
        for collection, doc_id in self._sql.execute(
                "SELECT collection, id FROM snapshot_documents WHERE thread_id = ?", (raw,)).fetchall():
            self._refresh((raw, collection, doc_id), self.schema.model(collection))

    def drop_saved(self, thread_id: ThreadId) -> None:
        for _view, saved_table, _columns in _SAVED:
            self._sql.execute(f"DELETE FROM {saved_table} WHERE thread_id = ?", (thread_id.raw,))

    def clear(self, thread_id: ThreadId) -> None:
        for table in ("documents", "fields", "document_index", "document_authors"):
            self._sql.execute(f"DELETE FROM {table} WHERE thread_id = ?", (thread_id.raw,))


# The saved tables: (view, saved table, saved columns). A field is saved with
# its value's hash in place of the value.
_SAVED = (
    ("documents", "snapshot_documents", ("collection", "id", "author", "created", "updated", "version", "deleted")),
    ("fields", "snapshot_fields", ("collection", "id", "field", "stamp", "value_hash")),
    ("document_authors", "snapshot_authors", ("collection", "id", "log_id", "seq", "removed")),
)
_BATCH = 512  # rows inserted at once: a batch of thumbnails stays a few MiB


def _row_hash(table: str, row: Sequence[Any]) -> int:
    """A saved row's share of the digest: a sum of row hashes is the same
    whatever order rows were saved in, and a changed row swaps its share."""
    return int.from_bytes(hashlib.sha256(cbor.encode([table, *row])).digest(), "big")


def _written_value(payload: Any, index: int, name: str) -> bytes | None:
    """The encoded value op `index` of a db event wrote to field `name`
    (None: it unset the field, or set it to nothing)."""
    try:
        op = payload["ops"][index]
        value = op.get("set", {}).get(name)
    except (TypeError, KeyError, IndexError, AttributeError) as exc:
        raise StorageError("a snapshot names an op its event does not hold") from exc
    return None if value is None else cbor.encode(value)


def _in_causal_past(event: Event, log_raw: bytes, seq: int) -> bool:
    """Had the writer of `event` seen the event (log, seq) when writing it?
    Its own earlier events count, and so do earlier ops of this very event."""
    if log_raw == event.log_id.raw:
        return seq <= event.seq
    return event.deps.get(log_raw, 0) >= seq


def _index_key(model: Model, name: str, data: Mapping[str, Any]) -> tuple[str, int, Any]:
    """(field, missing, value): a missing value is indexed as 0, apart (key
    columns cannot be NULL); SQLite orders numbers < text < blobs, and other
    values (and integers beyond 64 bits) index by their encoding. A blob
    reference indexes by its manifest CID."""
    if name not in data:
        return name, 1, 0
    value = data[name]
    if name in model.blobs and isinstance(value, dict) and isinstance(value.get("manifest"), Link):
        return name, 0, bytes(value["manifest"].cid_bytes)
    if isinstance(value, (float, str, bytes)) or (type(value) is int and value in _INT64):
        return name, 0, value
    return name, 0, cbor.encode(value)


def drop_apart(connection: sqlite3.Connection, model: Model) -> None:
    """Take the fields `model` keeps apart out of its documents' data (they
    were copied there before schema 9; their field rows keep them)."""
    columns = "rowid, thread_id, collection, id, data, author, created, updated, version, deleted"
    last = 0
    # 500 rows at a time, each batch read whole before its rows are rewritten
    # (no write under an open read of the same table). Deleted and inserted
    # again, not updated: a row that shrinks in place keeps its 16 KiB page
    # (dbstat: 100,000 pages holding one 300 B row each); rows written anew
    # are packed, and the pages they leave are free for new rows.
    while batch := connection.execute(f"SELECT {columns} FROM documents WHERE collection = ? AND rowid > ?"
                                      " ORDER BY rowid LIMIT 500", (model.collection, last)).fetchall():
        rewritten = []
        for row in batch:
            data = cbor.decode(row[4], max_size=MAX_DOCUMENT_BYTES)
            if any(name in data for name in model.apart):
                stripped = cbor.encode({k: v for k, v in data.items() if k not in model.apart})
                rewritten.append((*row[:4], stripped, *row[5:]))
        connection.executemany("DELETE FROM documents WHERE rowid = ?", [(row[0],) for row in rewritten])
        connection.executemany(f"INSERT INTO documents ({columns}) VALUES ({', '.join('?' * 10)})", rewritten)
        last = batch[-1][0]


def reindex(connection: sqlite3.Connection, model: Model) -> None:
    """Write the index rows of every live document of `model` afresh (a
    migration that changed which fields it indexes, or how)."""
    connection.execute("DELETE FROM document_index WHERE collection = ?", (model.collection,))
    # Row by row (a large album's documents hold their thumbnails: tens of KiB each).
    for thread_raw, doc_id, blob in connection.execute(
            "SELECT thread_id, id, data FROM documents WHERE collection = ? AND deleted = 0", (model.collection,)):
        data = cbor.decode(blob, max_size=MAX_DOCUMENT_BYTES)
        connection.executemany(
            "INSERT OR IGNORE INTO document_index (thread_id, collection, field, missing, value, id)"
            " VALUES (?, ?, ?, ?, ?, ?)", [(thread_raw, model.collection, *_index_key(model, name, data), doc_id)
                                           for name in model.indexes])
