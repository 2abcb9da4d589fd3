"""This profile's own settings, in its database: never synced, the same in
every process that opens the profile (the app, `serve`, a CLI command).

A small key-value table with DAG-CBOR values. It is additive (created if
missing on every open), so it needs no schema version of its own: a profile
made before it gets it when next opened."""

from __future__ import annotations

from typing import Any

from threads_desktop.engine.codec import cbor
from threads_desktop.engine.core.errors import InvalidInputError
from threads_desktop.engine.core.types import FetchOriginals
from threads_desktop.engine.logstore.database import Database

LOCAL_SETTINGS_SCHEMA = """
CREATE TABLE IF NOT EXISTS local_settings (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL                -- DAG-CBOR
) STRICT, WITHOUT ROWID;
"""
_MAX_VALUE_BYTES = 1 << 12
_FETCH_ORIGINALS_KEY = "fetch_originals"
_RELAYS_KEY = "relays"
_UPNP_KEY = "upnp"
MAX_RELAYS = 16  # relay peers the user names (a follower on a server, say)
MAX_RELAY_ADDRESS_CHARS = 200


def ensure_local_settings(database: Database) -> None:
    with database.write() as sql:
        sql.execute(LOCAL_SETTINGS_SCHEMA)


def read_setting(database: Database, key: str) -> Any:
    """The stored value, or None when there is none."""
    row = database.connection.execute("SELECT value FROM local_settings WHERE key = ?", (key,)).fetchone()
    return cbor.decode(row[0], max_size=_MAX_VALUE_BYTES) if row else None


def write_setting(database: Database, key: str, value: Any) -> None:
    with database.write() as sql:
        sql.execute("INSERT INTO local_settings (key, value) VALUES (?, ?)"
                    " ON CONFLICT DO UPDATE SET value = excluded.value", (key, cbor.encode(value)))


def fetch_originals(database: Database) -> FetchOriginals:
    """The profile's originals policy; ALWAYS until one is chosen (or for
    a value a newer version wrote)."""
    value = read_setting(database, _FETCH_ORIGINALS_KEY)
    try:
        return FetchOriginals(value) if isinstance(value, str) else FetchOriginals.ALWAYS
    except ValueError:
        return FetchOriginals.ALWAYS


def store_fetch_originals(database: Database, policy: FetchOriginals) -> None:
    """Keep the policy; InvalidInputError (nothing stored) for anything else."""
    try:
        value = FetchOriginals(policy).value
    except ValueError:
        raise InvalidInputError(f"no such choice for full-size photos: {policy!r}") from None
    write_setting(database, _FETCH_ORIGINALS_KEY, value)


def relay_addresses(database: Database) -> list[str]:
    """The relay peers the user named (multiaddrs ending in /p2p/ID), in
    the order added; [] until one is added (or for a value a newer version wrote)."""
    value = read_setting(database, _RELAYS_KEY)
    if not isinstance(value, list):
        return []
    return [a for a in value if isinstance(a, str)][:MAX_RELAYS]


def store_relay_addresses(database: Database, addresses: list[str]) -> None:
    """Keep the list as given (the caller checks each address is one);
    InvalidInputError (nothing stored) past the bounds."""
    if len(addresses) > MAX_RELAYS:
        raise InvalidInputError(f"at most {MAX_RELAYS} relays can be set")
    if any(not isinstance(a, str) or not a or len(a) > MAX_RELAY_ADDRESS_CHARS for a in addresses):
        raise InvalidInputError("a relay address is empty or too long")
    write_setting(database, _RELAYS_KEY, list(addresses))


def upnp_enabled(database: Database) -> bool:
    """Whether to ask the router for a port mapping (UPnP); on by default."""
    value = read_setting(database, _UPNP_KEY)
    return value if isinstance(value, bool) else True


def store_upnp_enabled(database: Database, enabled: bool) -> None:
    write_setting(database, _UPNP_KEY, bool(enabled))


def thread_hint(database: Database, thread_id: str) -> tuple[str | None, str | None]:
    """The kind and name a device bundle or backup said a thread has, shown
    until the thread's own data arrives ((None, None): no hint)."""
    value = read_setting(database, _THREAD_HINT_PREFIX + thread_id)
    if not isinstance(value, dict):
        return None, None
    kind, name = value.get("kind"), value.get("name")
    return kind if isinstance(kind, str) else None, name if isinstance(name, str) else None


def store_thread_hint(database: Database, thread_id: str, kind: str | None, name: str | None) -> None:
    """Keep a thread's kind and name as a bundle told them (checked by the caller)."""
    if kind is not None or name is not None:
        write_setting(database, _THREAD_HINT_PREFIX + thread_id, {"kind": kind, "name": name})


_THREAD_HINT_PREFIX = "thread_hint/"
