"""The names members give themselves in a thread, who wrote through which
log, and the membership notices (issue 16) that name them."""

from __future__ import annotations

import logging
from collections.abc import Callable

from threads_desktop.engine.acl import notices
from threads_desktop.engine.acl.control_ops import Bind
from threads_desktop.engine.acl.gate import AccessGate
from threads_desktop.engine.acl.membership import Membership
from threads_desktop.engine.acl.notices import Removal, ThreadNotices
from threads_desktop.engine.core.errors import ThreadsError
from threads_desktop.engine.core.ids import PeerId, ThreadId, ThreadVariant
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import AuthorDevice
from threads_desktop.engine.db.collections import ThreadCollections
from threads_desktop.engine.logstore.database import Database
from threads_desktop.engine.logstore.store import LogStore
from threads_desktop.engine.modules import profiles
from threads_desktop.engine.threads import ThreadDirectory

log = logging.getLogger(__name__)


class MemberNames:
    """Node's names: our own, told to each thread we may write to, and others'."""

    def __init__(self, database: Database, store: LogStore, gate: AccessGate, membership: Membership,
                 directory: ThreadDirectory, collections: Callable[[ThreadId], ThreadCollections],
                 held_thread_ids: Callable[[], list[ThreadId]]) -> None:
        self._database = database
        self._store = store
        self._gate = gate
        self._membership = membership
        self._directory = directory
        self._collections = collections
        self._held_thread_ids = held_thread_ids
        self._display_name = profiles.display_name(database)

    def display_name(self) -> str:
        """The name this profile gives itself ("" for none)."""
        return self._display_name

    def set_display_name(self, name: str) -> None:
        """Keep the name and tell it to every thread we may write to (an
        empty name takes it back). InvalidInputError for a bad name."""
        name = profiles.clean_display_name(name)
        profiles.store_display_name(self._database, name)
        self._display_name = name
        for thread_id in self._directory.ids():
            self.tell_name(thread_id)

    def person_name(self) -> str:
        """Our name, or else the one another device of ours told a thread."""
        for thread_id in [] if self._display_name else self._held_thread_ids():
            try:
                name = self.member_names(thread_id).get(self._membership.me)
            except ThreadsError:  # a thread we only follow: its names are sealed from us
                continue
            if name:
                return name
        return self._display_name

    def author_names(self, thread_id: ThreadId) -> dict[str, str]:
        """Author (log ID in the thread, as documents name them) -> the name
        that member gives itself there."""
        return {str(log_id): name for log_id, name in profiles.names_by_log(self._collections(thread_id)).items()}

    def author_members(self, thread_id: ThreadId) -> dict[str, str]:
        """Author (log ID in the thread) -> the member (peer ID) that log is
        bound to. Empty for a thread without access control, where a log is
        known by itself only."""
        if thread_id.variant is not ThreadVariant.ACCESS_CONTROLLED:
            return {}
        bindings = self._gate.evaluation(thread_id).bindings
        return {str(PeerId(log_raw)): binding.member for log_raw, binding in bindings.items()}

    def author_devices(self, thread_id: ThreadId) -> dict[str, AuthorDevice]:
        """Author (log ID) -> its person, its device, the device's name from
        the certificate its log was bound with (None: a person's first
        device) and whether it was removed: a person writes through one log
        per device (issue 19; persons-ui's hook, for the members dialog's and
        the chat's "on which devices")."""
        if thread_id.variant is not ThreadVariant.ACCESS_CONTROLLED:
            return {}
        evaluation = self._gate.evaluation(thread_id)
        removed = evaluation.removals.removed_devices()
        names = {str(op.cert.device): op.cert.name for event in evaluation.events for op in event.ops
                 if isinstance(op, Bind) and op.cert is not None}
        return {str(PeerId(log_raw)): AuthorDevice(b.member, b.device, names.get(b.device), b.device in removed)
                for log_raw, b in evaluation.bindings.items()}

    def member_names(self, thread_id: ThreadId) -> dict[str, str]:
        """Peer ID -> the name that member gives itself in the thread
        (cleaned; members who gave none are left out)."""
        evaluation = self._gate.evaluation(thread_id)
        names: dict[str, str] = {}
        for log_id, name in profiles.names_by_log(self._collections(thread_id)).items():
            member = evaluation.identity_of(log_id.raw)
            if member is not None:
                names[member] = name
        return names

    def membership_notices(self, thread_id: ThreadId) -> ThreadNotices:
        """Who joined, was added, removed or given another role, who left,
        oldest first, with the names they give themselves in the thread."""
        me = self._membership.me  # our person
        if thread_id.variant is not ThreadVariant.ACCESS_CONTROLLED:
            self._store.thread_keys(thread_id)  # NotFoundError for a thread not here
            return ThreadNotices((), {}, me)
        found = tuple(notices.membership_notices(self._gate.evaluation(thread_id)))
        named = {p for n in found for p in (n.actor, n.subject, n.by_invite_of) if p is not None}
        try:
            names = {peer: name for peer, name in self.member_names(thread_id).items() if peer in named}
        except ThreadsError:  # a thread we only follow: its names are sealed from us
            names = {}
        return ThreadNotices(found, names, me)

    def removal(self, thread_id: ThreadId) -> Removal | None:
        """Whether an admin took our right to write (or every right) here."""
        if thread_id.variant is not ThreadVariant.ACCESS_CONTROLLED:
            return None
        return notices.removal(self._gate.evaluation(thread_id), self._membership.me)

    def tell_name(self, thread_id: ThreadId) -> bool:
        """Write our name into the thread if it does not hold it yet. True
        if it wrote; False if it had it or we may not write there."""
        own_log = self._store.own_log(thread_id)
        if own_log is None or not self.may_write(thread_id, role=Role.READ):  # readers tell their names too
            return False
        try:
            return profiles.publish_name(self._collections(thread_id), own_log, self._display_name)
        except ThreadsError as exc:  # a name is never worth failing what called us
            log.info("could not write our name to %s: %s", thread_id, exc)
            return False

    def may_write(self, thread_id: ThreadId, role: Role = Role.WRITE) -> bool:
        if thread_id.variant is not ThreadVariant.ACCESS_CONTROLLED:
            return self._store.thread_keys(thread_id)[0].can_read
        if self._membership.pending_join(thread_id)[0]:
            return False
        return role in self._membership.roles(thread_id)
