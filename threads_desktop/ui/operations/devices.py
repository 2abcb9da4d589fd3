"""The devices of this computer's person (issue 19): list them, make a link
that adds one, remove one, become another device of a person, and whether
another device removed this one. Run on the engine thread through
`EngineClient.run`; plain values only."""

from __future__ import annotations

import time
from dataclasses import dataclass

from threads_desktop.engine.acl.links import qr_png_bytes
from threads_desktop.engine.core.errors import InvalidLinkError, PeerError
from threads_desktop.engine.core.types import Connection
from threads_desktop.engine.node import Node
from threads_desktop.engine.persons import flows
from threads_desktop.engine.persons.device_links import MAX_LINK_LENGTH, DeviceLink
from threads_desktop.engine.persons.device_links import PREFIX as DEVICE_PREFIX
from threads_desktop.ui.operations.backup import this_computer_name


@dataclass(frozen=True, slots=True)
class MyDevice:
    device_id: str
    name: str | None
    this_device: bool
    removed: bool
    added_ms: int | None
    connection: Connection
    last_seen: float | None


@dataclass(frozen=True, slots=True)
class DeviceLinkOffer:
    """A one-use link that makes another computer a device of this person."""

    link: str
    qr_png: bytes
    expires_ms: int


@dataclass(frozen=True, slots=True)
class DeviceLinkPreview:
    """What a pasted device link says, before it is used: the device that
    made it (its name, a hint), and whether this computer can use it now."""

    link: str  # the link alone, out of whatever was pasted
    device_name: str | None
    problem: str | None  # "expired", "already yours", "has albums": why it cannot be used here


def my_devices(node: Node) -> list[MyDevice]:
    # This computer, if it is the person's first device (no certificate, so
    # no name), goes by its host name: the name it would be certified with.
    return [MyDevice(d.device_id, d.name or (this_computer_name() if d.this_device else None), d.this_device,
                     d.removed, d.added_ms, d.connection, d.last_seen)
            for d in node.persons.devices()]


def new_device_link(node: Node) -> DeviceLinkOffer | None:
    """A one-use link (15 minutes) that makes another computer a device of
    this person, naming where this device listens; None while offline (the
    other computer could not reach us with it)."""
    addresses = node.listen_addresses
    if not addresses:
        return None
    link = flows.issue_device_link(node, node.device_links, addresses)
    text = link.to_uri()
    return DeviceLinkOffer(text, qr_png_bytes(text), link.expires_ms)


def revoke_device_links(node: Node) -> int:
    """The add-device dialog closed before a device used its link: it stops working."""
    return node.device_links.revoke_open()


def remove_device(node: Node, device_id: str) -> None:
    node.persons.remove_device(device_id)


def removed_notice(node: Node) -> str | None:
    """ "Removed from Alice's devices on 6 Dec" once another device removed this one."""
    return node.persons.removed_notice()


def find_device_link(text: str) -> tuple[str, DeviceLink]:
    """The device link in pasted text (words around it, wrapped over lines,
    a full stop after it) and what it says; InvalidLinkError when there is
    none. The link wrapped whole is tried before its first line alone."""
    start = text.find(DEVICE_PREFIX)
    if start < 0:
        raise InvalidLinkError(f"there is no device link here: one starts with {DEVICE_PREFIX}")
    lines = text[start:start + MAX_LINK_LENGTH * 2].splitlines()
    first = lines[0].split()[0]
    joined = first
    for line in lines[1:] if first == lines[0].strip() else ():
        if not line.strip() or len(line.split()) > 1:
            break
        joined += line.strip()
    error: InvalidLinkError | None = None
    for candidate in dict.fromkeys((joined, first)):
        candidate = candidate.rstrip(".,;:!?)>\"'»”")
        try:
            return candidate, DeviceLink.parse(candidate)
        except InvalidLinkError as exc:
            error = error or exc
    assert error is not None
    raise error


def read_device_link(node: Node, text: str) -> DeviceLinkPreview:
    """What a pasted device link offers this computer; InvalidLinkError if
    the text holds no valid one."""
    link_text, link = find_device_link(text)
    problem: str | None = None
    if link.expires_ms <= int(time.time() * 1000):
        problem = "expired"
    elif str(link.person) == node.persons.person_id:
        problem = "already yours"
    elif node.list_threads():
        problem = "has albums"
    return DeviceLinkPreview(link_text, link.name, problem)


async def add_this_computer(node: Node, text: str) -> str | None:
    """Become another device of the link's person: the device that made the
    link answers with the person's albums and chats, installed in one go
    (DeviceLinkRefused: spent, expired or unknown; PeerError: no answer).
    The person's name."""
    network = node.network
    if network is None:
        raise PeerError("this computer is not online yet")
    _link_text, link = find_device_link(text)
    bundle = await flows.become_device(node, link, this_computer_name(), network.ask_device)
    network.peers_changed()  # dial the person's peers now: the content comes from them
    return bundle.name


def forget_removed_device(node: Node) -> int:
    """After another device removed this one: delete every album and chat
    it kept (they stay with the person's other devices and the people they
    share them with); how many."""
    gone = 0
    for summary in node.list_threads():
        node.leave_thread(summary.thread_id)  # removed: gone at once, with no event
        gone += 1
    return gone
