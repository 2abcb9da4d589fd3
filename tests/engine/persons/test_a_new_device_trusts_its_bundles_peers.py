"""A device just added or restored holds only its own Bind: it knows no
member of its threads yet (review of issue 19, finding 9c). Until it does,
it syncs only with the peers its bundle named (the issuing device and the
bundle's peers; for a backup, the bundle's peers), not with whoever proves
the thread's keys: a member removed after the bundle was made holds them
too and could feed it. Once the ACL has come, the ACL decides."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import trio

from tests.engine.eventstore.peers import join, sync
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.core.keys import Identity
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.networking import NodeThreads
from threads_desktop.engine.node import Node
from threads_desktop.engine.persons.flows import (
    DeviceIssuer,
    become_device,
    export_backup,
    issue_device_link,
    restore_backup,
)

OpenNode = Callable[..., Node]
PASSPHRASE = "a long passphrase nobody guesses"


def _address(peer: PeerId, port: int) -> str:
    return f"/ip4/127.0.0.1/tcp/{port}/p2p/{peer}"


def _alice_and_her_friends(open_node: OpenNode) -> tuple[Node, Node, Node, ThreadId]:
    """Alice's laptop shares a chat with a friend (whose address it knows)
    and with Mallory, whom it never met directly."""
    friend, laptop, mallory = open_node("friend"), open_node("laptop"), open_node("mallory")
    chat = friend.create_thread(ThreadKind.CHAT, "Trip").thread_id
    join(friend, laptop, chat)
    join(friend, mallory, chat)
    sync(friend, laptop, chat)
    laptop.peers.remember(chat, friend.identity.peer_id, [_address(friend.identity.peer_id, 4002)])
    return friend, laptop, mallory, chat


def _admits(node: Node, peer: PeerId, chat: ThreadId) -> bool:
    return NodeThreads(node).admits(chat, peer, node.store.thread_keys(chat)[0])


def test_a_device_added_by_link_syncs_only_with_the_issuing_device_and_the_bundles_peers(
        open_node: OpenNode) -> None:
    friend, laptop, mallory, chat = _alice_and_her_friends(open_node)
    desktop = open_node("desktop")
    issuer = DeviceIssuer(laptop, laptop.device_links)
    link = issue_device_link(laptop, laptop.device_links, [_address(laptop.identity.peer_id, 4001)])

    async def ask(_addresses: Sequence[str], request: bytes) -> bytes:
        return issuer.answer(request, desktop.identity.peer_id)

    trio.run(become_device, desktop, link, "Desktop", ask)
    assert not any(m.roles for m in desktop.membership.members(chat))  # only its own Bind: no member known
    assert _admits(desktop, laptop.identity.peer_id, chat)
    assert _admits(desktop, friend.identity.peer_id, chat)
    # Mallory holds the chat's keys (removed since, say), as would anyone she gave them to.
    assert not _admits(desktop, mallory.identity.peer_id, chat)
    assert not _admits(desktop, Identity.generate().peer_id, chat)

    sync(laptop, desktop, chat)  # the ACL arrives: from now on it decides
    assert any(m.roles for m in desktop.membership.members(chat))
    assert _admits(desktop, mallory.identity.peer_id, chat) and _admits(desktop, friend.identity.peer_id, chat)
    assert not _admits(desktop, Identity.generate().peer_id, chat)


def test_a_restored_device_syncs_only_with_the_bundles_peers(open_node: OpenNode, tmp_path: Path) -> None:
    friend, laptop, mallory, chat = _alice_and_her_friends(open_node)
    restored = open_node("restored")
    path = tmp_path / "alice.threads-backup"
    trio.run(export_backup, laptop, path, PASSPHRASE, [_address(laptop.identity.peer_id, 4001)])
    trio.run(restore_backup, restored, path, PASSPHRASE, "Restored", 1_765_000_000_000)

    assert _admits(restored, laptop.identity.peer_id, chat)  # the device that exported it
    assert _admits(restored, friend.identity.peer_id, chat)
    assert not _admits(restored, mallory.identity.peer_id, chat)



def test_a_thread_its_bundle_names_no_peer_for_syncs_with_whoever_proves_it(
        open_node: OpenNode, tmp_path: Path) -> None:
    """A backup made offline, of a thread whose peers the device never noted
    (tests/engine/persons/test_restore_after_rotation.py's case): nobody to
    go by, so it is as before (PROTOCOL: the limit of this rule)."""
    friend, laptop, restored = open_node("friend"), open_node("laptop"), open_node("restored")
    chat = friend.create_thread(ThreadKind.CHAT, "Trip").thread_id
    join(friend, laptop, chat)  # the laptop's peer book never noted the friend
    path = tmp_path / "alice.threads-backup"
    trio.run(export_backup, laptop, path, PASSPHRASE)  # not listening: no address of its own to give
    trio.run(restore_backup, restored, path, PASSPHRASE, "Restored", 1_765_000_000_000)
    assert _admits(restored, friend.identity.peer_id, chat)
