"""`backup export FILE` and `backup restore FILE` (issue 19): the person key,
every album's and chat's keys, names, peers' addresses and settings, under
a passphrase (engine/persons/backup.py). Not the photos and messages: those
come back from the person's other devices, friends and followers."""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from threads_desktop.cli.registry import Command, StopRequested

if TYPE_CHECKING:
    from threads_desktop.engine.node import Node

MIN_PASSPHRASE = 8  # asked for on export; any passphrase opens a backup
WHAT_IT_RESTORES = (
    "A backup brings back: you, your albums and chats and their keys, names, where your peers were, your "
    "settings; their photos and messages come back from your other devices and friends. It does not bring "
    "back: photos or messages only this computer held, albums and chats joined after the backup was made, "
    "those you were removed from.")


def _arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="backup_action", metavar="ACTION", required=True)
    export = actions.add_parser("export", help="save an encrypted backup of you and your albums' keys to FILE",
                                description=WHAT_IT_RESTORES)
    restore = actions.add_parser("restore", help="make an empty profile a new device of the backup's person",
                                 description=WHAT_IT_RESTORES)
    check = actions.add_parser("check", help="check that a passphrase opens a backup (nothing is changed)")
    for action in (export, restore, check):
        action.add_argument("file", type=Path, metavar="FILE")
        action.add_argument("--passphrase-file", type=Path, metavar="FILE",
                            help="read the passphrase from the first line of FILE (default: ask for it)")
    restore.add_argument("--name", metavar="NAME",
                         help="this computer's name among your devices (default: its host name)")


def _passphrase(args: argparse.Namespace, *, twice: bool, served: bool) -> str:
    from threads_desktop.engine.core.errors import InvalidInputError

    if args.passphrase_file is not None:
        try:
            text = args.passphrase_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"cannot read the passphrase file {args.passphrase_file}: {exc}") from None
        passphrase = text.splitlines()[0] if text.splitlines() else ""
    else:
        if served or not sys.stdin.isatty():
            raise InvalidInputError("give the passphrase with --passphrase-file FILE (there is nobody here to "
                                    "type it)")
        passphrase = getpass.getpass("Passphrase: ")
        if twice and getpass.getpass("The same passphrase again: ") != passphrase:
            raise InvalidInputError("the two passphrases differ: nothing was saved")
    if not passphrase:
        raise InvalidInputError("the passphrase is empty")
    if twice and len(passphrase) < MIN_PASSPHRASE:
        raise InvalidInputError(f"a backup's passphrase has at least {MIN_PASSPHRASE} characters")
    return passphrase


async def _export(node: Node, args: argparse.Namespace, _stop: StopRequested | None) -> int:
    from threads_desktop.engine.persons.flows import export_backup

    passphrase = _passphrase(args, twice=True, served=node.network is not None)
    size = await export_backup(node, args.file, passphrase, node.listen_addresses)
    count = len(node.list_threads())
    print(f"saved a backup of you and {count} albums and chats to {args.file} ({max(1, size // 1024)} KB)",
          file=sys.stderr)
    print(WHAT_IT_RESTORES, file=sys.stderr)
    return 0


async def _restore(node: Node, args: argparse.Namespace, _stop: StopRequested | None) -> int:
    """Into a new profile only (an empty --data-dir; opening it made it): it
    becomes a new device of the backup's person. A wrong passphrase or a
    damaged file: nothing changes, and the same profile can try again."""
    import socket

    from threads_desktop.engine.core.errors import ConflictError
    from threads_desktop.engine.persons.flows import restore_backup

    if node.list_threads() or node.pending_joins() or node.persons.person_id != str(node.identity.peer_id):
        raise ConflictError("this profile has albums, chats or devices already: restore a backup into a new, "
                            "empty data folder (--data-dir)")
    passphrase = _passphrase(args, twice=False, served=node.network is not None)
    name = args.name or socket.gethostname()[:64] or "Restored computer"
    bundle = await restore_backup(node, args.file, passphrase, name, int(time.time() * 1000))
    if node.network is not None:
        node.network.peers_changed()
    print(f"restored {bundle.name or 'you'} with {len(bundle.threads)} albums and chats; their photos and "
          "messages come back from your other devices and friends while this profile is online (the app, or "
          "serve)", file=sys.stderr)
    return 0


async def _check(node: Node, args: argparse.Namespace, _stop: StopRequested | None) -> int:
    from threads_desktop.engine.persons.flows import read_backup

    bundle = await read_backup(args.file, _passphrase(args, twice=False, served=node.network is not None))
    print(f"the passphrase opens this backup of {bundle.name or 'a person with no name'}: "
          f"{len(bundle.threads)} albums and chats", file=sys.stderr)
    return 0


_ACTIONS = {"export": _export, "restore": _restore, "check": _check}

COMMANDS = (
    Command("backup", "export an encrypted backup, check its passphrase, or restore it into a new, empty data "
                      "folder", _arguments,
            on_node=lambda node, args, stop: _ACTIONS[args.backup_action](node, args, stop)),
)
