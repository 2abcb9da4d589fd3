"""The CLI commands about who is in an album or chat: invite, invites reset,
join, leave, grant, revoke, members."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from threads_desktop.cli import joining
from threads_desktop.cli.registry import Command, StopRequested

if TYPE_CHECKING:  # the parser is built for every command; the engine loads only for these
    from threads_desktop.engine.core.ids import ThreadId
    from threads_desktop.engine.node import Node

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _invite_arguments(invite: argparse.ArgumentParser) -> None:
    invite.add_argument("thread", metavar="THREAD")
    invite.add_argument("--role", choices=["follow", "read", "write"], default="write",
                        help="follow: keep a backup without reading; read; write (default)")
    invite.add_argument("--expires", metavar="DURATION", help="e.g. 30m, 12h, 7d (default: never)")
    invite.add_argument("--uses", type=int, default=1, help="how many people may join with it (default 1)")
    invite.add_argument("--qr", type=Path, metavar="FILE", help="also write the link as a QR code (.png or .svg)")


def _invites_arguments(invites: argparse.ArgumentParser) -> None:
    actions = invites.add_subparsers(dest="invites_action", metavar="ACTION", required=True)
    actions.add_parser("reset", help="stop every invite link of THREAD that still lets someone in (prints how "
                                     "many)").add_argument("thread", metavar="THREAD")


def _leave_arguments(leave: argparse.ArgumentParser) -> None:
    leave.add_argument("thread", metavar="THREAD")


def _role_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("thread", metavar="THREAD")
    command.add_argument("peer", metavar="PEER")
    command.add_argument("role", choices=["follow", "read", "write", "delete"])


def _members_arguments(members: argparse.ArgumentParser) -> None:
    members.add_argument("thread", metavar="THREAD")
    members.add_argument("--json", action="store_true")


def _on_node(node: Node, args: argparse.Namespace, _stop: StopRequested | None) -> int:
    return run_members_command(node, args)


COMMANDS = (
    Command("invite", "make an invite link (prints it)", _invite_arguments, on_node=_on_node),
    Command("invites", "about an album's or chat's invite links: reset", _invites_arguments, on_node=_on_node),
    Command("join", "join an album or chat with an invite link and wait to be let in", joining.join_arguments,
            on_node=joining.join),
    Command("leave", "leave an album or chat (this device forgets it)", _leave_arguments, on_node=_on_node),
    Command("grant", "give a member a role (and the roles below it)", _role_arguments, on_node=_on_node),
    Command("revoke", "take a role (and the roles above it) from a member", _role_arguments, on_node=_on_node),
    Command("members", "list an album's or chat's members and invites", _members_arguments, on_node=_on_node),
)


def parse_duration(text: str) -> float:
    from threads_desktop.engine.core.errors import InvalidInputError

    match = re.fullmatch(r"(\d{1,6})([smhdw])", text.strip())
    if match is None:
        raise InvalidInputError(f"a duration is a number and a unit (s, m, h, d, w), like 7d; not {text!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


def parse_expiry(text: str) -> float:
    """--expires: a duration from a minute up to the longest an invite may last."""
    from threads_desktop.engine.acl.membership import MAX_INVITE_LIFETIME_SECONDS, MAX_INVITE_LIFETIME_YEARS
    from threads_desktop.engine.core.errors import InvalidInputError

    seconds = parse_duration(text)
    if seconds < 60:
        raise InvalidInputError("--expires is at least 1m (a minute)")
    if seconds > MAX_INVITE_LIFETIME_SECONDS:
        weeks = MAX_INVITE_LIFETIME_SECONDS // _UNITS["w"]
        raise InvalidInputError(f"an invite lasts at most {MAX_INVITE_LIFETIME_YEARS} years ({weeks}w); "
                                "leave out --expires for one that never expires")
    return seconds


def run_members_command(node: Node, args: argparse.Namespace) -> int:
    from threads_desktop.engine.acl.links import InviteLink, check_qr_path, write_qr
    from threads_desktop.engine.core.errors import InvalidInputError
    from threads_desktop.engine.core.ids import ThreadId
    from threads_desktop.engine.core.members import Role

    membership = node.membership
    thread_id = ThreadId.parse(args.thread)
    summary = node.get_thread(thread_id)  # NotFoundError for a thread this profile does not hold
    if args.command == "leave":
        node.leave_thread(thread_id)
        print(f"left {summary.name or 'the backup'} ({thread_id})", file=sys.stderr)
    elif args.command == "invites":  # the only action: reset
        count = reset_links(node, thread_id)
        print(count)
        print("no open invite links to stop" if count == 0 else
              f"stopped {count} invite link{'s' if count != 1 else ''}: nobody can join with "
              f"{'them' if count != 1 else 'it'} any more", file=sys.stderr)
    elif args.command == "invite":
        if not 1 <= args.uses <= 1000:
            raise InvalidInputError("--uses is 1 to 1000")
        expires = parse_expiry(args.expires) if args.expires else None
        qr: Path | None = args.qr
        if qr is not None:
            check_qr_path(qr)  # a refused command changes nothing: checked before the invite exists

        def save_qr(link: InviteLink) -> None:  # inside the invite's transaction: no QR, no invite
            if qr is not None:
                write_qr(link.to_uri(), qr)

        link = node.invite(thread_id, Role.parse(args.role), expires_in=expires, uses=args.uses, deliver=save_qr)
        print(link.to_uri())
    elif args.command == "grant":
        membership.grant(thread_id, args.peer, Role.parse(args.role))
    elif args.command == "revoke":
        membership.revoke(thread_id, args.peer, Role.parse(args.role))
    elif args.command == "members":
        members = membership.members(thread_id)
        invites = membership.invites(thread_id)
        if args.json:
            print(json.dumps({
                "acl": membership.acl_document(thread_id),
                "members": [m.to_json() for m in members],
                "invites": [{"key": i.key.hex(), "role": i.role.label, "expires_ms": i.expires_ms, "uses": i.uses,
                             "used": i.used, "revoked": i.revoked, "by": i.inviter} for i in invites],
            }, indent=2))
        else:
            for m in members:
                roles = ", ".join(r.label for r in m.roles) or "none"
                notes = [note for note, on in (("admin", m.admin), ("you", m.is_me), ("not joined", not m.joined))
                         if on]
                print(f"{m.peer_id}  {roles}" + (f"  ({', '.join(notes)})" if notes else ""))
            for i in invites:
                state = "revoked" if i.revoked else f"{i.used}/{i.uses} used"
                print(f"invite {i.key.hex()[:12]}  {i.role.label}  {state}")
    return 0


def reset_links(node: Node, thread_id: ThreadId) -> int:
    """Revoke every invite of the thread that still lets someone in (not
    revoked, uses left, not expired); how many."""
    import time

    now_ms = int(time.time() * 1000)
    keys = [i.key for i in node.membership.invites(thread_id)
            if not i.revoked and i.used < i.uses and (i.expires_ms == 0 or i.expires_ms > now_ms)]
    for key in keys:
        node.membership.revoke_invite(thread_id, key)
    return len(keys)
