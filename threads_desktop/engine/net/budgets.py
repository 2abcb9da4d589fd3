"""Budgets shared by every session of a node, so that what strangers can
hold does not grow with the number of identities or connections they use
(identities cost nothing to make).

A *member* here is a peer that proved a thread we share, in this process or
before (it is in the peer book). Members are served first: strangers get a
share of each budget, never all of it, and a stranger's message may be
small only (a hello or an invite; a page of records needs a proof first).
Why each number is what it is: docs/ARCHITECTURE.md, "Budgets".
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import trio

from threads_desktop.engine.core.ids import PeerId

REMEMBERED_MEMBERS = 4096  # peers that proved a thread in this process, most recent kept


@dataclass(frozen=True)
class Limits:
    """The numbers (tests use smaller ones; the defaults are the node's)."""

    # Messages: what one session may have on the way, and how fast it must come.
    stranger_message_bytes: int = 64 << 10  # a hello of MAX_PROOFS proofs is ~37 KiB, an invite 8 KiB
    partial_bytes_total: int = 96 << 20  # partly received messages of all sessions together
    partial_bytes_per_address: int = 32 << 20  # ... of the sessions from one remote IP address
    stall_seconds: float = 10.0  # a message that stops arriving this long ends its session
    frame_base_seconds: float = 10.0  # and a whole message must arrive within this
    frame_min_bytes_per_second: int = 64 << 10  # plus its size at this rate (8 MiB: 138 s)
    stranger_idle_seconds: float = 30.0  # a session that proved nothing and asks nothing is closed
    member_idle_seconds: float = 900.0  # a member's session waits for its next pass (default every 60 s)
    # Sessions (streams of /threads/1.0.0) open at once.
    max_sessions: int = 512
    max_stranger_sessions: int = 128  # the rest are kept for members
    max_stranger_sessions_per_address: int = 16
    # Hello work: each hello reads every thread's keys and makes an HMAC per
    # key (~2.5 us a thread here, ~7 us on a slow machine), counted in threads.
    stranger_hello_threads_per_second: float = 20_000.0  # <= 0.14 s of one core a second, all strangers together
    stranger_hello_threads_burst: float = 40_000.0
    # Connections in their handshake (unauthenticated), admission.py. A
    # socket that has sent nothing yet is *silent*: cheap to hold (a file
    # and a sleeping task), so many are held, and none of them ever takes
    # the place of one that speaks (every honest dialer speaks first).
    silent_connections: int = 1024  # accepted, no byte yet; when all are taken the oldest silent one goes
    handshakes: int = 128  # speaking, in Noise and yamux at once; when all are taken the oldest goes
    accept_batch: int = 64  # connections accepted per turn of the node's scheduler (trio accepts one)
    handshakes_per_address: int = 8  # ... from one IP address (a peer dials once; a home's NAT has a few)
    handshakes_per_subnet: int = 32  # ... from one /24 (IPv4) or /48 (IPv6): one operator's block
    handshake_seconds: float = 5.0  # from its first byte: Noise and yamux take ~10 ms on a LAN, ~1 s on a bad link
    # A silent socket is held this long while places remain (py-libp2p is not
    # started on it before its first byte): dropped after 5 s, 500 re-opened
    # sockets cost serve ~100 handshake starts and clean-ups a second.
    silent_seconds: float = 60.0
    stranger_connections: int = 128  # authenticated inbound connections of strangers (py-libp2p allows 300)
    # Broken or refused sessions a stranger may have; then it goes unread. An
    # honest client holds one session per peer and backs off when refused;
    # 4 (was 8) halves how long an attack's carousel of refused sessions
    # runs before each identity is held off (bench hostile, strangers17).
    stranger_breaks: int = 4
    # Members first (turns.py): while a member is served, a stranger's
    # connection waits this long at most per read (a few reads a second: a
    # joiner not admitted yet still gets through), and members' work keeps
    # strangers waiting this long after it ends (the member's next request
    # is a round trip away).
    stranger_read_wait_seconds: float = 0.5
    members_first_grace_seconds: float = 0.25
    # Inbound streams of every protocol open at once (streamcap.py): a
    # member uses 8 sessions, gossip, identify, ping and dial-back, ~12.
    streams_per_connection: int = 64
    streams: int = 4096  # in all (py-libp2p's resource manager allowed 10,000, one queue for all)


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._tokens = burst
        self._refilled = clock()

    def take(self, tokens: float) -> bool:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._refilled) * self._rate)
        self._refilled = now
        if self._tokens < tokens:
            return False
        self._tokens -= tokens
        return True


@dataclass
class Reservation:
    """Bytes of a partly received message, held until `release`."""

    pool: PartialBytes
    address: str
    size: int
    released: bool = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.pool.give_back(self)


