"""The answering side of a sync session: one stream, requests one at a time.

A session starts with `hello` (proofs, see proofs.py); only the threads it
proved may be named afterwards. Every request is parsed strictly; a request
that breaks the protocol ends the session, one that is refused (unknown
thread, access) gets an error reply and the session goes on. Node calls run
on the engine thread between awaits, so requests never interleave inside the
node.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol

from threads_desktop.engine.core.errors import ProtocolError, ThreadsError
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.core.keys import ThreadKey
from threads_desktop.engine.logstore.store import LogHead
from threads_desktop.engine.net import budgets, proofs, wire
from threads_desktop.engine.net.addresses import MAX_SHARED, capped
from threads_desktop.engine.net.paging import (
    MAX_CERT_BYTES,
    MAX_CIDS,
    MAX_LOGS,
    MAX_MESSAGE_BYTES,
    MAX_PAGE_RECORDS,
    MAX_PEERS,
    MAX_PROOFS,
    MAX_REMOVALS,
    MAX_SEQ,
    PAGE_BYTES,
    log_position,
    record_page,
)
from threads_desktop.engine.net.ports import ThreadStore
from threads_desktop.engine.net.turns import MembersFirst
from threads_desktop.engine.net.wire import (
    as_bytes,
    as_cid,
    as_envelope,
    as_int,
    as_list,
    as_peer_id,
    as_text,
    as_thread_id,
    only,
)
from threads_desktop.engine.net.wire import (
    field as get,
)

log = logging.getLogger(__name__)

ADDRESS_TTL_SECONDS = 3600
# A token bucket per peer, shared by all its sessions (a stream is cheap to
# open): a flood of requests gets errors, cheaply.
REQUESTS_PER_SECOND = 200.0
REQUEST_BURST = 400.0
MAX_IDLE_BUCKETS = 256
MAX_SESSIONS_PER_PEER = 8  # buckets of peers without a session, kept while they refill
NOT_A_MEMBER = "not a member of this thread any more"
MAX_CAPPED_HEADS = 64
# Per log, the last seq a peer refused sync may fetch (ports.ThreadStore.told).
Cap = Mapping[PeerId, int]


class SessionStream(wire.ByteStream, Protocol):
    async def reset(self) -> None: ...


async def _refuse(stream: SessionStream, text: str) -> None:
    """Say why, then reset: what the peer still sends is dropped at once
    (py-libp2p's yamux would keep up to 16 MiB of it per stream, unread)."""
    await stream.write(wire.frame(wire.reply_error(text)))
    await stream.close()
    await stream.reset()


@dataclass
class _Bucket:
    tokens: float = REQUEST_BURST
    refilled: float = field(default_factory=time.monotonic)
    sessions: int = 0  # open sessions of the peer

    def take_token(self) -> bool:
        now = time.monotonic()
        self.tokens = min(REQUEST_BURST, self.tokens + (now - self.refilled) * REQUESTS_PER_SECOND)
        self.refilled = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def idle(self, now: float) -> bool:
        """No session open, and full again: forgetting it forgives nothing."""
        return not self.sessions and self.tokens + (now - self.refilled) * REQUESTS_PER_SECOND >= REQUEST_BURST


@dataclass
class _Session:
    remote: PeerId
    bucket: _Bucket
    # With the key the peer proved; a peer refused sync but owed its verdict
    # (removed, left, a lost join) proves too, and is served only its cap.
    proven: dict[ThreadId, ThreadKey] = field(default_factory=dict)
    slot: budgets.SessionSlot | None = None
    # How far it pulled our own log, per thread: known to be in its hands once
    # it asks anything more (requests go one at a time, replies are read in order).
    pulled: dict[ThreadId, int] = field(default_factory=dict)


class SyncServer:
    """Answers sessions for one node (seen through `threads`). `known_peers(thread, asker)` lists peers worth
    telling the asker about (with addresses); `on_records(thread, peer)` hears
    of records a peer pushed that we did not have, so they can be relayed."""

    def __init__(self, threads: ThreadStore, me: PeerId,
                 known_peers: Callable[[ThreadId, PeerId], list[tuple[PeerId, list[str]]]],
                 on_records: Callable[[ThreadId, PeerId], None],
                 on_session: Callable[[PeerId, ThreadId, list[str]], None],
                 on_invite: Callable[[PeerId], None], node_budgets: budgets.Budgets | None = None,
                 on_broken: Callable[[PeerId], None] = lambda _: None,
                 members_first: MembersFirst | None = None) -> None:
        self._threads = threads
        self._members_first = members_first or MembersFirst()
        self._on_broken = on_broken  # a stranger's session broke the protocol or was refused (admission counts it)
        self._me = me
        self._known_peers = known_peers
        self._on_records = on_records
        self._on_session = on_session
        self._on_invite = on_invite
        self._buckets: dict[PeerId, _Bucket] = {}
        # Capped heads by (thread, cap): logs only grow, so what stood at a
        # cap never changes; a removed peer asking heads again costs a lookup,
        # not one query per log.
        self._capped: dict[tuple[ThreadId, frozenset[tuple[PeerId, int]]], list[LogHead]] = {}
        self._budgets = node_budgets or budgets.Budgets(lambda peer: bool(threads.peers.threads_of(peer)))

    def _bucket(self, peer: PeerId) -> _Bucket:
        bucket = self._buckets.get(peer)
        if bucket is None:
            if len(self._buckets) >= MAX_IDLE_BUCKETS:
                now = time.monotonic()
                self._buckets = {p: b for p, b in self._buckets.items() if not b.idle(now)}
            bucket = self._buckets[peer] = _Bucket()
        return bucket

    async def serve(self, stream: SessionStream, remote: PeerId, address: str = "") -> None:
        """Run one session until the peer closes it, breaks the protocol, or
        idles; `address` is the peer's IP address (for the budgets)."""
        session = _Session(remote, self._bucket(remote))
        if session.bucket.sessions >= MAX_SESSIONS_PER_PEER:
            self._refused(remote)
            await _refuse(stream, "too many sessions open")
            return
        slot = self._budgets.open_session(remote, address)
        if isinstance(slot, str):
            self._refused(remote)
            await _refuse(stream, slot)
            return
        session.slot = slot
        session.bucket.sessions += 1
        limits = self._budgets.limits
        reader = wire.MessageReader(stream, limits.stranger_message_bytes if slot.stranger else MAX_MESSAGE_BYTES,
                                    budgets=self._budgets, address=address)
        try:
            with slot.scope:  # cancelled when a newer stranger takes its place (budgets.py)
                while True:
                    try:
                        message = await reader.read(limits.stranger_idle_seconds if slot.stranger
                                                    else limits.member_idle_seconds)
                    except ProtocolError as exc:
                        slot.release()  # its place is free while the refusal goes out
                        if slot.stranger:
                            self._on_broken(remote)
                        await _refuse(stream, str(exc))
                        return
                    if message is None:
                        return
                    # A member's request goes first: strangers' reads wait meanwhile (turns.py).
                    with nullcontext() if slot.stranger else self._members_first.serving():
                        if not session.bucket.take_token():
                            reply = wire.reply_error("too many requests: slow down")
                        else:
                            try:
                                reply = self._answer(session, message)
                            except ProtocolError as exc:
                                slot.release()
                                if slot.stranger:
                                    self._on_broken(remote)
                                await _refuse(stream, str(exc))
                                return
                            except ThreadsError as exc:
                                reply = wire.reply_error(str(exc))
                        if session.proven and slot.stranger:  # a member now: members' budgets from here on
                            slot.become_member()
                            reader.limit = MAX_MESSAGE_BYTES
                        slot.answered = True
                        await _send(stream, reply)
            if slot.scope.cancelled_caught:
                self._on_broken(remote)  # a stranger's session pushed out: re-opened at once, it is a carousel
                await _refuse(stream, "busy: too many sessions of unknown peers, try again later")
        finally:
            slot.release()
            session.bucket.sessions -= 1
            await stream.close()

    def _refused(self, remote: PeerId) -> None:
        """A session refused at its opening counts, for a stranger, as one
        it broke (admission holds off a stranger past its share of them):
        under bench hostile's attack most strangers' sessions were refused
        or pushed out before their first read, never broke anything, and
        were re-opened at once, round and round (profile: ~60% of serve's
        time in their stream negotiations and refusals)."""
        if not self._budgets.is_member(remote):
            self._on_broken(remote)

    # --- requests -------------------------------------------------------------------------

    def _answer(self, session: _Session, message: dict[str, Any]) -> dict[str, Any]:
        pulled, session.pulled = session.pulled, {}
        for thread_id, seq in pulled.items():
            self._threads.peer_has_our_log(thread_id, session.remote, seq)
        kind = message["t"]
        handler = {
            "hello": self._hello, "heads": self._heads, "records": self._records, "push": self._push,
            "inventory": self._inventory, "blocks": self._blocks, "invite": self._invite, "card": self._card,
        }.get(kind)
        if handler is None:
            raise ProtocolError(f"unknown request {kind[:40]!r}")
        return handler(session, message)

    def _hello(self, session: _Session, message: dict[str, Any]) -> dict[str, Any]:
        only(message, "nonce", "proofs", "addrs", "cert", "removals")
        nonce = get(message, "nonce", as_bytes(wire.NONCE_LENGTH))
        # Where the asker listens, in its own word (hints, kept for an hour).
        addresses = get(message, "addrs", as_list(as_text(256), 8)) if "addrs" in message else []
        asked = get(message, "proofs", as_list(as_bytes(wire.MAC_LENGTH), MAX_PROOFS))
        thread_ids = self._threads.thread_ids()
        # Checked before any key is read: a refused hello costs next to nothing.
        if not self._budgets.hello_work(session.remote, len(thread_ids)):
            raise ThreadsError("busy: too many hellos, try again later")
        # A device of a person (issue 19) says which person: judged only for a
        # thread it proves, before it is admitted there (a stranger's costs nothing).
        cert = get(message, "cert", as_bytes(max_length=MAX_CERT_BYTES)) if "cert" in message else None
        # Its person's device removals (issue 19), judged once its certificate
        # was (below): the device removed is refused from the next request on.
        removed = get(message, "removals", as_list(as_bytes(max_length=MAX_CERT_BYTES), MAX_REMOVALS)) \
            if "removals" in message else []
        held = [(thread_id, self._threads.thread_keys(thread_id)) for thread_id in thread_ids]
        matches = []
        access: dict[ThreadId, Cap | None] = {}

        def admit(thread_id: ThreadId, key: ThreadKey) -> bool:
            if cert is not None:
                self._threads.peer_device_cert(session.remote, cert, thread_id)
            access[thread_id] = self._access(thread_id, session.remote, key)
            return access[thread_id] != {}

        # A thread we refuse this peer, with nothing to tell it, is refused
        # exactly like one we do not hold.
        admitted = proofs.match_proofs(asked, held, session.remote, self._me, nonce, admit=admit)
        for index, (thread_id, key) in admitted.items():
            session.proven[thread_id] = key
            cap = access[thread_id]
            if cap is None:  # a member: it is known to share the thread
                self._budgets.proved(session.remote)
                self._on_session(session.remote, thread_id, addresses)
            match = [index, proofs.answer_proof(key, thread_id, session.remote, self._me, nonce),
                     proofs.edge(self._heads_for(thread_id, cap))]
            lent = self._threads.lendable_keys(thread_id, session.remote, key) if cap is None else []
            if lent:  # a member behind a rotation (a device restored from an old backup)
                match.append([[k.epoch, k.follow, k.read] for k in lent])
            matches.append(match)
        if removed:
            self._threads.peer_device_removals(session.remote, removed)
        cert, removals = self._threads.device_cert(), self._threads.device_removals()
        return wire.reply_ok("hello", matches=matches, **({"cert": cert} if cert is not None else {}),
                             **({"removals": removals} if removals else {}))

    def _access(self, thread_id: ThreadId, peer: PeerId, key: ThreadKey) -> Cap | None:
        """None: the peer may sync the thread. Otherwise its cap: what it may
        still fetch to learn why it may not (empty: nothing)."""
        if not self._threads.holds(thread_id):
            return {}
        if self._threads.admits(thread_id, peer, key):
            return None
        return self._threads.told(thread_id, peer)

    def _heads_for(self, thread_id: ThreadId, cap: Cap | None) -> list[LogHead]:
        """Our heads, or where they stood at the cap's end."""
        heads = self._threads.heads(thread_id)
        if cap is None:
            return heads
        key = (thread_id, frozenset(cap.items()))
        known = self._capped.get(key)
        if known is not None:
            return known
        capped = []
        for head in heads:
            seq = min(head.seq, cap.get(head.log_id, 0))
            if seq == head.seq:
                capped.append(head)
            elif seq > 0:
                record = self._threads.records_after(thread_id, head.log_id, seq - 1, 1)
                if record:
                    capped.append(LogHead(head.log_id, record[0].record_cid, seq, False))
        if len(self._capped) >= MAX_CAPPED_HEADS:
            self._capped.clear()
        self._capped[key] = capped
        return capped

    def _thread(self, session: _Session, message: dict[str, Any]) -> ThreadId:
        """The thread a request names, which the peer may sync in full."""
        thread_id, cap = self._thread_and_cap(session, message)
        if cap is not None:
            raise ThreadsError(NOT_A_MEMBER)
        return thread_id

    def _thread_and_cap(self, session: _Session, message: dict[str, Any]) -> tuple[ThreadId, Cap | None]:
        """The thread a request names, and the peer's cap in it (None: none).
        Access is checked again on every request: a member removed during a
        session is capped at once, and one let back in is no longer."""
        thread_id: ThreadId = get(message, "thread", as_thread_id)
        key = session.proven.get(thread_id)
        cap = {} if key is None else self._access(thread_id, session.remote, key)
        if cap == {}:
            raise ThreadsError("no such thread in this session (say hello with a proof first)")
        return thread_id, cap

    def _heads(self, session: _Session, message: dict[str, Any]) -> dict[str, Any]:
        only(message, "thread")
        thread_id, cap = self._thread_and_cap(session, message)
        heads = [[h.log_id.raw, h.seq, h.head] for h in self._heads_for(thread_id, cap) if h.seq]
        # Where members are is for members.
        peers = [] if cap is not None else [[peer.raw, capped(addresses, MAX_SHARED)]
                                            for peer, addresses in self._known_peers(thread_id, session.remote)
                                            if peer != session.remote][:MAX_PEERS]
        return wire.reply_ok("heads", heads=heads[:MAX_LOGS], peers=peers, ttl=ADDRESS_TTL_SECONDS)

    def _records(self, session: _Session, message: dict[str, Any]) -> dict[str, Any]:
        only(message, "thread", "log", "after")
        thread_id, cap = self._thread_and_cap(session, message)
        log_id = get(message, "log", as_peer_id)
        after = get(message, "after", as_int(0, MAX_SEQ))
        position = log_position(self._threads.heads(thread_id), log_id)
        limit = MAX_PAGE_RECORDS
        if cap is not None:  # nothing past the cap, not one record
            position = min(position, cap.get(log_id, 0))
            limit = max(0, min(limit, position - after))
        found = self._threads.records_after(thread_id, log_id, after, limit) if limit else []
        records = [wire.envelope_value(stored.envelope) for stored in record_page(found)]
        if records and cap is None and log_id == self._threads.own_log(thread_id):
            session.pulled[thread_id] = after + len(records)
        return wire.reply_ok("records", records=records, more=after + len(records) < position)

    def _push(self, session: _Session, message: dict[str, Any]) -> dict[str, Any]:
        only(message, "thread", "records")
        thread_id, cap = self._thread_and_cap(session, message)
        envelopes = get(message, "records", as_list(as_envelope, MAX_PAGE_RECORDS))
        if cap is not None:
            # Refused as a whole, but answered: its client pushes before it
            # pulls, and must go on to pull the events that say why.
            return wire.reply_ok("push", added=0, refused=[[i, NOT_A_MEMBER] for i in range(len(envelopes))][:16])
        outcomes = self._threads.receive(thread_id, envelopes)
        added = sum(1 for o in outcomes if not isinstance(o, ThreadsError) and o.value == "added")
        refused = [[i, str(o)[:200]] for i, o in enumerate(outcomes) if isinstance(o, ThreadsError)][:16]
        if added:
            self._on_records(thread_id, session.remote)
        return wire.reply_ok("push", added=added, refused=refused)

    def _inventory(self, session: _Session, message: dict[str, Any]) -> dict[str, Any]:
        only(message, "thread", "after")
        thread_id, cap = self._thread_and_cap(session, message)
        after = get(message, "after", as_int(0, MAX_SEQ))
        if cap is not None:  # no blocks for a peer refused sync; an empty list ends its pass quietly
            return wire.reply_ok("inventory", blocks=[], next=after, more=False)
        page = self._threads.blobs(thread_id).inventory(after, MAX_CIDS)
        return wire.reply_ok("inventory", blocks=[[e.cid, e.blob, e.size, e.priority] for _, e in page],
                             next=page[-1][0] if page else after, more=len(page) == MAX_CIDS)

    def _blocks(self, session: _Session, message: dict[str, Any]) -> dict[str, Any]:
        only(message, "thread", "cids")
        thread_id = self._thread(session, message)
        cids = get(message, "cids", as_list(as_cid, MAX_CIDS))
        return wire.reply_ok("blocks", blocks=self._threads.blobs(thread_id).read_blocks(cids, PAGE_BYTES))

    def _invite(self, session: _Session, message: dict[str, Any]) -> dict[str, Any]:
        only(message, "sealed")
        sealed = get(message, "sealed", as_bytes(max_length=8192))
        self._threads.receive_invite(sealed)
        self._on_invite(session.remote)
        return wire.reply_ok("invite")


    def _card(self, session: _Session, message: dict[str, Any]) -> dict[str, Any]:
        """Our X25519 public key, to seal a direct invite to us (public anyway)."""
        only(message)
        return wire.reply_ok("card", exchange=self._threads.identity.exchange_public_key())


async def _send(stream: SessionStream, reply: dict[str, Any]) -> None:
    if reply["t"] == "blocks":  # the bulk of a transfer: written as it was read, not copied into one buffer
        for part in wire.blocks_frame(reply["blocks"]):
            await stream.write(part)
    else:
        await stream.write(wire.frame(reply))
