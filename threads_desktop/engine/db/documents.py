"""The reducer behind every collection: a document is a map of
last-writer-wins fields (the writer with the later stamp wins), created by its
earliest create, deleted for good by any delete of an author.

Each rule is commutative and idempotent per event, so peers that apply the
same events in any order hold byte-identical views.

Event payload: `{"type": "db", "ops": [op, ...]}` with op one of
  {"op": "create", "c": collection, "id": ID, "set": {field: value}}
  {"op": "update", "c": collection, "id": ID, "set": {...}, "unset": [field]}
  {"op": "delete", "c": collection, "id": ID}
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from threads_desktop.engine.codec import cbor
from threads_desktop.engine.core.errors import SchemaError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.db.models import Model, Schema, check_id
from threads_desktop.engine.eventstore.store import Changes, Event

DB_EVENT = "db"
MAX_OPS = 256
_OP_FIELDS = {"create": ({"op", "c", "id", "set"}, set()), "update": ({"op", "c", "id"}, {"set", "unset"}),
              "delete": ({"op", "c", "id"}, set())}


def db_event(*ops: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": DB_EVENT, "ops": [dict(op) for op in ops]}


class DocumentReducer:
    def __init__(self, connection: sqlite3.Connection, schema: Schema) -> None:
        self._sql = connection
        self.schema = schema

    def reduce(self, event: Event, changes: Changes) -> None:
        payload = event.payload
        if not isinstance(payload, dict) or payload.get("type") != DB_EVENT:
            return  # another reducer's event
        ops = payload.get("ops")
        if set(payload) != {"type", "ops"} or not isinstance(ops, list) or not 0 < len(ops) <= MAX_OPS:
            raise SchemaError(f"a db event holds 1 to {MAX_OPS} ops")
        for index, op in enumerate(ops):
            # Ops of one event apply in order: each gets the event's stamp and
            # its position, so a later op of the event wins over an earlier one.
            self._apply(event, event.stamp + index.to_bytes(2, "big"), op, changes)

    def _apply(self, event: Event, op_stamp: bytes, op: Any, changes: Changes) -> None:
        if not isinstance(op, dict) or op.get("op") not in _OP_FIELDS:
            raise SchemaError("an op is a map whose 'op' is create, update or delete")
        required, optional = _OP_FIELDS[op["op"]]
        if not required <= set(op) <= required | optional:
            raise SchemaError(f"a {op['op']} op has fields {sorted(required | optional)}")
        model = self.schema.model(op["c"])
        doc_id = check_id(op["id"])
        values = op.get("set", {})
        unset = op.get("unset", [])
        if not isinstance(values, dict) or not isinstance(unset, list):
            raise SchemaError("'set' is a map and 'unset' a list")
        key = (event.thread_id.raw, model.collection, doc_id)
        if op["op"] == "create":
            model.check(values, creating=True)
            if self._create_new(key, model, values, event, op_stamp):
                changes.documents.add((event.thread_id, model.collection, doc_id))
                return
            self._create(key, event, op_stamp)
        else:
            self._require_editor(key, model, event)
            if op["op"] == "update":
                model.check(values, creating=False)
                model.check_unset(unset)
                if set(values) & set(unset):
                    raise SchemaError("a field is both set and unset")
            else:
                self._sql.execute("UPDATE documents SET deleted = 1 WHERE thread_id = ? AND collection = ?"
                                  " AND id = ?", key)
        for name, value in [*values.items(), *((name, None) for name in unset)]:
            self._write_field(key, name, value, op_stamp)
        self._sql.execute(
            "UPDATE documents SET version = version + 1, updated = MAX(updated, ?) WHERE thread_id = ?"
            " AND collection = ? AND id = ?", (op_stamp, *key))
        self._refresh(key, model)
        changes.documents.add((event.thread_id, model.collection, doc_id))

    def _create_new(self, key: tuple[bytes, str, str], model: Model, values: Mapping[str, Any], event: Event,
                    op_stamp: bytes) -> bool:
        """The common case, a document nobody created before: written whole,
        without reading anything back. False if it exists already."""
        present = {name: value for name, value in values.items() if value is not None}
        inserted = self._sql.execute(
            "INSERT OR IGNORE INTO documents (thread_id, collection, id, data, author, created, updated, version)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
            (*key, cbor.encode(present), event.log_id.raw, op_stamp, op_stamp)).rowcount
        if not inserted:
            return False
        self._sql.execute("INSERT INTO document_authors VALUES (?, ?, ?, ?)", (*key, event.log_id.raw))
        # Exactly the rows the general path writes: a None value is an unset field.
        self._sql.executemany(
            "INSERT INTO fields (thread_id, collection, id, field, stamp, value) VALUES (?, ?, ?, ?, ?, ?)",
            [(*key, name, op_stamp, None if value is None else cbor.encode(value)) for name, value in values.items()])
        self._index(key, model, present)
        return True

    def _create(self, key: tuple[bytes, str, str], event: Event, op_stamp: bytes) -> None:
        self._sql.execute("INSERT OR IGNORE INTO document_authors VALUES (?, ?, ?, ?)", (*key, event.log_id.raw))
        # The earliest create names the document's author, whatever arrives first.
        self._sql.execute(
            "INSERT INTO documents (thread_id, collection, id, data, author, created, updated, version)"
            " VALUES (?, ?, ?, x'a0', ?, ?, ?, 0) ON CONFLICT (thread_id, collection, id) DO UPDATE SET"
            " author = CASE WHEN excluded.created < created THEN excluded.author ELSE author END,"
            " created = MIN(created, excluded.created)",
            (*key, event.log_id.raw, op_stamp, op_stamp))

    def _require_editor(self, key: tuple[bytes, str, str], model: Model, event: Event) -> None:
        if not self._sql.execute("SELECT 1 FROM documents WHERE thread_id = ? AND collection = ? AND id = ?",
                                 key).fetchone():
            raise SchemaError(f"no document {key[2]!r} in {key[1]} to change")
        if model.editors == "author" and not self._sql.execute(
                "SELECT 1 FROM document_authors WHERE thread_id = ? AND collection = ? AND id = ? AND log_id = ?",
                (*key, event.log_id.raw)).fetchone():
            raise SchemaError(f"only the author of {key[2]!r} may change it")

    def _write_field(self, key: tuple[bytes, str, str], name: str, value: Any, stamp: bytes) -> None:
        self._sql.execute(
            "INSERT INTO fields (thread_id, collection, id, field, stamp, value) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (thread_id, collection, id, field) DO UPDATE SET stamp = excluded.stamp,"
            " value = excluded.value WHERE excluded.stamp > stamp",
            (*key, name, stamp, None if value is None else cbor.encode(value)))

    def _refresh(self, key: tuple[bytes, str, str], model: Model) -> None:
        """Recompute the document's data and index rows from its fields."""
        data = {name: cbor.decode(value, max_size=1 << 22) for name, value in self._sql.execute(
            "SELECT field, value FROM fields WHERE thread_id = ? AND collection = ? AND id = ?"
            " AND value IS NOT NULL", key)}
        (deleted,) = self._sql.execute(
            "SELECT deleted FROM documents WHERE thread_id = ? AND collection = ? AND id = ?", key).fetchone()
        self._sql.execute("UPDATE documents SET data = ? WHERE thread_id = ? AND collection = ? AND id = ?",
                          (cbor.encode(data), *key))
        self._sql.execute("DELETE FROM document_index WHERE thread_id = ? AND collection = ? AND id = ?", key)
        if not deleted:
            self._index(key, model, data)

    def _index(self, key: tuple[bytes, str, str], model: Model, data: Mapping[str, Any]) -> None:
        self._sql.executemany(
            "INSERT INTO document_index (thread_id, collection, field, missing, value, id) VALUES (?, ?, ?, ?, ?, ?)",
            # Key columns cannot be NULL: a missing value is indexed as 0, apart.
            [(key[0], key[1], name, int(name not in data), _index_value(data[name]) if name in data else 0, key[2])
             for name in model.indexes])

    # --- snapshots ------------------------------------------------------------

    def export_state(self, thread_id: ThreadId) -> Any:
        """The thread's views as plain values, in a canonical order."""
        return {
            "documents": [list(row) for row in self._sql.execute(
                "SELECT collection, id, data, author, created, updated, version, deleted FROM documents"
                " WHERE thread_id = ? ORDER BY collection, id", (thread_id.raw,))],
            "fields": [list(row) for row in self._sql.execute(
                "SELECT collection, id, field, stamp, value FROM fields WHERE thread_id = ?"
                " ORDER BY collection, id, field", (thread_id.raw,))],
            "authors": [list(row) for row in self._sql.execute(
                "SELECT collection, id, log_id FROM document_authors WHERE thread_id = ?"
                " ORDER BY collection, id, log_id", (thread_id.raw,))],
        }

    def import_state(self, thread_id: ThreadId, state: Any) -> None:
        self.clear(thread_id)
        raw = thread_id.raw
        self._sql.executemany("INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                              [(raw, *row) for row in state["documents"]])
        self._sql.executemany("INSERT INTO fields VALUES (?, ?, ?, ?, ?, ?)", [(raw, *row) for row in state["fields"]])
        self._sql.executemany("INSERT INTO document_authors VALUES (?, ?, ?, ?)",
                              [(raw, *row) for row in state["authors"]])
        for collection, doc_id, *_ in state["documents"]:
            self._refresh((raw, collection, doc_id), self.schema.model(collection))  # rebuilds the index rows

    def clear(self, thread_id: ThreadId) -> None:
        for table in ("documents", "fields", "document_index", "document_authors"):
            self._sql.execute(f"DELETE FROM {table} WHERE thread_id = ?", (thread_id.raw,))


def _index_value(value: Any) -> Any:
    # SQLite orders numbers < text < blobs; other values index by their encoding.
    if isinstance(value, (int, float, str, bytes)):
        return value
    return cbor.encode(value)
