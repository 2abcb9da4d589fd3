"""The asking side of a sync session: hello, then per thread heads, push
what the peer lacks, pull what we lack, and blob blocks."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import trio

from threads_desktop.engine.core.errors import IntegrityError, NotFoundError, PeerError, ProtocolError, ThreadsError
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.core.keys import ThreadKey
from threads_desktop.engine.logstore.blobs import BlockEntry
from threads_desktop.engine.logstore.store import IngestOutcome
from threads_desktop.engine.net import proofs, wire
from threads_desktop.engine.net.addresses import MAX_SHARED, capped
from threads_desktop.engine.net.blockreplies import BlockReplies
from threads_desktop.engine.net.paging import (
    MAX_CERT_BYTES,
    MAX_CIDS,
    MAX_LOGS,
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
from threads_desktop.engine.net.wire import (
    as_block_entry,
    as_bytes,
    as_envelope,
    as_int,
    as_list,
    as_peer_id,
    as_text,
)
from threads_desktop.engine.net.wire import (
    field as get,
)

log = logging.getLogger(__name__)

MAX_ROUNDS = 4  # a round may bring keys that open what the last one refused
PIPELINE_DEPTH = 4
SLOW_DOWN_RETRIES = 8
MAX_INVENTORY = 250_000  # entries taken from one peer per pass (~40,000 photos)


@dataclass
class SyncResult:
    pulled: int = 0
    pushed: int = 0
    refused: int = 0


@dataclass
class LastKnown:
    """What a peer last told us of the threads it shares, kept across its
    sessions: a reconnection (a simultaneous dial replaces the connection)
    would otherwise blank the Devices view's "in sync" until the new
    session has compared. For showing only: what a session may do follows
    its own proofs (`ClientSession.edges`)."""

    edges: dict[ThreadId, bytes] = field(default_factory=dict)  # its edge per thread, as last proved or synced
    heads: dict[ThreadId, dict[PeerId, int]] = field(default_factory=dict)  # its log positions, as last told

    def forget(self, thread_id: ThreadId) -> None:
        self.edges.pop(thread_id, None)
        self.heads.pop(thread_id, None)


@dataclass(frozen=True)
class Progress:
    """Blob transfer of one thread from one peer, in bytes."""

    thread_id: ThreadId
    peer: PeerId
    done: int
    total: int


class ClientSession:
    """One session stream we opened to `remote`."""

    def __init__(self, threads: ThreadStore, me: PeerId, remote: PeerId, stream: wire.ByteStream,
                 on_peers: Callable[[ThreadId, list[tuple[PeerId, list[str]]], int], None],
                 random_bytes: Callable[[int], bytes] = os.urandom, addresses: Sequence[str] = (),
                 known: LastKnown | None = None) -> None:
        self._threads = threads
        self._addresses = capped(addresses, MAX_SHARED)
        self._me = me
        self.remote = remote
        self._stream = stream
        self._reader = BlockReplies(stream)  # a MessageReader that reads block replies uncopied
        self._on_peers = on_peers
        self._random_bytes = random_bytes
        self.edges: dict[ThreadId, bytes] = {}  # threads the peer proved in this session, and its edge
        self.known = known if known is not None else LastKnown()
        self.keys: dict[ThreadId, ThreadKey] = {}  # the key each was proven with
        self._borrowed: set[ThreadId] = set()  # threads the peer lent us keys of (PROTOCOL §34)
        self.last_heads = self.known.heads  # the peer's log positions it last told us (any session)
        self._lock = trio.Lock()

    async def request(self, message: dict[str, Any]) -> dict[str, Any]:
        for attempt in range(SLOW_DOWN_RETRIES):
            async with self._lock:  # one request in flight per session
                await self._stream.write(wire.frame(message))
                reply = await self._reader.read()
            # The peer's rate limit: a big first sync may reach it; wait, ask again.
            if reply is None or reply["t"] != "error" or not str(reply.get("message", "")).startswith(
                    "too many requests"):
                break
            await trio.sleep(0.25 * (attempt + 1))
        if reply is None:
            raise PeerError(f"{self.remote} closed the session")
        if reply["t"] == "error":
            raise PeerError(f"{self.remote} refused {message['t']}: {get(reply, 'message', as_text(500))}")
        if reply["t"] != message["t"]:
            raise ProtocolError(f"{self.remote} answered {message['t']} with {reply['t'][:40]!r}")
        return reply

    async def close(self) -> None:
        for thread_id in self._borrowed:  # its loans end with the session
            if self._threads.holds(thread_id):
                self._threads.lend_keys(thread_id, self.remote, [])
        self._borrowed.clear()
        await self._stream.close()

    # --- which threads we share ----------------------------------------------------------

    async def hello(self, threads: Sequence[ThreadId], *, every: bool = False) -> dict[ThreadId, bytes]:
        """Prove the threads we hold; returns those the peer shares with its
        edges (also kept in `edges`). `every`: these are all our threads, so
        those it no longer shares drop out (once it has answered: until then
        the Devices view shows what it last proved)."""
        matched: set[ThreadId] = set()
        per_hello = MAX_PROOFS // proofs.PROOF_EPOCHS
        for start in range(0, len(threads), per_hello):
            nonce = self._random_bytes(wire.NONCE_LENGTH)
            asked: list[tuple[ThreadId, ThreadKey]] = []
            for thread_id in threads[start:start + per_hello]:
                for key in proofs.proof_keys(self._threads.thread_keys(thread_id)):
                    asked.append((thread_id, key))
            hello: dict[str, Any] = {"t": "hello", "nonce": nonce, "addrs": self._addresses, "proofs": [
                proofs.ask_proof(key, thread_id, self._me, self.remote, nonce) for thread_id, key in asked]}
            cert = self._threads.device_cert()  # a device of a person (issue 19) says which person
            if cert is not None:
                hello["cert"] = cert
            removals = self._threads.device_removals() if start == 0 else []
            if removals:  # our person's removals: the peer refuses a removed device even where we never met it
                hello["removals"] = removals
            reply = await self.request(hello)
            cert = get(reply, "cert", as_bytes(max_length=MAX_CERT_BYTES)) if "cert" in reply else None
            removed = get(reply, "removals", as_list(as_bytes(max_length=MAX_CERT_BYTES), MAX_REMOVALS)) \
                if "removals" in reply else []
            for match in get(reply, "matches", as_list(_match, len(asked))):
                index, answer, edge, lent = match
                if index >= len(asked):
                    raise ProtocolError(f"{self.remote} matched a proof we did not send")
                thread_id, key = asked[index]
                if answer != proofs.answer_proof(key, thread_id, self._me, self.remote, nonce):
                    raise ProtocolError(f"{self.remote} answered a proof without the thread's key")
                if cert is not None:  # which person it is a device of, judged in the thread it proved
                    self._threads.peer_device_cert(self.remote, cert, thread_id)
                # It holds the key, but may have been removed since: the same
                # rule as when it asks us (we neither push to it nor take its word).
                if not self._threads.admits(thread_id, self.remote, key):
                    continue
                self.edges[thread_id] = self.known.edges[thread_id] = edge
                self.keys[thread_id] = key
                matched.add(thread_id)
                if lent:  # only what we are behind on
                    newest = self._threads.thread_keys(thread_id)[0].epoch
                    lent = [k for k in lent if k.epoch > newest]
                # Behind a rotation, what it lends opens what was written since.
                # A loan lasts until its next hello (lending nothing ends it) or
                # the session's end.
                self._threads.lend_keys(thread_id, self.remote, lent)
                if lent:
                    self._borrowed.add(thread_id)
            if removed:  # its person's device removals, once its certificate was judged above
                self._threads.peer_device_removals(self.remote, removed)
        if every:
            for thread_id in [t for t in self.edges if t not in matched]:
                self.edges.pop(thread_id)
                self.keys.pop(thread_id, None)
            for thread_id in [t for t in self.known.edges if t not in matched]:
                self.known.forget(thread_id)
        return dict(self.edges)

    def admitted(self, thread_id: ThreadId) -> bool:
        """Still shares the thread, by the ACL as it stands now."""
        key = self.keys.get(thread_id)
        if key is None:
            return False
        if not self._threads.admits(thread_id, self.remote, key):
            self.edges.pop(thread_id, None)
            self.keys.pop(thread_id, None)
            self.known.forget(thread_id)
            return False
        return True

    def in_sync(self, thread_id: ThreadId) -> bool:
        return self.edges.get(thread_id) == proofs.edge(self._threads.heads(thread_id))

    # --- records -------------------------------------------------------------------------

    async def sync_thread(self, thread_id: ThreadId) -> SyncResult:
        """Exchange records until both sides hold the same logs (or no round
        makes progress: records we cannot take yet wait for keys)."""
        result = SyncResult()
        settled = self._threads.heads(thread_id)
        refused = False
        for _ in range(MAX_ROUNDS):
            before = (result.pulled, result.pushed)
            theirs = await self._heads(thread_id)
            # What both hold once a round moves nothing: the edge kept below.
            # Not the heads read after the last await: a record we wrote
            # meanwhile (a heal answering what it pushed us) would count as
            # held there, and the next pass would skip it.
            settled = self._threads.heads(thread_id)
            ours = {h.log_id: h.seq for h in settled}
            for log_id, seq in ours.items():
                if seq > theirs.get(log_id, 0):
                    pushed = await self._push_log(thread_id, log_id, theirs.get(log_id, 0))
                    result.pushed += pushed
                    refused = refused or not pushed
            for log_id, seq in theirs.items():
                if seq > ours.get(log_id, 0):
                    await self._pull_log(thread_id, log_id, ours.get(log_id, 0), result)
            if (result.pulled, result.pushed) == before:
                break  # in sync, or nothing more either side takes for now
        if refused:
            # It took none of a log: it may hold it already (gossip got there
            # first). Where it stands now tells whether it has our last records.
            await self._heads(thread_id)
        self.edges[thread_id] = self.known.edges[thread_id] = proofs.edge(settled)
        self.tell_held(thread_id)  # last: a thread we are leaving may go here
        return result

    def tell_held(self, thread_id: ThreadId) -> None:
        """Tell the node how far the peer holds our own log, by the heads it
        last gave (a thread we are leaving goes once a member has our Leave,
        engine/leave.py). Call it last: the thread may be gone after it."""
        own_log = self._threads.own_log(thread_id)
        seq = self.last_heads.get(thread_id, {}).get(own_log, 0) if own_log is not None else 0
        if seq:
            self._threads.peer_has_our_log(thread_id, self.remote, seq)

    async def _heads(self, thread_id: ThreadId) -> dict[PeerId, int]:
        reply = await self.request({"t": "heads", "thread": thread_id.raw})
        heads = get(reply, "heads", as_list(_head, MAX_LOGS))
        peers = get(reply, "peers", as_list(_peer, MAX_PEERS))
        ttl = get(reply, "ttl", as_int(1, 7 * 24 * 3600))
        if peers:
            self._on_peers(thread_id, peers, ttl)
        self.last_heads[thread_id] = {log_id: seq for log_id, seq, _head in heads}
        return dict(self.last_heads[thread_id])

    async def _push_log(self, thread_id: ThreadId, log_id: PeerId, after: int) -> int:
        pushed = 0
        while True:
            page = record_page(self._threads.records_after(thread_id, log_id, after, MAX_PAGE_RECORDS))
            if not page:
                return pushed
            reply = await self.request({"t": "push", "thread": thread_id.raw,
                                        "records": [wire.envelope_value(s.envelope) for s in page]})
            added: int = get(reply, "added", as_int(0, MAX_PAGE_RECORDS))
            pushed += added
            if added == 0:
                return pushed  # the peer refuses this log; pull will tell us why, or the next sync
            after = page[-1].seq

    async def _pull_log(self, thread_id: ThreadId, log_id: PeerId, after: int, result: SyncResult) -> None:
        while True:
            reply = await self.request({"t": "records", "thread": thread_id.raw, "log": log_id.raw, "after": after})
            envelopes = get(reply, "records", as_list(as_envelope, MAX_PAGE_RECORDS))
            more = get(reply, "more", _as_bool)
            if not envelopes:
                return
            outcomes = self._threads.receive(thread_id, envelopes)
            added = sum(1 for o in outcomes if o is IngestOutcome.ADDED)
            result.pulled += added
            result.refused += sum(1 for o in outcomes if isinstance(o, ThreadsError))
            position = log_position(self._threads.heads(thread_id), log_id)
            if position <= after or not more:
                return  # nothing taken (keys missing, or a bad record): stop this log for now
            after = position
            await trio.lowlevel.checkpoint()

    # --- blob blocks -------------------------------------------------------------------

    async def inventory(self, thread_id: ThreadId, after: int = 0) -> tuple[list[BlockEntry], int]:
        """The peer's whole block inventory of a thread after a cursor."""
        entries: list[BlockEntry] = []
        while True:
            reply = await self.request({"t": "inventory", "thread": thread_id.raw, "after": after})
            entries += get(reply, "blocks", as_list(as_block_entry, MAX_CIDS))
            after = get(reply, "next", as_int(0, MAX_SEQ))
            if not get(reply, "more", _as_bool) or len(entries) >= MAX_INVENTORY:
                return entries, after

    async def fetch_blocks(self, thread_id: ThreadId, wanted: Sequence[BlockEntry],
                           progress: Callable[[int, int], None] | None = None) -> int:
        """Fetch blocks in the order given, in requests of about one reply's
        budget, several in flight (the peer reads and seals the next while we
        check and store this one). A reply's blocks are checked and written
        on a worker thread while this one reads the next reply; each reply is
        then listed in one transaction, in order, so a cut connection loses at
        most what was in flight, and the next sync asks only for what is
        still missing."""
        blobs = self._threads.blobs(thread_id)
        by_cid = {e.cid: e for e in wanted}
        held = blobs.held(list(by_cid))
        batches = _batches([e for e in wanted if e.cid not in held], PAGE_BYTES)
        total = sum(e.size for batch in batches for e in batch)
        done = 0
        staging: _Staging | None = None  # the previous reply, being checked and written
        async with self._lock:  # the session is ours until the last reply is read
            try:
                sent: list[list[bytes]] = []
                for batch in batches[:PIPELINE_DEPTH]:
                    sent.append(await self._send_blocks_request(thread_id, batch))
                next_batch = len(sent)
                left = False
                while sent or staging is not None:
                    fetched = await self._next_reply(sent.pop(0), by_cid) if sent else None
                    if staging is not None:
                        left = left or not await self._list_staged(thread_id, staging)
                        if not left:
                            done += sum(len(data) for _entry, data in staging.blocks)
                            if progress is not None:
                                progress(done, total)
                        staging = None
                    if left:
                        continue  # read what was asked for, so the stream stays in step
                    if fetched is not None:
                        staging = _Staging(fetched, blobs.stage_fetched)
                    if next_batch < len(batches):
                        sent.append(await self._send_blocks_request(thread_id, batches[next_batch]))
                        next_batch += 1
            finally:
                if staging is not None:  # no worker writes for this thread once we return
                    with trio.CancelScope(shield=True):
                        await staging.settled()
        return done

    async def _next_reply(self, asked: list[bytes], by_cid: dict[bytes, BlockEntry]) -> list[tuple[BlockEntry, bytes]]:
        reply = await self._reader.read_blocks()
        if reply is None or reply["t"] != "blocks":
            raise PeerError(f"{self.remote} broke off a block transfer")
        blocks = get(reply, "blocks", as_list(_block, len(asked)))
        if any(cid not in asked for cid, _data in blocks):
            raise ProtocolError(f"{self.remote} sent a block we did not ask for")
        return [(by_cid[cid], data) for cid, data in blocks]

    async def _list_staged(self, thread_id: ThreadId, staging: _Staging) -> bool:
        """Wait for a reply's blocks to be checked and written, then list
        them in one transaction; False when we left the thread meanwhile."""
        try:
            await staging.finished()
            self._threads.store_fetched(thread_id, staging.blocks)
        except IntegrityError as exc:  # the peer's fault, not our store's
            raise ProtocolError(f"{self.remote} sent a bad block: {exc}") from exc
        except NotFoundError:  # we left the thread while this reply was on its way
            return False
        return True

    async def _send_blocks_request(self, thread_id: ThreadId, batch: list[BlockEntry]) -> list[bytes]:
        cids = [e.cid for e in batch]
        await self._stream.write(wire.frame({"t": "blocks", "thread": thread_id.raw, "cids": cids}))
        return cids

    async def send_invite(self, sealed: bytes) -> None:
        await self.request({"t": "invite", "sealed": sealed})

    async def card(self) -> bytes:
        """The peer's X25519 public key."""
        exchange: bytes = get(await self.request({"t": "card"}), "exchange", as_bytes(32))
        return exchange


