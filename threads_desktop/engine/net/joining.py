"""`/threads/join/1.0.0`: a joiner asks an admin to admit it (issue 16).

A link carries no keys, only a one-time invite secret. The joiner opens a
stream to a peer, sends one request (its AdmissionRequest, signed with the
invite key) and reads one answer (an AdmissionAnswer: admitted with the
keys sealed to its exchange key, waiting for approval, refused and why, or
"unknown": ask someone else). The admission itself is the node's
(Membership.answer_admission on the engine thread); this module only
carries it, bounded like everything a stranger may send:

    request  {"t": "join", "request": <AdmissionRequest DAG-CBOR, <= 4 KiB>}
    answer   {"t": "answer", "answer": <AdmissionAnswer DAG-CBOR, <= 8 KiB>}
             or {"t": "error", "message": text}

The two payloads are opaque bytes here: their strict codecs are
engine/acl/admission.py's, reached through the `Admissions` port.

The joiner's side is `Joiner`: a loop over the pending admissions still
waiting that asks the peers the link named first, then those we are
connected to and those found nearby, with backoff, until one answers
admitted or refused.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import trio

from threads_desktop.engine.core.errors import PeerError, ProtocolError, ThreadsError
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.net import wire
from threads_desktop.engine.net.budgets import Budgets, TokenBucket

log = logging.getLogger(__name__)

PROTOCOL_ID = "/threads/join/1.0.0"
MAX_REQUEST_BYTES = 4 << 10  # the framed request message: an AdmissionRequest is ~400 bytes
MAX_ANSWER_BYTES = 8 << 10  # the framed answer: the sealed keys of one epoch are ~300 bytes
EXCHANGE_SECONDS = 10.0  # the request must arrive, and the answer must come back, within this
REQUEST_SECONDS = 2.0  # the request (~400 bytes, sent at once) must arrive within this
MAX_ERROR_CHARACTERS = 200

Status = Literal["admitted", "waiting-approval", "refused", "unknown"]


# --- messages ---------------------------------------------------------------------------------


def request_message(request: bytes) -> dict[str, Any]:
    return {"t": "join", "request": request}


def answer_message(answer: bytes) -> dict[str, Any]:
    return {"t": "answer", "answer": answer}


def parse_request(message: dict[str, Any]) -> bytes:
    """The AdmissionRequest's bytes (ProtocolError for anything else)."""
    if message.get("t") != "join":
        raise ProtocolError(f"expected a join request, got {str(message.get('t'))[:32]!r}")
    wire.only(message, "request")
    request: bytes = wire.field(message, "request", wire.as_bytes(max_length=MAX_REQUEST_BYTES))
    if not request:
        raise ProtocolError("an empty join request")
    return request


def parse_answer(message: dict[str, Any]) -> bytes:
    """The AdmissionAnswer's bytes; PeerError if the peer answered with an error."""
    kind = message.get("t")
    if kind == "error":
        wire.only(message, "message")
        text = wire.field(message, "message", wire.as_text(500))
        raise PeerError(f"the peer did not answer the join request: {text[:MAX_ERROR_CHARACTERS]}")
    if kind != "answer":
        raise ProtocolError(f"expected a join answer, got {str(kind)[:32]!r}")
    wire.only(message, "answer")
    answer: bytes = wire.field(message, "answer", wire.as_bytes(max_length=MAX_ANSWER_BYTES))
    if not answer:
        raise ProtocolError("an empty join answer")
    return answer


def frame(message: dict[str, Any], limit: int) -> bytes:
    data = wire.frame(message)
    if len(data) > limit:
        raise ProtocolError(f"a join message of {len(data)} bytes exceeds the limit of {limit}")
    return data


# --- the port: what this module needs from the node -------------------------------------------


@dataclass(frozen=True, slots=True)
class PendingJoin:
    """A join still to be answered: its thread, whether an admin already said
    "waiting for approval", and the addresses the link named."""

    thread_id: ThreadId
    waiting_approval: bool
    addresses: tuple[str, ...]


