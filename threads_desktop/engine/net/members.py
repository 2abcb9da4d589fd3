"""Which peers the ACLs of our threads name, for classifying a peer the
moment its Noise handshake tells us who it is.

A member we have never met (a member's new device, one added by peer ID,
a joiner just admitted) used to be a stranger until its first hello
proved a thread: strangers' places, strangers' hello budget, strangers'
turn. Looked up here, it gets members' places at once. The set is read
from the node (`ThreadStore.acl_peers`, every thread) only when a
ChangeSet says a membership changed or threads came or went, so a
look-up is a set membership test. Its size follows our own ACLs, never
what strangers send.
"""

from __future__ import annotations

from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.core.types import ChangeSet
from threads_desktop.engine.net.ports import ThreadStore


class AclPeers:
    """The peers named by the ACL of any thread we hold; `changed` with every ChangeSet."""

    def __init__(self, threads: ThreadStore) -> None:
        self._threads = threads
        self._peers: frozenset[PeerId] | None = None  # None: read again at the next look-up
        self.reads = 0  # how often the ACLs were read (tests: not once per look-up)

    def __contains__(self, peer: object) -> bool:
        if self._peers is None:
            found: set[PeerId] = set()
            for thread_id in self._threads.thread_ids():
                found |= self._threads.acl_peers(thread_id)
            found.discard(self._threads.identity.peer_id)
            self._peers = frozenset(found)
            self.reads += 1
        return peer in self._peers

    def changed(self, changes: ChangeSet) -> None:
        if changes.membership or changes.devices or changes.threads_added or changes.threads_removed:
            self._peers = None

    def forget(self) -> None:
        """Read again at the next look-up (the node may have changed while we were offline)."""
        self._peers = None
