"""Where peers can be reached: multiaddrs learnt from heads, invites and
discovery, each kept until its TTL runs out."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import multiaddr

from threads_desktop.engine.core.errors import InvalidInputError
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.logstore.database import Database

MAX_ADDRESSES_PER_PEER = 32
MAX_ADDRESS_LENGTH = 512
MAX_TTL_SECONDS = 365 * 24 * 3600


def canonical_address(text: str) -> str:
    """The canonical text of a multiaddr; InvalidInputError for anything else."""
    if not isinstance(text, str) or not text or len(text) > MAX_ADDRESS_LENGTH:
        raise InvalidInputError("an address is a non-empty multiaddr of at most 512 characters")
    try:
        canonical = str(multiaddr.Multiaddr(text))
    except Exception as exc:  # the parser raises several types
        raise InvalidInputError(f"not a multiaddr: {text!r}") from exc
    if not canonical:
        raise InvalidInputError("an address names at least one protocol")
    return canonical


def peer_of_address(text: str) -> PeerId | None:
    """The peer an address names with a trailing /p2p/<id>, if any."""
    _, marker, peer = text.rpartition("/p2p/")
    if not marker:
        return None
    try:
        return PeerId.parse(peer)
    except InvalidInputError:
        return None


class AddressBook:
    def __init__(self, database: Database, now_seconds: Callable[[], float]) -> None:
        self._db = database
        self._now_seconds = now_seconds

    def add(self, peer_id: PeerId, addresses: Iterable[str], ttl_seconds: float) -> None:
        """Remember addresses for `ttl_seconds`; an address already known keeps
        the later of its two expiries. At most 32 per peer, the longest-lived
        kept. Any malformed address refuses the whole call."""
        if not 0 < ttl_seconds <= MAX_TTL_SECONDS:
            raise InvalidInputError("an address TTL is between 0 and a year")
        canonical = sorted({canonical_address(a) for a in addresses})
        expires_at = int(self._now_seconds() + ttl_seconds)
        with self._db.write() as sql:
            sql.executemany(
                "INSERT INTO addresses (peer_id, address, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (peer_id, address) DO UPDATE SET expires_at = MAX(expires_at, excluded.expires_at)",
                [(peer_id.raw, address, expires_at) for address in canonical])
            sql.execute(
                "DELETE FROM addresses WHERE peer_id = ? AND address NOT IN (SELECT address FROM addresses"
                " WHERE peer_id = ? ORDER BY expires_at DESC, address LIMIT ?)",
                (peer_id.raw, peer_id.raw, MAX_ADDRESSES_PER_PEER))

    def addresses(self, peer_id: PeerId) -> list[str]:
        """The addresses of a peer that have not expired."""
        return [address for (address,) in self._db.connection.execute(
            "SELECT address FROM addresses WHERE peer_id = ? AND expires_at > ? ORDER BY address",
            (peer_id.raw, int(self._now_seconds())))]

    def forget(self, peer_id: PeerId) -> None:
        with self._db.write() as sql:
            sql.execute("DELETE FROM addresses WHERE peer_id = ?", (peer_id.raw,))

    def prune(self) -> int:
        """Drop expired addresses; returns how many."""
        with self._db.write() as sql:
            return sql.execute("DELETE FROM addresses WHERE expires_at <= ?", (int(self._now_seconds()),)).rowcount
