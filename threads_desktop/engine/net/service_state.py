"""What NetworkService keeps per remote peer and per nearby peer, and the
shape of LAN discovery it is given: shared by service.py and its parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import trio

from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.logstore.blobs import BlockEntry
from threads_desktop.engine.net.client import ClientSession, LastKnown


class Discovery(Protocol):
    def start(self) -> None: ...
    def update_addresses(self, addresses: Sequence[str]) -> None: ...
    def stop(self) -> None: ...


@dataclass
class PeerLinkState:
    """What the service keeps per remote peer: its worker's queue and session."""

    peer: PeerId
    pending: set[ThreadId] = field(default_factory=set)
    everything: bool = False
    wake: trio.Event = field(default_factory=trio.Event)
    backoff: trio.CancelScope | None = None
    session: ClientSession | None = None
    known: LastKnown = field(default_factory=LastKnown)  # what its sessions learnt, kept across them
    failures: int = 0
    passes: int = 0  # passes finished, well or not (for waiting on one)
    last_error: str | None = None
    cursors: dict[ThreadId, int] = field(default_factory=dict)  # inventory read so far
    deferred: dict[ThreadId, list[BlockEntry]] = field(default_factory=dict)  # originals not wanted yet
    syncing: ThreadId | None = None  # the thread the pass is on now
    pass_scope: trio.CancelScope | None = None  # cancelled when we leave that thread


@dataclass(frozen=True)
class PeerStatus:
    peer: str
    connected: bool
    failures: int
    last_error: str | None


@dataclass
class Sighting:
    addresses: tuple[str, ...]
    last_seen: float
