"""Links still out when their inviter is removed, and backdated deps."""

from __future__ import annotations

from collections.abc import Callable

from tests.engine.eventstore.peers import admit, join, peer, start_thread, sync
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]



def test_an_admin_removed_from_reading_cannot_come_back_through_its_own_link(open_node: OpenNode) -> None:
    a, b, again = open_node("a"), open_node("b"), open_node("b-again")
    thread = start_thread(a)
    join(a, b, thread)
    a.membership.grant(thread, peer(b), Role.WRITE, "acl")          # b is an admin
    sync(a, b, thread)
    link = b.membership.invite(thread, Role.READ)                    # b keeps the link for itself
    sync(b, a, thread)
    a.membership.revoke(thread, peer(b), Role.READ)                  # b demoted to follower, keys rotated
    assert not any(i.revoked for i in a.membership.invites(thread))  # b's own link is still good
    again.membership.join(InviteLink.parse(link.to_uri()))           # b, under a new identity
    assert admit(a, again, thread).reason == "revoked"               # its author is no admin now
    assert again.list_threads() == [], "the removed admin got keys through a link it made"


def test_a_demoted_admin_who_acknowledged_its_demotion_cannot_revoke_with_backdated_deps(
        open_node: OpenNode) -> None:
    from threads_desktop.engine.acl.control_ops import Revoke, acl_payload
    from threads_desktop.engine.logstore.store import NewEvent

    a, b, c = open_node("a"), open_node("b"), open_node("c")
    thread = start_thread(a)
    join(a, b, thread)
    join(a, c, thread)
    a_log = a.store.own_log(thread)
    a.membership.grant(thread, peer(b), Role.WRITE, "acl")          # b is an admin
    sync(a, b, thread)
    sync(a, c, thread)
    granted_at = dict(b.events.frontier(thread))[a_log]
    a.membership.revoke(thread, peer(b), Role.WRITE, "acl")         # b demoted
    sync(a, b, thread)
    b.chat(thread).post("ok, I saw it")                              # b's log now depends on its demotion
    clock = b._services.clock
    with b.database.write():                                         # then claims it had not seen it
        b.store.append_many(thread, [NewEvent(acl_payload(Revoke(peer(c), Role.READ)), clock.tick(),
                                              ((a_log, granted_at),), True)])
    sync(b, a, thread)
    assert Role.READ in a.membership.roles(thread, peer(c)), \
        "a demoted admin revoked a member after acknowledging its demotion (deps not monotone in a log)"
