"""Keys lent in a hello (PROTOCOL §34): who the answerer
lends keys to. The server lends `NodeThreads.lendable_keys` to every peer
`NodeThreads.admits` lets in (server._hello: `cap is None`), so the pair is
checked here on real profiles (real SQLite files): a peer is lent only the
keys the ACL would seal to it in a key box (acl/membership._boxes: bound
devices not removed, read keys to members that read)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import trio

from tests.engine.eventstore.peers import join, peer, start_thread, sync
from tests.engine.net.hostile import connect, hostile_host, scene, still_serves
from tests.engine.persons.test_two_devices import add_second_device, everyone_syncs
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.core.keys import Identity, ThreadKey
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.networking import NodeThreads
from threads_desktop.engine.node import Node

OpenNode = Callable[..., Node]


def _lent_to(answerer: Node, thread: object, asker: Node, proven: ThreadKey) -> list[ThreadKey]:
    """What answerer's hello answer lends asker, as server._hello decides it."""
    threads = NodeThreads(answerer)
    if not threads.admits(thread, asker.identity.peer_id, proven):  # type: ignore[arg-type]
        return []
    return threads.lendable_keys(thread, asker.identity.peer_id, proven)  # type: ignore[arg-type]


@pytest.mark.parametrize("default", [Role.FOLLOW, Role.READ], ids=["default-follow", "default-read"])
def test_a_removed_device_is_lent_no_key_made_after_its_removal_whatever_the_default_role(
        open_node: OpenNode, default: Role) -> None:
    """_person_of says "" for a removed device, and the ACL's roles("") are
    the thread's default role: in a thread whose default lets anyone follow
    (or read), the device its person removed is admitted and lent the keys of
    the very rotation that shut it out (read keys too, default READ)."""
    friend, laptop, desktop = open_node("friend"), open_node("laptop"), open_node("desktop")
    album = start_thread(friend, ThreadKind.CHAT, "Trip")
    join(friend, laptop, album)
    add_second_device(laptop, desktop)
    friend.membership.set_default(album, default)
    everyone_syncs([friend, laptop, desktop], album)
    old = desktop.store.thread_keys(album)[0]
    laptop.persons.remove_device(peer(desktop))
    sync(laptop, friend, album)  # the friend, an admin, rotates: new keys not sealed to the desktop
    assert friend.store.thread_keys(album)[0].epoch > old.epoch
    assert _lent_to(friend, album, desktop, old) == []


def test_a_removed_device_is_lent_nothing_in_a_thread_with_no_default(open_node: OpenNode) -> None:
    """The usual thread (default: no access): the removed device is refused
    at admission, so lent nothing (the commit's own rule holds)."""
    friend, laptop, desktop = open_node("friend"), open_node("laptop"), open_node("desktop")
    album = start_thread(friend, ThreadKind.CHAT, "Trip")
    join(friend, laptop, album)
    add_second_device(laptop, desktop)
    everyone_syncs([friend, laptop, desktop], album)
    old = desktop.store.thread_keys(album)[0]
    laptop.persons.remove_device(peer(desktop))
    sync(laptop, friend, album)
    assert friend.store.thread_keys(album)[0].epoch > old.epoch
    assert _lent_to(friend, album, desktop, old) == []


def test_a_follower_is_lent_follow_keys_only_and_a_reader_read_keys(open_node: OpenNode) -> None:
    """lending_roles agrees with the boxes: a member that only follows is lent no
    read key; one granted read is."""
    a, f, r, gone = open_node("a"), open_node("f"), open_node("r"), open_node("gone")
    chat = start_thread(a)
    join(a, f, chat, role=Role.FOLLOW)
    join(a, r, chat, role=Role.READ)
    join(a, gone, chat)
    old_f, old_r = f.store.thread_keys(chat)[0], r.store.thread_keys(chat)[0]
    a.membership.revoke(chat, peer(gone), Role.FOLLOW)  # a rotation f and r have not heard of
    to_f, to_r = _lent_to(a, chat, f, old_f), _lent_to(a, chat, r, old_r)
    assert to_f and all(k.read is None for k in to_f)
    assert to_r and all(k.read is not None for k in to_r)
    assert _lent_to(a, chat, gone, old_r) == []


