"""A key-value store on a collection (the paper's TextileKVStore): Put, Get, Del."""

from __future__ import annotations

from typing import Any

from threads_desktop.engine.core.errors import NotFoundError
from threads_desktop.engine.db.collections import Collection
from threads_desktop.engine.db.models import FieldSpec, Model

KV_MODEL = Model("kv", {"value": FieldSpec("any", required=True)}, editors="members")


class KeyValueStore:
    def __init__(self, collection: Collection) -> None:
        self._collection = collection

    def put(self, key: str, value: Any) -> None:
        existing = self._collection.find_one_by_id(key)
        if existing is None:
            self._collection.create({"value": value}, doc_id=key)
        elif existing.data.get("value") != value:
            self._collection.update(key, {"value": value})

    def get(self, key: str) -> Any:
        document = self._collection.find_one_by_id(key)
        if document is None:
            raise NotFoundError(f"no key {key!r}")
        return document.data["value"]

    def delete(self, key: str) -> None:
        if self._collection.find_one_by_id(key) is None:
            raise NotFoundError(f"no key {key!r}")
        self._collection.delete(key)
