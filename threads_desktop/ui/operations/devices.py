"""The devices of this computer's person (issue 19): list them, make a link
that adds one, remove one, become another device of a person, and whether
another device removed this one. Run on the engine thread through
`EngineClient.run`; plain values only."""

from __future__ import annotations

from dataclasses import dataclass

from threads_desktop.engine.acl.links import qr_png_bytes
from threads_desktop.engine.core.types import Connection
from threads_desktop.engine.node import Node


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
    """What a pasted device link says, before it is used."""

    person_name: str | None  # whose devices the computer joins (the link's inviting device names them)
    device_name: str | None  # the device that made the link


def my_devices(node: Node) -> list[MyDevice]:
    return [MyDevice(d.device_id, d.name, d.this_device, d.removed, d.added_ms, d.connection, d.last_seen)
            for d in node.persons.devices()]


def new_device_link(node: Node) -> DeviceLinkOffer:
    """A one-use link (15 minutes) that makes another computer a device of this person."""
    link = node.persons.new_device_link()  # type: ignore[attr-defined]
    text = link.to_uri()
    return DeviceLinkOffer(text, qr_png_bytes(text), link.expires_ms)


def remove_device(node: Node, device_id: str) -> None:
    node.persons.remove_device(device_id)  # type: ignore[attr-defined]


def removed_notice(node: Node) -> str | None:
    """ "Removed from Alice's devices on 6 Dec" once another device removed this one."""
    notice: str | None = node.persons.removed_notice()  # type: ignore[attr-defined]
    return notice


def read_device_link(node: Node, text: str) -> DeviceLinkPreview:
    """What a pasted device link says; InvalidLinkError if the text holds none."""
    link = node.persons.read_device_link(text)  # type: ignore[attr-defined]
    return DeviceLinkPreview(link.person_name, link.device_name)


async def add_this_computer(node: Node, text: str) -> str | None:
    """Become a device of the link's person; their name."""
    name: str | None = await node.persons.join_device_link(text)  # type: ignore[attr-defined]
    return name


def forget_removed_device(node: Node) -> int:
    """After another device removed this one: delete every album and chat
    it kept (they stay with the person's other devices and the people they
    share them with); how many."""
    gone = 0
    for summary in node.list_threads():
        node.leave_thread(summary.thread_id)  # removed: gone at once, with no event
        gone += 1
    return gone
