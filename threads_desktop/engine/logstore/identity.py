"""The profile's identity, stored wrapped by the vault."""

from __future__ import annotations

from threads_desktop.engine.core.keys import Identity
from threads_desktop.engine.crypto.vault import KeyVault
from threads_desktop.engine.logstore.database import Database

_SIGNING_LABEL = "identity/signing"
_EXCHANGE_LABEL = "identity/exchange"


def load_or_create_identity(database: Database, vault: KeyVault, now_seconds: int) -> Identity:
    row = database.connection.execute(
        "SELECT wrapped_signing_seed, wrapped_exchange_seed FROM identity WHERE id = 1").fetchone()
    if row is not None:
        return Identity.from_seeds(vault.unwrap(row[0], _SIGNING_LABEL), vault.unwrap(row[1], _EXCHANGE_LABEL))
    identity = Identity.generate()
    with database.write() as sql:
        sql.execute(
            "INSERT INTO identity (id, wrapped_signing_seed, wrapped_exchange_seed, created_at)"
            " VALUES (1, ?, ?, ?)",
            (vault.wrap(identity.signing.seed(), _SIGNING_LABEL),
             vault.wrap(identity.exchange_seed(), _EXCHANGE_LABEL), now_seconds))
    return identity