class _Staging:
    """One reply's blocks, checked and written on a worker thread (hashing
    and writing release the GIL) while the engine thread reads the next
    reply. Not a nursery task: its error is raised to whoever waits for it,
    as it is, not in an exception group."""

    def __init__(self, blocks: list[tuple[BlockEntry, bytes]],
                 stage: Callable[[list[tuple[BlockEntry, bytes]]], None]) -> None:
        self.blocks = blocks
        self._done = trio.Event()
        self._result: Any = None  # trio's outcome of the call (outcome.Value or outcome.Error)
        token = trio.lowlevel.current_trio_token()

        def deliver(result: Any) -> None:  # on the worker thread
            self._result = result
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(self._done.set)

        trio.lowlevel.start_thread_soon(lambda: stage(blocks), deliver)

    async def settled(self) -> None:
        await self._done.wait()

    async def finished(self) -> None:
        """Wait for the worker; raise what it raised."""
        await self._done.wait()
        assert self._result is not None
        self._result.unwrap()


def _batches(entries: Sequence[BlockEntry], budget: int) -> list[list[BlockEntry]]:
    """Consecutive runs of entries that fit a reply's byte budget (at least one each)."""
    batches: list[list[BlockEntry]] = []
    size = 0
    for entry in entries:
        if not batches or size + entry.size > budget or len(batches[-1]) >= MAX_CIDS:
            batches.append([])
            size = 0
        batches[-1].append(entry)
        size += entry.size
    return batches