@dataclass
class PartialBytes:
    """Memory for messages on their way: overall and per remote address."""

    total: int
    per_address: int
    used: int = 0
    by_address: dict[str, int] = field(default_factory=dict)

    def reserve(self, address: str, size: int) -> Reservation | None:
        held = self.by_address.get(address, 0)
        # "" is every relayed session (the relay's address is not the peer's): total only
        if self.used + size > self.total or (address and held + size > self.per_address):
            return None
        self.used += size
        self.by_address[address] = held + size
        return Reservation(self, address, size)

    def give_back(self, reservation: Reservation) -> None:
        self.used -= reservation.size
        left = self.by_address[reservation.address] - reservation.size
        if left:
            self.by_address[reservation.address] = left
        else:
            del self.by_address[reservation.address]


@dataclass(eq=False)
class SessionSlot:
    """One open session, counted until `release`. Its session runs inside
    `scope`: a stranger's is cancelled when a newer stranger needs its place."""

    budgets: Budgets
    address: str
    stranger: bool
    released: bool = False
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    answered: bool = False  # a reply went out: it has said what it came for (and proved nothing)

    def become_member(self) -> None:
        """The session proved a thread: it no longer counts as a stranger's."""
        if self.stranger and not self.released:
            self.budgets.drop_stranger(self)
            self.stranger = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.budgets.sessions -= 1
            if self.stranger:
                self.budgets.drop_stranger(self)


class Budgets:
    """The node's budgets; one instance, handed to the server by the service."""

    def __init__(self, is_known_member: Callable[[PeerId], bool], limits: Limits | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._is_known_member = is_known_member
        self.limits = limits = limits or Limits()
        self.partial = PartialBytes(limits.partial_bytes_total, limits.partial_bytes_per_address)
        self.sessions = 0
        self.stranger_sessions: dict[str, int] = {}
        self.stranger_hellos = TokenBucket(limits.stranger_hello_threads_per_second,
                                           limits.stranger_hello_threads_burst, clock)
        self._members: OrderedDict[PeerId, None] = OrderedDict()
        self._strangers: list[SessionSlot] = []  # strangers' open sessions, oldest first
        self.displaced = 0  # strangers' sessions closed for newer ones

    def is_member(self, peer: PeerId) -> bool:
        return peer in self._members or self._is_known_member(peer)

    def proved(self, peer: PeerId) -> None:
        self._members[peer] = None
        self._members.move_to_end(peer)
        while len(self._members) > REMEMBERED_MEMBERS:
            self._members.popitem(last=False)

    def open_session(self, peer: PeerId, address: str) -> SessionSlot | str:
        """A slot for a new session, or why there is none (said to the peer)."""
        if self.sessions >= self.limits.max_sessions:
            return "busy: too many sessions open, try again later"
        stranger = not self.is_member(peer)
        if stranger:
            # "" is every relayed session at once (we do not see their
            # addresses): the total bounds them, a per-address cap would let
            # a few strangers on any relay refuse a friend joining by link
            if address and self.stranger_sessions.get(address, 0) >= self.limits.max_stranger_sessions_per_address:
                return "too many sessions from your address"
            if len(self._strangers) >= self.limits.max_stranger_sessions:
                # The oldest stranger's session goes for the newcomer, who may
                # be a member we never met (it proves a thread in its first
                # message): strangers that hold every place cannot keep new
                # members out, they only push each other out.
                if not self._strangers:
                    return "busy: too many sessions of unknown peers, try again later"
                self._displace(self._victim())
            self.stranger_sessions[address] = self.stranger_sessions.get(address, 0) + 1
        self.sessions += 1
        slot = SessionSlot(self, address, stranger)
        if stranger:
            self._strangers.append(slot)
        return slot

    def _victim(self) -> SessionSlot:
        """Which stranger's session goes: one that was answered and proved
        nothing first (one that has not spoken yet may be a member about to
        prove a thread; under load its hello comes a while after its session
        opens), then one from the address holding the most, then the oldest.
        A newcomer alone on its address is pushed out only by attackers that
        hold one session per address too."""
        order = {slot: i for i, slot in enumerate(self._strangers)}
        return min(self._strangers, key=lambda slot: (
            not slot.answered, -self.stranger_sessions.get(slot.address, 0), order[slot]))

    def _displace(self, slot: SessionSlot) -> None:
        """Out of strangers' share now; its session ends at its next await
        (and counts in all sessions until then)."""
        self.displaced += 1
        self.drop_stranger(slot)
        slot.stranger = False
        slot.scope.cancel()

    def drop_stranger(self, slot: SessionSlot) -> None:
        if slot in self._strangers:
            self._strangers.remove(slot)
        left = self.stranger_sessions[slot.address] - 1
        if left:
            self.stranger_sessions[slot.address] = left
        else:
            del self.stranger_sessions[slot.address]

    def hello_work(self, peer: PeerId, threads: int) -> bool:
        """May we check this peer's hello against `threads` threads now? Members always."""
        return self.is_member(peer) or self.stranger_hellos.take(threads)