def test_lending_agrees_with_the_boxes_for_a_removed_device_in_a_thread_anyone_reads(
        open_node: OpenNode) -> None:
    """lending_roles (which decides what is lent) must give nothing to the
    device its person removed when the thread's default role is READ (roles("")
    is the default): the boxes (acl/membership._boxes) seal nothing to it."""
    friend, laptop, desktop = open_node("friend"), open_node("laptop"), open_node("desktop")
    album = start_thread(friend, ThreadKind.CHAT, "Trip")
    join(friend, laptop, album)
    add_second_device(laptop, desktop)
    friend.membership.set_default(album, Role.READ)
    everyone_syncs([friend, laptop, desktop], album)
    laptop.persons.remove_device(peer(desktop))
    sync(laptop, friend, album)
    assert Role.READ in friend.membership.lending_roles(album, peer(laptop))
    assert friend.membership.lending_roles(album, peer(desktop)) == frozenset()


def test_a_removed_member_back_under_a_new_identity_is_lent_nothing_in_a_thread_anyone_follows(
        open_node: OpenNode) -> None:
    """may_sync's own promise ("a stranger holding an old key, a member
    removed back under a new identity, gets nothing") does not hold when the
    default role is FOLLOW: roles(stranger) is the default, so the stranger
    is admitted, and the hello now lends it the follow keys of the rotation
    that removed it (records and control headers open to it again). The ACL
    seals no box to a peer not bound in the thread."""
    a, x, y = open_node("a"), open_node("x"), open_node("y")
    chat = start_thread(a)
    join(a, x, chat)
    a.membership.set_default(chat, Role.FOLLOW)
    old = x.store.thread_keys(chat)[0]
    a.membership.revoke(chat, peer(x), Role.FOLLOW)
    assert a.store.thread_keys(chat)[0].epoch > old.epoch
    assert _lent_to(a, chat, x, old) == []  # the removed identity itself: nothing
    assert _lent_to(a, chat, y, old) == []  # the same person under a new identity (y holds x's keys)


def test_a_member_that_left_is_lent_nothing(open_node: OpenNode) -> None:
    a, x, gone = open_node("a"), open_node("x"), open_node("gone")
    chat = start_thread(a)
    join(a, x, chat)
    join(a, gone, chat)
    old = x.store.thread_keys(chat)[0]
    x.membership.leave(chat)
    sync(x, a, chat)
    a.membership.revoke(chat, peer(gone), Role.FOLLOW)  # a rotation after x left
    assert a.store.thread_keys(chat)[0].epoch > old.epoch
    assert _lent_to(a, chat, x, old) == []


def test_a_joiner_not_yet_admitted_is_lent_nothing(open_node: OpenNode) -> None:
    """A joiner holds no key before an admin admits it; had it an old one
    (say its link's), proving it in a hello would get it no newer key."""
    a, x, gone = open_node("a"), open_node("x"), open_node("gone")
    chat = start_thread(a)
    join(a, gone, chat)
    link = a.membership.invite(chat, Role.WRITE)
    x.membership.join(InviteLink.parse(link.to_uri()))
    old = a.store.thread_keys(chat)[0]
    a.membership.revoke(chat, peer(gone), Role.FOLLOW)
    assert a.store.thread_keys(chat)[0].epoch > old.epoch
    assert _lent_to(a, chat, x, old) == []


def test_a_stranger_holding_old_keys_is_lent_nothing_over_the_wire_in_a_thread_anyone_follows(
        tmp_path: Path) -> None:
    """The same over a real hello on 127.0.0.1: the removed member, back
    under a new identity with its old keys, asks a whose thread's default
    role is FOLLOW; the answer must lend it nothing."""
    async def main() -> None:
        async with scene(tmp_path, member=True) as s:
            m = s.member
            assert m is not None
            s.node.membership.set_default(s.thread, Role.FOLLOW)
            old_keys = m.store.thread_keys(s.thread)
            s.node.membership.revoke(s.thread, peer(m), Role.FOLLOW)
            async with hostile_host(Identity.generate()) as host:
                h = await connect(host, s)
                matches = (await h.hello([(s.thread, old_keys)]))["matches"]
                assert all(len(match) == 3 for match in matches)
            await still_serves(s)

    trio.run(main)