# --- reply fields -------------------------------------------------------------------------


def _as_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("expected a boolean")
    return value


def _match(value: Any) -> tuple[int, bytes, bytes, list[ThreadKey]]:
    if not isinstance(value, list) or len(value) not in (3, 4):
        raise ValueError("a match is [index, proof, edge, lent keys?]")
    lent = as_list(_lent_key, proofs.MAX_LENT_KEYS)(value[3]) if len(value) == 4 else []
    return as_int(0, MAX_PROOFS)(value[0]), as_bytes(wire.MAC_LENGTH)(value[1]), as_bytes(32)(value[2]), lent


def _lent_key(value: Any) -> ThreadKey:
    if not isinstance(value, list) or len(value) != 3:
        raise ValueError("a lent key is [epoch, follow key, read key or null]")
    read = None if value[2] is None else as_bytes(32)(value[2])
    return ThreadKey(as_bytes(32)(value[1]), read, as_int(0, MAX_SEQ)(value[0]))


def _head(value: Any) -> tuple[PeerId, int, bytes | None]:
    if not isinstance(value, list) or len(value) != 3:
        raise ValueError("a head is [log, seq, cid]")
    return as_peer_id(value[0]), as_int(1, MAX_SEQ)(value[1]), as_bytes(36)(value[2])


def _peer(value: Any) -> tuple[PeerId, list[str]]:
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError("a peer is [peer id, addresses]")
    return as_peer_id(value[0]), as_list(as_text(256), 8)(value[1])


def _block(value: Any) -> tuple[bytes, bytes]:
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError("a block is [cid, data]")
    return as_bytes(36)(value[0]), as_bytes(max_length=(1 << 20) + 4096)(value[1])
