"""Whom a joiner syncs with between its admission and the first ACL event
reaching it (acl/membership.py, Membership.may_sync): it knows no member
yet, so only the peers its admission came from (the admin that let it in,
the peers the link named) are trusted; a removed member still holding the
old keys gets nothing from it. Profiles in process, admission as bytes."""

from __future__ import annotations

from collections.abc import Callable

from tests.engine.eventstore.peers import admit, join, peer, start_thread, sync
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.keys import Identity
from threads_desktop.engine.core.members import AdmissionStatus, Role
from threads_desktop.engine.node import Node

OpenNode = Callable[..., Node]


def _admitted_without_acl(admin: Node, joiner: Node, thread: ThreadId, addresses: tuple[str, ...] = ()) -> bytes:
    link = admin.membership.invite(thread, Role.WRITE, addresses=addresses)
    joiner.membership.join(InviteLink.parse(link.to_uri()))
    assert admit(admin, joiner, thread).status is AdmissionStatus.ADMITTED
    assert not joiner._services.gate.evaluation(thread).events  # no ACL event here yet
    return joiner.store.thread_keys(thread)[0].follow


def test_a_joiner_without_acl_events_syncs_only_with_the_admin_that_let_it_in(open_node: OpenNode) -> None:
    a, c, j = open_node("a"), open_node("c"), open_node("j")
    thread = start_thread(a)
    join(a, c, thread)
    a.membership.revoke(thread, peer(c), Role.FOLLOW)  # c keeps the old keys
    key = _admitted_without_acl(a, j, thread)
    assert j.membership.may_sync(thread, peer(a), key)
    assert not j.membership.may_sync(thread, peer(c), key)
    assert not j.membership.may_sync(thread, str(Identity.generate().peer_id), key)
    # Once the ACL is here, it decides: c is out, a is in.
    sync(a, j, thread)
    assert j._services.gate.evaluation(thread).events
    assert j.membership.may_sync(thread, peer(a), key)
    assert not j.membership.may_sync(thread, peer(c), key)


def test_a_joiner_without_acl_events_syncs_with_the_admins_its_link_named(open_node: OpenNode) -> None:
    a, b, c, j = open_node("a"), open_node("b"), open_node("c"), open_node("j")
    thread = start_thread(a)
    join(a, b, thread)
    a.membership.grant(thread, peer(b), Role.WRITE, "acl")
    join(a, c, thread)
    named = (f"/ip4/127.0.0.1/tcp/4001/p2p/{peer(a)}", f"/ip4/127.0.0.1/tcp/4002/p2p/{peer(b)}")
    key = _admitted_without_acl(a, j, thread, named)
    assert j.membership.may_sync(thread, peer(b), key)
    assert not j.membership.may_sync(thread, peer(c), key)
