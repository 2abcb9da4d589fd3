"""Backups of this computer's person (issue 19): export one under a
passphrase, check that a passphrase opens one, restore one into a fresh
profile. The key derivation (Argon2id, 64 MiB) runs off the engine's trio
thread. Plain values only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from threads_desktop.engine.node import Node


@dataclass(frozen=True, slots=True)
class BackupSummary:
    """What a backup holds, without its keys."""

    name: str | None  # the person's name
    albums: int
    chats: int


async def export_backup(node: Node, path: Path, passphrase: str) -> None:
    await node.persons.export_backup(path, passphrase)  # type: ignore[attr-defined]


async def check_backup(node: Node, path: Path, passphrase: str) -> BackupSummary:
    summary = await node.persons.check_backup(path, passphrase)  # type: ignore[attr-defined]
    return BackupSummary(summary.name, summary.albums, summary.chats)


async def restore_backup(node: Node, path: Path, passphrase: str) -> BackupSummary:
    summary = await node.persons.restore_backup(path, passphrase)  # type: ignore[attr-defined]
    return BackupSummary(summary.name, summary.albums, summary.chats)
