"""What one message may hold, and how records are paged: the wire limits,
a page of records within a reply's byte budget, and a log's position.

Both sides of a session use these (the server answers `records` with a
page, the client pushes one), so they live here rather than in either.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from threads_desktop.engine.codec.nodes import MAX_SEQ as MAX_SEQ  # a record's seq, as the codec bounds it
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.logstore.store import LogHead, StoredRecord

MAX_MESSAGE_BYTES = 8 << 20  # a page of records or blocks fits with room to spare
PAGE_BYTES = 4 << 20  # records or blocks per reply, at least one
MAX_PROOFS = 1024  # threads named in one hello
MAX_CERT_BYTES = 400  # a device certificate in a hello (acl/devices.MAX_ITEM_BYTES)
MAX_REMOVALS = 64  # device removals in a hello, each at most MAX_CERT_BYTES (acl/devices.MAX_DEVICES)
MAX_LOGS = 4096  # logs listed in one heads reply
MAX_PAGE_RECORDS = 512
MAX_CIDS = 4096
MAX_PEERS = 64


def record_page(records: Iterable[StoredRecord], budget: int = PAGE_BYTES) -> list[StoredRecord]:
    """The leading records whose blocks fit `budget` bytes (at least one)."""
    page: list[StoredRecord] = []
    used = 0
    for stored in records:
        size = sum(map(len, stored.envelope.blocks()))
        if page and used + size > budget:
            break
        page.append(stored)
        used += size
    return page


def log_position(heads: Sequence[LogHead], log_id: PeerId) -> int:
    """How far we hold a log: the seq of its head (0 for a log not here)."""
    return next((h.seq for h in heads if h.log_id == log_id), 0)