class Admissions(Protocol):
    """The node's admission, as the network sees it (engine/networking.py)."""

    def answer(self, request: bytes, peer: PeerId) -> bytes:
        """The admin side: judge an AdmissionRequest `peer` sent and answer
        it (encoded AdmissionAnswer). ProtocolError for malformed bytes."""
        ...

    def pending(self) -> list[PendingJoin]:
        """The joiner side: pending admissions in "waiting" or "waiting-approval"."""
        ...

    def request(self, thread_id: ThreadId) -> bytes:
        """The joiner side: our encoded AdmissionRequest for the thread."""
        ...

    def take(self, thread_id: ThreadId, answer: bytes, peer: PeerId, *, final: bool,
             anchored: bool = True) -> Status:
        """The joiner side: an answer from `peer`, applied to the pending
        admission (`final`: the link named the peer, so its refusal ends the
        join and its keys are taken; from any other peer neither is, see
        Joiner; `anchored`: the link names some peer at all; a link made
        offline names none, and then keys are taken from whoever answers).
        ProtocolError for malformed bytes."""
        ...


# --- the answering side -----------------------------------------------------------------------


@dataclass(frozen=True)
class JoinLimits:
    """How many join requests are answered (each costs a signature check and
    maybe a write transaction); tests scale them down."""

    per_peer_per_second: float = 0.5  # a joiner asks every 10 s while it waits for approval
    per_peer_burst: float = 4.0
    per_address_per_second: float = 2.0  # a few joiners behind one NAT
    per_address_burst: float = 16.0
    total_per_second: float = 20.0  # all peers together: at most ~20 admissions a second
    total_burst: float = 64.0
    in_flight: int = 16  # requests being read or answered at once
    tracked: int = 1024  # per-peer and per-address buckets kept (least recently used dropped)


class _Buckets:
    """Token buckets by key, at most `tracked` of them (a forgotten key comes
    back with a full bucket: the total bucket still bounds the work)."""

    def __init__(self, rate: float, burst: float, tracked: int, clock: Callable[[], float]) -> None:
        self._rate, self._burst, self._tracked, self._clock = rate, burst, tracked, clock
        self._buckets: OrderedDict[object, TokenBucket] = OrderedDict()

    def take(self, key: object) -> bool:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self._rate, self._burst, self._clock)
            while len(self._buckets) > self._tracked:
                self._buckets.popitem(last=False)
        self._buckets.move_to_end(key)
        return bucket.take(1.0)


class JoinStream(wire.ByteStream, Protocol):
    async def reset(self) -> None: ...


@dataclass
class JoinServer:
    """Answers join requests: one request, one answer, then the stream closes."""

    admissions: Admissions
    budgets: Budgets
    limits: JoinLimits = field(default_factory=JoinLimits)
    clock: Callable[[], float] = time.monotonic
    answered: int = 0
    refused: int = 0  # requests turned away by the limits
    _in_flight: int = 0
    _asking: set[PeerId] = field(default_factory=set)  # peers with a request in flight: one each
    _reading: OrderedDict[object, trio.CancelScope] = field(default_factory=OrderedDict)  # oldest first
    _peers: _Buckets = field(init=False)
    _addresses: _Buckets = field(init=False)
    _total: TokenBucket = field(init=False)

    def __post_init__(self) -> None:
        limits = self.limits
        self._peers = _Buckets(limits.per_peer_per_second, limits.per_peer_burst, limits.tracked, self.clock)
        self._addresses = _Buckets(limits.per_address_per_second, limits.per_address_burst, limits.tracked,
                                   self.clock)
        self._total = TokenBucket(limits.total_per_second, limits.total_burst, self.clock)

    def _refusal(self, peer: PeerId, address: str) -> str | None:
        if peer in self._asking:
            return "busy: one join request at a time"
        if self._in_flight >= self.limits.in_flight and not self._drop_oldest_reading():
            return "busy: too many join requests at once, try again later"
        # "" is every relayed stream: only the per-peer and total buckets apply to them
        if not self._peers.take(peer) or (address and not self._addresses.take(address)) or \
                not self._total.take(1.0):
            return "busy: too many join requests, try again later"
        return None

    def _drop_oldest_reading(self) -> bool:
        """Make room by ending the oldest request still being read: places
        held by streams that send nothing (anyone can open many, under
        identities that cost nothing) never keep an honest joiner out, whose
        request arrives at once."""
        if not self._reading:
            return False
        _token, scope = self._reading.popitem(last=False)
        scope.cancel()
        return True

    async def serve(self, stream: JoinStream, peer: PeerId, address: str) -> None:
        refusal = self._refusal(peer, address)
        if refusal is not None:
            self.refused += 1
            await _say_and_close(stream, wire.reply_error(refusal), reset=True)
            return
        self._in_flight += 1
        self._asking.add(peer)
        token = object()
        try:
            with trio.move_on_after(EXCHANGE_SECONDS):
                reader = wire.MessageReader(stream, MAX_REQUEST_BYTES, budgets=self.budgets, address=address)
                try:
                    reading = self._reading[token] = trio.CancelScope(
                        deadline=trio.current_time() + REQUEST_SECONDS)
                    message = None
                    with reading:
                        message = await reader.read()
                    self._reading.pop(token, None)
                    if message is None:
                        return
                    # On the engine thread, between awaits: never interleaved with other node calls.
                    reply = answer_message(self.admissions.answer(parse_request(message), peer))
                    self.answered += 1
                except (ProtocolError, PeerError) as exc:
                    log.info("join request from %s refused: %s", peer, exc)
                    reply = wire.reply_error(str(exc)[:MAX_ERROR_CHARACTERS])
                except ThreadsError as exc:  # the node could not answer (a full disk, say): no detail out
                    log.warning("join request from %s not answered: %s", peer, exc)
                    reply = wire.reply_error("cannot answer now, try again later")
                except Exception:  # our bug: the stranger gets no detail, the node goes on serving
                    log.exception("answering the join request of %s hit a bug", peer)
                    reply = wire.reply_error("cannot answer now, try again later")
                await stream.write(frame(reply, MAX_ANSWER_BYTES))
        except PeerError as exc:
            log.debug("join stream of %s broke: %s", peer, exc)
        finally:
            self._in_flight -= 1
            self._asking.discard(peer)
            self._reading.pop(token, None)
            with trio.CancelScope(shield=True):
                # Reset too: py-libp2p's yamux would keep whatever the peer
                # still sends on the stream, unread (up to 16 MiB a stream).
                await _close(stream, reset=True)


