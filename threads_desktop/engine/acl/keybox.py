"""Key boxes: a thread's keys sealed to one member's X25519 key. The thread
ID is inside the box, so a box made for one thread opens in no other."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from threads_desktop.engine.codec import cbor
from threads_desktop.engine.core.errors import SchemaError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.keys import Identity, ThreadKey
from threads_desktop.engine.crypto.sealedbox import open_sealed_box, seal_to

MAX_BOX_EPOCHS = 48  # keeps a box under the 4 KiB a keys op allows


def seal_key_box(recipient_exchange: bytes, thread_id: ThreadId, keys: Sequence[ThreadKey]) -> bytes:
    """`keys` newest first; a box holds at most MAX_BOX_EPOCHS of them."""
    value = {"thread": thread_id.raw,
             "keys": [[key.epoch, key.follow, key.read] for key in keys[:MAX_BOX_EPOCHS]]}
    return seal_to(recipient_exchange, cbor.encode(value))


def open_key_box(identity: Identity, thread_id: ThreadId, box: bytes) -> list[ThreadKey]:
    value: Any = cbor.decode(open_sealed_box(identity.exchange, box), max_size=8192)
    if not isinstance(value, dict) or set(value) != {"thread", "keys"} or value["thread"] != thread_id.raw \
            or not isinstance(value["keys"], list) or not 0 < len(value["keys"]) <= MAX_BOX_EPOCHS:
        raise SchemaError("a key box holds this thread's keys")
    keys = []
    for item in value["keys"]:
        if not isinstance(item, list) or len(item) != 3 or type(item[0]) is not int or not 0 <= item[0] < 1 << 63 \
                or not isinstance(item[1], bytes) or not (item[2] is None or isinstance(item[2], bytes)):
            raise SchemaError("malformed key in a key box")
        keys.append(ThreadKey(item[1], item[2], item[0]))  # InvalidInputError for wrong lengths
    return keys
