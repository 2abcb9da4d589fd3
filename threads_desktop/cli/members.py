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
    from threads_desktop.engine.core.members import JoinRequest
    from threads_desktop.engine.node import Node

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _invite_arguments(invite: argparse.ArgumentParser) -> None:
    invite.add_argument("thread", metavar="THREAD")
    invite.add_argument("--role", choices=["follow", "read", "write"], default="write",
                        help="follow: keep a backup without reading; read; write (default)")
    invite.add_argument("--expires", metavar="DURATION", help="e.g. 30m, 12h, 7d (default: never)")
    invite.add_argument("--uses", type=int, default=1, help="how many people may join with it (default 1)")
    invite.add_argument("--qr", type=Path, metavar="FILE", help="also write the link as a QR code (.png or .svg)")
    invite.add_argument("--approve", action="store_true",
                        help="an admin approves each person who joins with it (see `members`, `approve`)")


def _invites_arguments(invites: argparse.ArgumentParser) -> None:
    actions = invites.add_subparsers(dest="invites_action", metavar="ACTION", required=True)
    actions.add_parser("reset", help="stop every invite link of THREAD that still lets someone in (prints how "
                                     "many)").add_argument("thread", metavar="THREAD")


def _request_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("thread", metavar="THREAD")
    command.add_argument("request", metavar="REQUEST",
                         help="the request's ID as `members` lists it (its start is enough), or the peer's ID")


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
    Command("members", "list an album's or chat's members, invites and people asking to join",
            _members_arguments, on_node=_on_node),
    Command("approve", "let in someone waiting for approval (a link made with invite --approve)",
            _request_arguments, on_node=_on_node),
    Command("decline", "refuse someone waiting for approval", _request_arguments, on_node=_on_node),
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
    if args.command == "leave" and node.join_state(thread_id) is not None:  # joined by link, not let in yet
        membership.forget_join(thread_id)
        print("stopped joining: the link is not used again", file=sys.stderr)
        return 0
    summary = node.get_thread(thread_id)  # NotFoundError for a thread this profile does not hold
    if args.command == "leave":
        node.leave_thread(thread_id)
        print(f"left {summary.name or 'the backup'} ({thread_id})", file=sys.stderr)
    elif args.command == "invites":  # the only action: reset
        count = membership.reset_links(thread_id)
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

        link = node.invite(thread_id, Role.parse(args.role), expires_in=expires, uses=args.uses, deliver=save_qr,
                           approve_by_hand=args.approve)
        print(link.to_uri())
    elif args.command in ("approve", "decline"):
        request = _waiting_request(node, thread_id, args.request)
        who = f"{request.name} ({request.peer})" if request.name else request.peer
        if args.command == "approve":
            node.approve_join(thread_id, request.request_id)
            print(f"approved {who}: they get in when their device asks again", file=sys.stderr)
        else:
            node.decline_join(thread_id, request.request_id)
            print(f"declined {who}", file=sys.stderr)
    elif args.command == "grant":
        membership.grant(thread_id, args.peer, Role.parse(args.role))
    elif args.command == "revoke":
        membership.revoke(thread_id, args.peer, Role.parse(args.role))
    elif args.command == "members":
        members = membership.members(thread_id)
        invites = membership.invites(thread_id)
        admin = any(m.is_me and m.admin for m in members)
        requests = membership.join_requests(thread_id) if admin else []
        if args.json:
            print(json.dumps({
                "acl": membership.acl_document(thread_id),
                "members": [m.to_json() for m in members],
                "invites": [{"key": i.key.hex(), "role": i.role.label, "expires_ms": i.expires_ms, "uses": i.uses,
                             "used": i.used, "revoked": i.revoked, "by": i.inviter, "approve": i.approve}
                            for i in invites],
                "requests": [{"id": r.request_id.hex(), "peer": r.peer, "name": r.name, "invite": r.invite_key.hex(),
                              "status": r.status, "reason": r.reason, "at_ms": r.at_ms} for r in requests],
            }, indent=2, ensure_ascii=False))
        else:
            for m in members:
                roles = ", ".join(r.label for r in m.roles) or "none"
                notes = [note for note, on in (("admin", m.admin), ("you", m.is_me), ("not joined", not m.joined))
                         if on]
                print(f"{m.peer_id}  {roles}" + (f"  ({', '.join(notes)})" if notes else ""))
            for i in invites:
                state = "revoked" if i.revoked else f"{i.used}/{i.uses} used"
                print(f"invite {i.key.hex()[:12]}  {i.role.label}  {state}" + ("  (approve each)" if i.approve else ""))
            _print_requests(requests)
    return 0


def _print_requests(requests: list[JoinRequest]) -> None:
    """People asking to join: those waiting for approval, then the refused
    attempts with the reason in words (names as the joiners gave them, on one
    line: a name cannot pass for another entry)."""
    from threads_desktop.cli.joining import request_refusal_words

    waiting = [r for r in requests if r.status == "waiting"]
    refused = [r for r in requests if r.status != "waiting"]
    if waiting:
        print("waiting for approval (approve THREAD REQUEST, or decline):")
    for r in waiting:
        print(f"  request {r.request_id.hex()[:12]}  {_who(r)}  since {_moment(r.at_ms)}  "
              f"invite {r.invite_key.hex()[:12]}")
    if refused:
        print("refused:")
    for r in refused:
        print(f"  {_who(r)}  {request_refusal_words(r.reason)}  {_moment(r.at_ms)}  invite {r.invite_key.hex()[:12]}")


def _who(request: JoinRequest) -> str:
    name = " ".join((request.name or "").split())
    return f"{name!r} {request.peer}" if name else request.peer


def _moment(millis: int) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(millis / 1000).strftime("%Y-%m-%d %H:%M")


def _waiting_request(node: Node, thread_id: ThreadId, given: str) -> JoinRequest:
    """The waiting request `given` names: by its ID (a unique start of it) or the peer's ID."""
    from threads_desktop.engine.core.errors import InvalidInputError, NotFoundError

    text = given.strip().lower()
    waiting = [r for r in node.membership.join_requests(thread_id) if r.status == "waiting"]
    matches = [r for r in waiting if r.peer.lower() == text] or (
        [r for r in waiting if r.request_id.hex().startswith(text)] if len(text) >= 4 else [])
    if not matches:
        raise NotFoundError("nobody with that request is waiting for approval here (see `members`)")
    if len(matches) > 1:
        raise InvalidInputError("more than one request starts like that: give more of its ID")
    return matches[0]
