"""Invites, joins and admissions (issue 16; the network's joining.py carries
them): what a Node does as a joiner and as an admin."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from threads_desktop.engine.acl.admission import AdmissionAnswer, AdmissionRequest
from threads_desktop.engine.acl.links import MAX_ADDRESSES as MAX_LINK_ADDRESSES
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.acl.membership import Membership
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.core.members import JoinState, Role
from threads_desktop.engine.core.types import ChangeSet, ThreadSummary
from threads_desktop.engine.eventstore.broadcast import Broadcaster
from threads_desktop.engine.eventstore.committer import Committer
from threads_desktop.engine.eventstore.store import AppliedChanges
from threads_desktop.engine.logstore.addressbook import AddressBook, peer_of_address
from threads_desktop.engine.logstore.database import Database
from threads_desktop.engine.logstore.peerbook import PeerBook

_LINK_ADDRESS_TTL = 30 * 24 * 3600
_OTHER_ADMINS_IN_LINKS = 3


class Joining:
    """Node's invites and joins; `joins_changed` wakes the network's joiner."""

    def __init__(self, database: Database, membership: Membership, committer: Committer, addresses: AddressBook,
                 peers: PeerBook, broadcaster: Broadcaster, publish: Callable[[AppliedChanges], None], *,
                 get_thread: Callable[[ThreadId], ThreadSummary], listen_addresses: Callable[[], list[str]],
                 display_name: Callable[[], str], forget_leaving: Callable[[ThreadId], None],
                 joins_changed: Callable[[], None]) -> None:
        self._database = database
        self._membership = membership
        self._committer = committer
        self._addresses = addresses
        self._peers = peers
        self._broadcaster = broadcaster
        self._publish = publish
        self._get_thread = get_thread
        self._listen_addresses = listen_addresses
        self._display_name = display_name
        self._forget_leaving = forget_leaving
        self._joins_changed = joins_changed

    def invite(self, thread_id: ThreadId, role: Role, *, expires_in: float | None = None,
               uses: int = 1, deliver: Callable[[InviteLink], None] | None = None,
               approve_by_hand: bool = False) -> InviteLink:
        """A link to the thread with the thread's name, ours, and where we
        and a few other admins listen (whom a joiner asks to be admitted).

        `deliver` (saving the link as a QR code, say) runs before the invite
        is committed: if it raises, there is no invite and nobody heard of one."""
        summary = self._get_thread(thread_id)
        with self._committer.batched() as changes, self._database.write():
            link = self._membership.invite(thread_id, role, expires_in=expires_in, uses=uses, name=summary.name,
                                           addresses=self._link_addresses(thread_id),
                                           inviter=self._display_name() or None, approve_by_hand=approve_by_hand)
            if deliver is not None:
                deliver(link)
        self._publish(changes)
        return link

    def _link_addresses(self, thread_id: ThreadId) -> list[str]:
        """Ours, then one known address each of up to 3 other admins: a link
        no longer carries keys, so the joiner must reach an admin."""
        others: list[str] = []
        for member in self._membership.members(thread_id):
            if len(others) == _OTHER_ADMINS_IN_LINKS:
                break
            if member.admin and not member.is_me:
                known = [a for a in self._addresses.addresses(PeerId.parse(member.peer_id))
                         if peer_of_address(a) is not None]
                others += known[:1]
        return [*self._listen_addresses()[:MAX_LINK_ADDRESSES - len(others)], *others]

    def join(self, link: InviteLink) -> ThreadId:
        """Join by link: a pending admission (no keys yet), which the
        network's joiner loop (engine/net/joining.py) asks the link's peers,
        then others, to answer; the thread comes once an admin admits us."""
        self._forget_leaving(link.thread_id)
        thread_id = self._membership.join(link)
        self._remember_addresses(thread_id, link.addresses)
        self._broadcaster.publish(ChangeSet(joins=frozenset({thread_id}), membership=frozenset({thread_id})))
        self._joins_changed()
        return thread_id

    def answer_admission(self, request: AdmissionRequest, from_peer: str) -> AdmissionAnswer:
        """As an admin: judge a joiner's request (writing the admit event when it is let in)."""
        with self._committer.batched() as changes:
            answer = self._membership.answer_admission(request, from_peer)
        changes.membership.add(request.thread_id)  # the requests admins see changed, or a member came
        self._publish(changes)
        return answer

    def approve_join(self, thread_id: ThreadId, request_id: bytes) -> None:
        """As an admin: let in a joiner whose invite asks us first (it gets in when it asks again)."""
        with self._committer.batched() as changes:
            self._membership.approve_join(thread_id, request_id)
        changes.membership.add(thread_id)
        self._publish(changes)

    def decline_join(self, thread_id: ThreadId, request_id: bytes) -> None:
        """As an admin: refuse such a joiner ("declined" when it asks again)."""
        self._membership.decline_join(thread_id, request_id)
        self._broadcaster.publish(ChangeSet(membership=frozenset({thread_id})))

    def take_admission(self, thread_id: ThreadId, answer: AdmissionAnswer, from_peer: str | None = None) -> JoinState:
        """An admin's answer to our pending join (Membership.take_admission);
        when it admits us the thread is here, and the network syncs it."""
        before = self._membership.join_state(thread_id)
        state = self._membership.take_admission(thread_id, answer, from_peer)
        added = state.status == "admitted" and (before is None or before.status != "admitted")
        if added:  # the thread is held now: the link's peers are its peers
            self._remember_addresses(thread_id, state.addresses)
        self._broadcaster.publish(ChangeSet(threads_added=frozenset({thread_id}) if added else frozenset(),
                                            membership=frozenset({thread_id}), joins=frozenset({thread_id})))
        return state

    def _remember_addresses(self, thread_id: ThreadId, addresses: Sequence[str]) -> None:
        for address in addresses:
            peer = peer_of_address(address)
            if peer is not None:
                self._peers.remember(thread_id, peer, [address], ttl_seconds=_LINK_ADDRESS_TTL)

    def accept_invite(self, invite_id: bytes) -> ThreadId:
        """Accept a direct invite: join as by its link."""
        link = dict(self._membership.direct_invites()).get(invite_id)
        if link is not None:
            self._forget_leaving(link.link.thread_id)
        thread_id = self._membership.accept_invite(invite_id)
        self._remember_addresses(thread_id, link.link.addresses if link else ())
        self._broadcaster.publish(ChangeSet(joins=frozenset({thread_id}), membership=frozenset({thread_id}),
                                            invites=True))
        self._joins_changed()
        return thread_id

    def decline_invite(self, invite_id: bytes) -> None:
        """Decline a direct invite: forget it and tell every view of the invites."""
        self._membership.decline_invite(invite_id)
        self._broadcaster.publish(ChangeSet(invites=True))
