"""`device add|list|remove`: this person's devices (issue 19). `device add`
prints a one-time link (and `--qr FILE` writes it as a QR code) that the
new installation opens with `join LINK`; this profile must be online for
that (the app, `serve`, or `device add` itself, which stays online until
the link is used or `--wait` runs out)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from threads_desktop.cli.registry import Command, StopRequested

if TYPE_CHECKING:
    from threads_desktop.engine.core.ids import PeerId, ThreadId
    from threads_desktop.engine.core.types import PersonDevice
    from threads_desktop.engine.net.ports import Network
    from threads_desktop.engine.node import Node
    from threads_desktop.engine.persons.device_links import DeviceLink

ADDED = 0
NOT_USED = 75  # EX_TEMPFAIL: nothing went wrong, nobody used the link in time
DEFAULT_WAIT = 15 * 60.0  # a link lasts 15 minutes
ANSWER_GRACE_SECONDS = 10.0  # at most, for the new device to take our answer and finish comparing with us
POLL_SECONDS = 0.25

ADD_EPILOG = f"""\
exit codes:
  {ADDED}   a new device was added with the link (or --wait 0: the link was made)
  1   this profile cannot make a link now
  {NOT_USED}  nobody used the link before --wait ran out"""


def _arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="device_action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="make a link that adds another computer to your devices (prints it)",
                             epilog=ADD_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add.add_argument("--qr", type=Path, metavar="FILE", help="also write the link as a QR code (.png or .svg)")
    add.add_argument("--wait", type=float, default=DEFAULT_WAIT, metavar="SECONDS",
                     help="how long to wait for the new device (default 900: the link's life; 0: do not wait)")
    listing = actions.add_parser("list", help="your devices: this one, the others, those removed")
    listing.add_argument("--json", action="store_true")
    remove = actions.add_parser("remove", help="remove a lost or sold device: it reads nothing new")
    remove.add_argument("device", metavar="DEVICE", help="its name, or the start of its ID (see `device list`)")


def run(node: Node, args: argparse.Namespace, _stop: StopRequested | None) -> int:
    if args.device_action == "list":
        return _list(node, args.json)
    if args.device_action == "remove":
        return _remove(node, args.device)
    return 0  # add is async: `add`


def _list(node: Node, as_json: bool) -> int:
    devices = node.persons.devices()
    if as_json:
        print(json.dumps({"person": node.persons.person_id, "devices": [d.to_json() for d in devices]}, indent=2,
                         ensure_ascii=False))
        return 0
    for device in devices:
        print(f"{device.device_id[:12]}  {_words(device)}")
    return 0


def _words(device: PersonDevice) -> str:
    name = device.name or "first device"
    if device.this_device:
        return f"{name} (this computer)" + ("  removed by another of your devices" if device.removed else "")
    if device.removed:
        return f"{name}  removed"
    added = f"  added {_day(device.added_ms / 1000)}" if device.added_ms else ""
    seen = "  online" if device.connection.value != "offline" else \
        (f"  last seen {_day(device.last_seen)}" if device.last_seen else "")
    return f"{name}{added}{seen}"


def _day(seconds: float) -> str:
    when = datetime.fromtimestamp(seconds)
    return f"{when.day} {when:%b %Y}"


def _remove(node: Node, wanted: str) -> int:
    from threads_desktop.engine.core.errors import InvalidInputError

    devices = [d for d in node.persons.devices() if not d.removed]
    matches = [d for d in devices if d.name == wanted] or [d for d in devices if d.device_id.startswith(wanted)]
    if not wanted or not matches:
        raise InvalidInputError(f"no device of yours is called or starts with {wanted!r} (see `device list`)")
    if len(matches) > 1:
        raise InvalidInputError(f"more than one device matches {wanted!r}: give more of its ID")
    [device] = matches
    node.persons.remove_device(device.device_id)
    print(f"removed {device.name or 'your first device'}: it will stop receiving new photos and messages",
          file=sys.stderr)
    return 0


async def add(node: Node, args: argparse.Namespace, _stop: StopRequested | None) -> int:
    """Make a link; stay online (or let the serving process) until it is used."""
    import trio

    from threads_desktop.engine.acl.links import check_qr_path

    if args.qr is not None:
        check_qr_path(args.qr)
    if node.network is not None or args.wait <= 0:  # served: its network answers the new device
        return await _issue_and_wait(node, args)
    from threads_desktop.serving import ServedProfile

    # The new device must reach us: the usual port (any free one if taken), no LAN announcement.
    served = ServedProfile(listen=args.app_listen, if_taken=["/ip4/0.0.0.0/tcp/0"], lan_discovery=False)
    async with trio.open_nursery() as nursery:
        await nursery.start(served.run, node)
        code = await _issue_and_wait(node, args)
        nursery.cancel_scope.cancel()
    return code


async def _issue_and_wait(node: Node, args: argparse.Namespace) -> int:
    import trio

    from threads_desktop.engine.acl.links import write_qr
    from threads_desktop.engine.persons.flows import issue_device_link

    addresses = node.listen_addresses
    if not addresses and args.wait > 0:
        print("threads-desktop: this profile is offline: the new device could not reach it", file=sys.stderr)
        return 1
    link = issue_device_link(node, node.device_links, addresses)
    uri = link.to_uri()
    if args.qr is not None:
        write_qr(uri, args.qr)
    print(uri, flush=True)
    key = link.link_key.peer_id
    if args.wait <= 0:
        print("open this link on the new computer (threads-desktop join LINK) within 15 minutes, while this "
              "profile is online", file=sys.stderr, flush=True)
        return ADDED
    print("open this link on the new computer (threads-desktop join LINK); waiting for it…", file=sys.stderr,
          flush=True)
    # One deadline (trio's clock) for both waits: the link's use, then the device's sync.
    deadline = trio.current_time() + max(0.0, min(args.wait, (link.expires_ms / 1000) - time.time() + 1))
    added: PeerId | None = None
    with trio.move_on_at(deadline):
        while True:
            added = node.device_links.added_by(key)
            if added is not None:
                name = _device_name(node, added)
                print(f"{name} was added to your devices", file=sys.stderr, flush=True)
                break
            await trio.sleep(POLL_SECONDS)
    if added is None:
        print("threads-desktop: nobody used the link in time; make a new one with `device add`", file=sys.stderr)
        return NOT_USED
    if node.list_threads():
        # Online a while longer, so the new device can take the albums and chats
        # from us (quitting at once left it to find them elsewhere, or not at all).
        settled = False
        with trio.move_on_at(deadline):
            while not _has_everything(node, added):
                await trio.sleep(POLL_SECONDS)
            settled = True
        if not settled:
            print(f"{name} gets the rest of your albums and chats from your other devices and friends while it is "
                  "online", file=sys.stderr, flush=True)
            return ADDED
        print(f"{name} has your albums and chats", file=sys.stderr, flush=True)
    # It may still be reading our answer (the link is spent before the answer
    # is written) or finishing its own comparison with us: quitting now could
    # cut it off ("your other device did not answer", or a wait for a peer
    # that left). So until it hangs up, or a few seconds passed.
    with trio.move_on_after(ANSWER_GRACE_SECONDS):
        while any(link.peer_id == str(added) for link in node.network_status().links):
            await trio.sleep(POLL_SECONDS)
    return ADDED


def _has_everything(node: Node, device: PeerId) -> bool:
    """The device is in step with us in every album and chat we hold (it had our answer, then)."""
    return {summary.thread_id for summary in node.list_threads()} <= _in_step(node, str(device))


def _in_step(node: Node, peer_id: str | None = None) -> set[ThreadId]:
    """The threads in sync with a peer connected now (with `peer_id`, or with anyone)."""
    return {t.thread_id for device in node.devices() if peer_id in (None, device.peer_id)
            for t in device.threads if t.in_sync}


def _device_name(node: Node, device: PeerId) -> str:
    for row in node.persons.devices():
        if row.device_id == str(device):
            return row.name or "the new device"
    return "the new device"


# --- the new device: `join LINK` with a device link ------------------------------------------------

DEVICE_EXIT_CODES = {"spent": 3, "expired": 4, "unknown": 5}
UNREACHABLE = 75  # EX_TEMPFAIL: the other device did not answer; try again while it is online
JOIN_EPILOG = f"""\
with a device link (threads://device/...), from `device add` on your other computer:
  0   this computer is another device of yours now (its albums and chats sync from then on)
  1   the link is damaged, or this profile has albums or chats already (use an empty --data-dir)
  {DEVICE_EXIT_CODES['spent']}   refused: the link was used already
  {DEVICE_EXIT_CODES['expired']}   refused: the link has expired (15 minutes)
  {DEVICE_EXIT_CODES['unknown']}   refused: your other device does not know the link
  {UNREACHABLE}  your other device did not answer (is it online?)"""


async def join_as_device(node: Node, args: argparse.Namespace) -> int:
    """Become another device of the link's person: ask its device (online
    for the request if no process serves this profile), install what it
    sends, then stay online up to --wait seconds while the threads sync."""
    import trio

    from threads_desktop.engine.persons.device_links import DeviceLink

    link = DeviceLink.parse(args.link)
    beside = f", beside {link.name}" if link.name else ""
    print(f"This will make this computer another of your devices{beside}", file=sys.stderr, flush=True)
    if node.network is not None:
        return await _become(node, link, args, node.network)
    from threads_desktop.serving import ServedProfile

    served = ServedProfile(listen=["/ip4/127.0.0.1/tcp/0"], lan_discovery=False, pull_interval=5.0)
    async with trio.open_nursery() as nursery:
        service = await nursery.start(served.run, node)
        code = await _become(node, link, args, service)
        nursery.cancel_scope.cancel()
    return code


async def _become(node: Node, link: DeviceLink, args: argparse.Namespace, network: Network) -> int:
    import socket

    import trio

    from threads_desktop.engine.core.errors import PeerError, ThreadsError
    from threads_desktop.engine.persons.flows import DeviceLinkRefused, become_device

    name = args.name or socket.gethostname()[:64] or "New computer"
    try:
        bundle = await become_device(node, link, name, network.ask_device)
    except DeviceLinkRefused as refused:
        print(f"threads-desktop: cannot add this computer: {refused}", file=sys.stderr)
        return DEVICE_EXIT_CODES[refused.reason]
    except PeerError as exc:
        print(f"threads-desktop: {exc}", file=sys.stderr)
        return UNREACHABLE
    except ThreadsError as exc:  # a damaged answer, or a profile that has albums already
        print(f"threads-desktop: cannot add this computer: {exc}", file=sys.stderr)
        return 1
    network.peers_changed()
    person = bundle.name or "you"
    print(f"this computer is now a device of {person}: {len(bundle.threads)} albums and chats; their photos and "
          "messages come from your other devices and friends while it is online", file=sys.stderr, flush=True)
    with trio.move_on_after(max(0.0, args.wait)):
        # Every thread in sync with a peer connected now (the other device or a
        # friend): we hold what it holds, and no photo transfer is under way.
        while not {t.thread_id for t in bundle.threads} <= _in_step(node):
            await trio.sleep(POLL_SECONDS)
    return ADDED


COMMANDS = (
    Command("device", "your devices: add (prints a link for the new computer), list, remove", _arguments,
            on_node=lambda node, args, stop: add(node, args, stop) if args.device_action == "add"
            else run(node, args, stop)),
)