async def _say_and_close(stream: JoinStream, message: dict[str, Any], *, reset: bool) -> None:
    """Answer, then close (and reset: what the peer still sends is dropped)."""
    try:
        with trio.move_on_after(1.0):
            await stream.write(frame(message, MAX_ANSWER_BYTES))
    except PeerError:
        pass
    with trio.CancelScope(shield=True):
        await _close(stream, reset=reset)


async def _close(stream: JoinStream, *, reset: bool = False) -> None:
    try:
        with trio.move_on_after(1.0):
            await stream.close()
            if reset:
                await stream.reset()
    except PeerError:
        pass


# --- the asking side --------------------------------------------------------------------------


async def ask(stream: wire.ByteStream, request: bytes) -> bytes:
    """Send one request on a fresh join stream and read the answer's bytes
    (PeerError if the peer declines or goes, ProtocolError if it breaks the
    protocol, trio.TooSlowError after EXCHANGE_SECONDS)."""
    with trio.fail_after(EXCHANGE_SECONDS):
        await stream.write(frame(request_message(request), MAX_REQUEST_BYTES))
        message = await wire.MessageReader(stream, MAX_ANSWER_BYTES).read()
    if message is None:
        raise PeerError("the peer closed the join stream without an answer")
    return parse_answer(message)


FIRST_BACKOFF = 1.0
MAX_BACKOFF = 30.0
APPROVAL_INTERVAL = 10.0  # how often a joiner waiting for approval asks again
MAX_PEERS_PER_ROUND = 8  # peers asked per round for one join (each may take CONNECT + EXCHANGE seconds)
ROUND_SECONDS = 60.0  # a round stops there, so one join's dead peers do not hold up the others for long
ASK_ERRORS = (ThreadsError, trio.TooSlowError, OSError)


@dataclass
class _Schedule:
    due: float = 0.0
    failures: int = 0


OpenStream = Callable[[PeerId, str], Awaitable[JoinStream]]


