"""Backups of this computer's person (issue 19): export one under a
passphrase, check that a passphrase opens one, restore one into a fresh
profile. The key derivation (Argon2id, 64 MiB) runs off the engine's trio
thread. Plain values only."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from pathlib import Path

from threads_desktop.engine.acl.devices import MAX_DEVICE_NAME
from threads_desktop.engine.core import text
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node
from threads_desktop.engine.persons import flows
from threads_desktop.engine.persons.bundle import PersonBundle


@dataclass(frozen=True, slots=True)
class BackupSummary:
    """What a backup holds, without its keys."""

    name: str | None  # the person's name
    albums: int
    chats: int


def this_computer_name() -> str:
    """The name a restored or added device takes: the computer's (as the
    network and the desktop call it), else a plain word."""
    name = " ".join(socket.gethostname().split())[:MAX_DEVICE_NAME]
    return name if name and not text.has_hidden(name) else "Computer"


async def export_backup(node: Node, path: Path, passphrase: str) -> None:
    await flows.export_backup(node, path, passphrase)


def _summary(bundle: PersonBundle) -> BackupSummary:
    return BackupSummary(bundle.name, sum(t.kind is ThreadKind.ALBUM for t in bundle.threads),
                         sum(t.kind is ThreadKind.CHAT for t in bundle.threads))


async def check_backup(node: Node, path: Path, passphrase: str) -> BackupSummary:
    """What the backup holds, if the passphrase opens it; nothing is written."""
    del node  # the file alone answers
    return _summary(await flows.read_backup(path, passphrase))


async def restore_backup(node: Node, path: Path, passphrase: str) -> BackupSummary:
    """Make this fresh profile a new device of the backup's person, with
    every album and chat of the backup (nothing written on any error)."""
    bundle = await flows.restore_backup(node, path, passphrase, this_computer_name(), int(time.time() * 1000))
    if node.network is not None:
        node.network.peers_changed()  # dial the person's peers now: the content comes from them
    return _summary(bundle)
