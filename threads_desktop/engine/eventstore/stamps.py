"""An event's place in the total order across logs: (hlc, log ID, seq).

Packed as bytes whose byte order is that order, so SQLite compares stamps
with a plain BLOB comparison and reducers resolve conflicts the same way on
every peer."""

from __future__ import annotations

from threads_desktop.engine.core.ids import PEER_ID_LENGTH, PeerId

STAMP_LENGTH = 8 + PEER_ID_LENGTH + 8


def stamp(hlc: int, log_id: PeerId, seq: int) -> bytes:
    return hlc.to_bytes(8, "big") + log_id.raw + seq.to_bytes(8, "big")


def stamp_hlc(value: bytes) -> int:
    return int.from_bytes(value[:8], "big")
