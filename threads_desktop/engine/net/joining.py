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
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import trio

from threads_desktop.engine.core.errors import ThreadsError, error_text
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.net import wire
from threads_desktop.engine.net.budgets import Budgets
from threads_desktop.engine.net.exchange import (
    Exchange,
    ExchangeLimits,
    ExchangeServer,
    ExchangeStream,
    close,
)
from threads_desktop.engine.net.exchange import answer_message as answer_message  # the join's answer too

log = logging.getLogger(__name__)

PROTOCOL_ID = "/threads/join/1.0.0"
MAX_REQUEST_BYTES = 4 << 10  # the framed request message: an AdmissionRequest is ~400 bytes
MAX_ANSWER_BYTES = 8 << 10  # the framed answer: the sealed keys of one epoch are ~300 bytes
EXCHANGE_SECONDS = 10.0  # the request must arrive, and the answer must come back, within this
REQUEST_SECONDS = 2.0  # the request (~400 bytes, sent at once) must arrive within this
JOIN = Exchange("join", MAX_REQUEST_BYTES, MAX_ANSWER_BYTES, REQUEST_SECONDS, EXCHANGE_SECONDS,
                declined="the peer did not answer the join request",
                closed="the peer closed the join stream without an answer")

Status = Literal["admitted", "waiting-approval", "refused", "unknown"]


# --- messages ---------------------------------------------------------------------------------


def request_message(request: bytes) -> dict[str, Any]:
    return JOIN.request_message(request)


def parse_request(message: dict[str, Any]) -> bytes:
    """The AdmissionRequest's bytes (ProtocolError for anything else)."""
    return JOIN.parse_request(message)


def parse_answer(message: dict[str, Any]) -> bytes:
    """The AdmissionAnswer's bytes; PeerError if the peer answered with an error."""
    return JOIN.parse_answer(message)


def frame(message: dict[str, Any], limit: int) -> bytes:
    return JOIN.frame(message, limit)


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


JoinLimits = ExchangeLimits  # the name the network's callers know
JoinStream = ExchangeStream


class JoinServer(ExchangeServer):
    """Answers join requests: one request, one answer, then the stream closes."""

    def __init__(self, admissions: Admissions, budgets: Budgets, limits: ExchangeLimits | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(JOIN, admissions.answer, budgets, limits, clock)
        self.admissions = admissions


# --- the asking side --------------------------------------------------------------------------


async def ask(stream: wire.ByteStream, request: bytes) -> bytes:
    """Send one request on a fresh join stream and read the answer's bytes
    (PeerError if the peer declines or goes, ProtocolError if it breaks the
    protocol, trio.TooSlowError after EXCHANGE_SECONDS)."""
    return await JOIN.ask(stream, request)


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
                        await close(stream)
                self.asked += 1
                status = self._admissions.take(join.thread_id, answer, peer, final=peer in named,
                                               anchored=bool(named))
            except ASK_ERRORS as exc:
                log.info("join of %s: %s did not answer: %s", join.thread_id, peer, error_text(exc))
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
