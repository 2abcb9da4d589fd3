"""An invite's uses as the admin sees them (Membership.invites, the invite
dialog's "uses left") agree with the policy's verdict (acl/policy.py): a
use is taken by every admit the policy counts against the invite, even one
refused later for another reason, so no use is shown left that every
attempt finds used up. Profiles in process."""

from __future__ import annotations

from collections.abc import Callable

from tests.engine.eventstore.peers import admit, peer, sync, with_second_admin
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.keys import SigningKey
from threads_desktop.engine.core.members import AdmissionStatus, Role
from threads_desktop.engine.node import Node

OpenNode = Callable[..., Node]


def _join(admin: Node, joiner: Node, thread: ThreadId, link: InviteLink) -> AdmissionStatus:
    joiner.membership.join(InviteLink.parse(link.to_uri()))
    return admit(admin, joiner, thread).status


def test_an_admit_refused_for_its_authors_demotion_still_takes_the_invites_use(open_node: OpenNode) -> None:
    a, b, _c, thread = with_second_admin(open_node)
    link = a.membership.invite(thread, Role.READ, uses=1)
    sync(a, b, thread)
    # Concurrently: a takes b's admin right, and b lets a joiner in with the link's one use.
    a.membership.revoke(thread, peer(b), Role.WRITE, "acl")
    assert _join(b, open_node("j"), thread, link) is AdmissionStatus.ADMITTED
    sync(b, a, thread)

    key = SigningKey.from_seed(link.invite_seed).peer_id.public_key
    (shown,) = [invite for invite in a.membership.invites(thread) if invite.key == key]
    late = open_node("k")
    status = _join(a, late, thread, link)
    assert status is AdmissionStatus.REFUSED  # the policy counts b's admit against the invite
    assert (shown.uses - shown.used) == 0      # and so does the dialog: no use left
    assert late.membership.join_state(thread).reason == "used-up"  # type: ignore[union-attr]
