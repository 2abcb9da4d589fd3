"""Several real profiles writing to one thread, and moving records between
them the way sync will (by log, oldest first)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from threads_desktop.engine.acl.admission import AdmissionAnswer, AdmissionRequest
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.core.errors import ThreadsError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.keys import ThreadKey
from threads_desktop.engine.core.members import AdmissionStatus, Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.db.models import bound_id
from threads_desktop.engine.eventstore.store import AppliedChanges
from threads_desktop.engine.logstore.envelopes import Envelope, open_event
from threads_desktop.engine.logstore.store import NewEvent
from threads_desktop.engine.node import Node


class WallClock:
    """The wall clock of the profiles a test opens, moved by hand: what a
    profile stamps after `advance` sorts after what any of them stamped
    before (in place of sleeping until the real clock ticks)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def start_thread(owner: Node, kind: ThreadKind = ThreadKind.CHAT, name: str = "Us") -> ThreadId:
    return owner.create_thread(kind, name).thread_id


def join(owner: Node, member: Node, thread_id: ThreadId, *, write: bool = True, role: Role | None = None) -> None:
    """`member` joins through a link `owner` made: it takes the link, asks
    `owner` to admit it (in process: the network part is engine/net/
    joining.py), gets the admit event, writes its bind, and `owner` applies it."""
    link = owner.membership.invite(thread_id, role or (Role.WRITE if write else Role.READ))
    member.membership.join(InviteLink.parse(link.to_uri()))
    answer = admit(owner, member, thread_id)
    assert answer.status is AdmissionStatus.ADMITTED, answer
    sync(owner, member, thread_id)
    assert member.membership.pending_join(thread_id) == (False, None)
    sync(member, owner, thread_id)


def join_with(admin: Node, joiner: Node, link: InviteLink) -> ThreadId:
    """`joiner` joins by `link` as the app does (Node.join) and `admin`
    admits it in process; sync (the test's, or the network's) does the rest."""
    thread_id = joiner.join(link)
    answer = admit(admin, joiner, thread_id)
    assert answer.status is AdmissionStatus.ADMITTED, answer
    return thread_id


def admit(admin: Node, joiner: Node, thread_id: ThreadId, name: str | None = None) -> AdmissionAnswer:
    """The admission of a pending join, between two profiles in process:
    the joiner's request, the admin's answer, the joiner taking it. Bytes
    both ways, as the network carries them."""
    request = AdmissionRequest.from_bytes(joiner.membership.admission_request(thread_id, name).to_bytes())
    answer = AdmissionAnswer.from_bytes(admin.membership.answer_admission(request, peer(joiner)).to_bytes())
    joiner.take_admission(thread_id, answer, peer(admin))
    return answer


def with_second_admin(open_node: Callable[[str], Node]) -> tuple[Node, Node, Node, ThreadId]:
    """a founds a chat; b and c join as writers; a makes b an admin too;
    everyone has seen everything."""
    a, b, c = open_node("a"), open_node("b"), open_node("c")
    thread_id = start_thread(a)
    join(a, b, thread_id)
    join(a, c, thread_id)
    a.membership.grant(thread_id, peer(b), Role.WRITE, "acl")
    sync(a, b, thread_id)
    sync(a, c, thread_id)
    return a, b, c, thread_id


def force_commit(node: Node, thread_id: ThreadId, payloads: Sequence[Any], *, control: bool = False,
                 apply_locally: bool = True) -> None:
    """Write what a modified client would: logged whatever the ACL says (the
    real commit refuses it and writes nothing), so peers must refuse it.
    Without `apply_locally`, its own profile does not even apply it."""
    own_log = node.store.own_log(thread_id)
    deps = tuple((log, seq) for log, seq in node.events.frontier(thread_id) if log != own_log)
    clock = node._services.clock  # a test reaching in: no real client bypasses the ACL
    with node.database.write():
        appended = node.store.append_many(thread_id, [NewEvent(p, clock.tick(), deps, control) for p in payloads])
        if apply_locally:
            node.events.add(thread_id, [(a.log_id, a.seq, a.envelope) for a in appended], AppliedChanges())


def peer(node: Node) -> str:
    """The member (identity) ID of a profile."""
    return str(node.identity.peer_id)


def texts(node: Node, thread_id: ThreadId) -> list[str]:
    """The chat's message texts, sorted."""
    return sorted(m.data["text"] for m in node.chat(thread_id).messages.find())


def message_id(node: Node, thread_id: ThreadId, n: int) -> str:
    """The ID of a message `node` creates (IDs are bound to their author's log)."""
    own_log = node.store.own_log(thread_id)
    assert own_log is not None
    return bound_id(own_log, n.to_bytes(8, "big"))


def envelopes_of(node: Node, thread_id: ThreadId) -> list[Envelope]:
    """Every record `node` holds in the thread, log by log, oldest first."""
    return [r.envelope for log in node.store.logs(thread_id)
            for r in node.store.records_after(thread_id, log.log_id, 0, limit=1_000_000)]


def sync(source: Node, target: Node, thread_id: ThreadId) -> None:
    target.receive(thread_id, envelopes_of(source, thread_id))


def view_dump(node: Node, thread_id: ThreadId) -> list[tuple[object, ...]]:
    """The thread's views, row by row, in a canonical order."""
    rows: list[tuple[object, ...]] = []
    for table, order in (("documents", "collection, id"), ("fields", "collection, id, field"),
                         ("document_authors", "collection, id, log_id"),
                         ("document_index", "collection, field, value, id")):
        rows += [(table, *row) for row in node.database.connection.execute(
            f"SELECT * FROM {table} WHERE thread_id = ? ORDER BY {order}", (thread_id.raw,))]
    return rows


def newest_record_opens_with(node: Node, thread_id: ThreadId, keys: Sequence[ThreadKey]) -> bool:
    """Whether `keys` (those a removed member holds, say) open the newest
    event of `node`'s own log."""
    own_log = node.store.own_log(thread_id)
    assert own_log is not None
    seq = next(h.seq for h in node.store.logs(thread_id) if h.log_id == own_log)
    [newest] = node.store.records_after(thread_id, own_log, seq - 1, limit=1)
    try:
        open_event(newest.envelope.header, newest.envelope.body, keys)
    except ThreadsError:
        return False
    return True
