"""Leaving a thread and being told (issue 16): our Leave event, the thread
hidden until a member holds it, then its rows gone (engine/leave.py sweeps
them); what a refused peer may still fetch so that it learns why."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from threads_desktop.engine import leave
from threads_desktop.engine.acl import verdicts
from threads_desktop.engine.acl.gate import AccessGate
from threads_desktop.engine.acl.membership import Membership
from threads_desktop.engine.core.errors import NotFoundError
from threads_desktop.engine.core.ids import PeerId, ThreadId, ThreadVariant
from threads_desktop.engine.core.lifecycle import ThreadForgetters
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ChangeSet
from threads_desktop.engine.eventstore.broadcast import Broadcaster, change_set
from threads_desktop.engine.eventstore.committer import Committer
from threads_desktop.engine.logstore.database import Database
from threads_desktop.engine.logstore.store import LogStore
from threads_desktop.engine.threads import ThreadDirectory

log = logging.getLogger(__name__)


class ThreadLeaving:
    """Node's leaving: leave_thread, peer_has_our_log, and what a refused
    peer is still told (acl/verdicts.py)."""

    def __init__(self, database: Database, store: LogStore, directory: ThreadDirectory, membership: Membership,
                 gate: AccessGate, committer: Committer, forgetters: ThreadForgetters, broadcaster: Broadcaster,
                 now_seconds: Callable[[], float]) -> None:
        self._database = database
        self._store = store
        self._directory = directory
        self._membership = membership
        self._gate = gate
        self._committer = committer
        self._forgetters = forgetters
        self._broadcaster = broadcaster
        self._now_seconds = now_seconds
        self._sync_caps = verdicts.SyncCaps()  # a refused peer's cap, until the ACL changes

    def leave_thread(self, thread_id: ThreadId) -> bool:
        """Leave the thread. True: it is gone from this profile now. False:
        our Leave event is written and the thread hidden (not listed, no
        writes) until a member holds that event; then its rows go
        (`peer_has_our_log`), or after 30 days anyway (engine/leave.py).
        Gone at once, with no event: a thread without access control, one we
        were removed from ("remove from this device": we may not write any
        more), one we never got into, one we are the only member of. A
        pending join of a thread not here yet is cancelled. Leaving again
        changes nothing. AccessDeniedError (nothing changed) for the last
        admin while others remain."""
        if not self._directory.holds(thread_id):
            if self._membership.join_state(thread_id) is None:
                raise NotFoundError(f"thread {thread_id} is not in this profile")
            self._membership.forget_join(thread_id)
            self._broadcaster.publish(ChangeSet(membership=frozenset({thread_id})))
            return True
        if leave.leaving_event(self._database, thread_id) is not None:
            return False
        own_log = self._store.own_log(thread_id)
        if own_log is None or not self._others_to_tell(thread_id, own_log):
            self.delete_thread(thread_id)
            return True
        with self._committer.batched() as changes, self._database.write():
            self._membership.leave(thread_id)
            seq = next(h.seq for h in self._store.logs(thread_id) if h.log_id == own_log)
            leave.start_leaving(self._database, thread_id, own_log, seq, int(self._now_seconds()))
        # Views close and the list drops it; the network pushes the Leave.
        self._broadcaster.publish(replace(
            change_set(changes, threads_updated=frozenset(changes.threads) | {thread_id}),
            threads_removed=frozenset({thread_id})))
        return False

    def _others_to_tell(self, thread_id: ThreadId, own_log: PeerId) -> bool:
        """Is there a member who should learn that we leave, and may we tell it?"""
        if thread_id.variant is not ThreadVariant.ACCESS_CONTROLLED:
            return False  # no ACL to say it in
        if not any(h.log_id == own_log and h.seq for h in self._store.logs(thread_id)):
            return False  # we never wrote a thing: not even our bind
        evaluation = self._gate.evaluation(thread_id)
        if self._membership.device in evaluation.removals.removed_devices():
            return False  # another device of our person removed this one: we may not write (issue 19)
        book, me = evaluation.current(), self._membership.me
        if Role.FOLLOW not in book.roles(me):
            return False  # removed, or never let in: we may not write
        return any(member != me and Role.FOLLOW in book.roles(member) for member in book.members())

    def peer_has_our_log(self, thread_id: ThreadId, peer: PeerId, seq: int) -> bool:
        """The network saw `peer` hold our log in the thread up to `seq` (it
        pulled it from us, or its heads say so). A thread we are leaving goes
        once a member holds our Leave. True if it went."""
        leaving = leave.leaving_event(self._database, thread_id)
        if leaving is None or seq < leaving[1]:
            return False
        if Role.FOLLOW not in self._membership.roles(thread_id, str(peer)):
            return False  # only a member passes it on to the others
        self.delete_thread(thread_id)
        return True

    def told(self, thread_id: ThreadId, peer: PeerId) -> dict[PeerId, int]:
        """What a peer refused sync (removed, left, a lost join) may still be
        served of the thread, per log: the signed events that decided it and
        their past, so that its own app learns it (acl/verdicts.py)."""
        evaluation = self._gate.evaluation(thread_id)
        cap = self._sync_caps.cap(thread_id, evaluation, str(peer))
        for log_raw, seq in evaluation.removals.told(str(peer)).items():  # a device its person removed
            cap[PeerId(log_raw)] = max(cap.get(PeerId(log_raw), 0), seq)
        return cap

    def forget_leaving(self, thread_id: ThreadId) -> None:
        """Joining again a thread we are leaving: what is left of our stay
        goes first (we come back with a new log, as after any leave)."""
        if leave.leaving_event(self._database, thread_id) is not None:
            self.delete_thread(thread_id)

    def drop_stale_leaving(self) -> None:
        for thread_id in leave.stale_leaving(self._database, int(self._now_seconds())):
            log.info("deleting %s: nobody fetched our leaving it in %d days", thread_id, leave.LEAVING_DAYS)
            self.delete_thread(thread_id)

    def delete_thread(self, thread_id: ThreadId) -> None:
        """Forget the thread: its logs, events, views, keys, ACL state, peers
        and photo blocks (those no other thread names), in one transaction."""
        with self._database.write():
            leave.delete_thread_rows(self._database, thread_id)
            # What the parts hold of those rows in memory: the log store's
            # keys and log would hand a rejoin the old log, the gate's
            # evaluation the old ACL; the network's work would write again.
            self._forgetters.forget(thread_id)
        self._broadcaster.publish(ChangeSet(threads_removed=frozenset({thread_id})))