class Joiner:
    """The joiner's loop: every pending admission that is due is asked for,
    peer by peer, until one peer answers (admitted / refused / waiting for
    approval) or none does (then backoff 1 s -> 30 s). A refusal is final
    only from a peer the link named (the inviter, or an admin it knew):
    anyone nearby could answer "refused" to keep us out."""

    def __init__(self, admissions: Admissions, open_stream: OpenStream,
                 candidates: Callable[[PendingJoin], list[PeerId]],
                 on_admitted: Callable[[ThreadId, PeerId], None],
                 link_peers: Callable[[PendingJoin], Sequence[PeerId]],
                 uniform: Callable[[float, float], float] = random.uniform) -> None:
        self._admissions = admissions
        self._open_stream = open_stream
        self._candidates = candidates
        self._link_peers = link_peers
        self._on_admitted = on_admitted
        self._uniform = uniform
        self._schedules: dict[ThreadId, _Schedule] = {}
        self._wake = trio.Event()
        self.asked = 0  # answers received (for tests and the log)
        self.rounds = 0  # rounds of asking made, answered or not

    def kick(self, *, now: bool = True) -> None:
        """Look at the pending admissions again (a new join); `now`: ask at
        once even those in backoff (a peer appeared)."""
        if now:
            for schedule in self._schedules.values():
                schedule.due = 0.0
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake = trio.Event()
            try:
                joins = self._admissions.pending()
            except ThreadsError as exc:
                log.warning("cannot read the pending joins: %s", exc)
                joins = []
            wanted = {j.thread_id for j in joins}
            for gone in set(self._schedules) - wanted:
                del self._schedules[gone]
            for join in joins:
                schedule = self._schedules.setdefault(join.thread_id, _Schedule())
                if schedule.due <= trio.current_time():
                    try:
                        await self._round(join, schedule)
                    except Exception:  # the loop outlives our bugs: this join waits its backoff
                        log.exception("asking for the admission to %s hit a bug", join.thread_id)
                        schedule.due = trio.current_time() + MAX_BACKOFF
            due = min((s.due for s in self._schedules.values()), default=math.inf)
            with trio.move_on_at(due):
                await self._wake.wait()

    async def ask_now(self) -> None:
        """One round for every pending join, whatever its backoff (the
        one-off `sync` command asks before it syncs)."""
        try:
            joins = self._admissions.pending()
        except ThreadsError as exc:
            log.warning("cannot read the pending joins: %s", exc)
            return
        for join in joins:
            await self._round(join, self._schedules.setdefault(join.thread_id, _Schedule()))

    async def _round(self, join: PendingJoin, schedule: _Schedule) -> None:
        """Ask the candidates one by one until one of them answers."""
        try:
            request = self._admissions.request(join.thread_id)
        except ThreadsError as exc:  # forgotten meanwhile (the user cancelled the join)
            log.info("no join request for %s: %s", join.thread_id, exc)
            schedule.due = math.inf
            return
        self.rounds += 1
        named = set(self._link_peers(join))
        with trio.move_on_after(ROUND_SECONDS):  # unreachable peers cost up to 20 s each
            if await self._ask_candidates(join, schedule, request, named):
                return
        schedule.failures += 1
        delay = min(MAX_BACKOFF, FIRST_BACKOFF * 2.0 ** (schedule.failures - 1))
        if join.waiting_approval:
            delay = min(delay, APPROVAL_INTERVAL)
        schedule.due = trio.current_time() + delay * self._uniform(0.8, 1.0)

    async def _ask_candidates(self, join: PendingJoin, schedule: _Schedule, request: bytes,
                              named: set[PeerId]) -> bool:
        """Ask peer after peer; True once one answered for good (the schedule set)."""
        for peer in self._candidates(join)[:MAX_PEERS_PER_ROUND]:
            try:
                stream = await self._open_stream(peer, PROTOCOL_ID)
                try:
                    answer = await ask(stream, request)
                finally:
                    with trio.CancelScope(shield=True):
                        await _close(stream)
                self.asked += 1
                status = self._admissions.take(join.thread_id, answer, peer, final=peer in named,
                                               anchored=bool(named))
            except ASK_ERRORS as exc:
                log.info("join of %s: %s did not answer: %s", join.thread_id, peer, exc or type(exc).__name__)
                continue
            log.info("join of %s: %s answered %s", join.thread_id, peer, status)
            if status == "unknown" or (status == "refused" and peer not in named):
                continue
            if status == "admitted":
                self._on_admitted(join.thread_id, peer)
            if status == "waiting-approval":
                schedule.failures = 0
                schedule.due = trio.current_time() + APPROVAL_INTERVAL
            else:
                schedule.due = math.inf  # done: it leaves the pending list
            return True
        return False
