"""The hostile side of `bench hostile` (and of the tests that attack a node):
peers that cost nothing to make, as issue 17 describes them.

- Stalled sessions: fresh libp2p identities, each opening sessions of the
  sync protocol that declare an 8 MiB message, send all of it but the end
  and stall; whenever the node ends one, it is opened again.
- Idle sockets: TCP connections that send nothing, re-opened as soon as the
  node drops them.

Each identity and each socket dials from its own address of 127.0.0.0/8,
one per /24, as a botnet would: per-address and per-subnet limits do not
help the node, only its overall budgets do. The attacker is a bare libp2p
host (not our host layer): it speaks the wire as any stranger can.

Run as its own process (`python -m threads_desktop.bench.attack ...`) so
that its work does not slow the honest peer it is measured against; it
prints one JSON line when at full strength and one with its counts when
stdin closes or its time is up.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any

import trio
from libp2p import new_host
from libp2p.abc import IHost
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_ID
from libp2p.stream_muxer.yamux.yamux import Yamux
from multiaddr import Multiaddr

PROTOCOL = "/threads/1.0.0"  # the sync protocol, as anyone reads it off the wire
DECLARED_BYTES = (8 << 20) - 16  # the largest message a member may send (paging.MAX_MESSAGE_BYTES)
SENT_BYTES = DECLARED_BYTES - 1024  # all of it but the end
MAX_ATTEMPTS = 1_000_000  # bounds on every loop, whatever the time given
RETRY_SECONDS = 0.05  # after a dial that failed, so a refused attacker does not spin


def uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def identity_address(i: int) -> str:
    """The i-th identity's address: its own /24 (127.2.0.1, 127.2.1.1, ...)."""
    return f"127.{2 + i // 256}.{i % 256}.1"


def socket_address(i: int) -> str:
    """The i-th idle socket's address: its own /24, apart from the identities'."""
    return f"127.{20 + i // 256}.{i % 256}.1"


def spread_address(i: int) -> str:
    """Addresses 20 per /24, one each (none is 127.0.0.1): subnet limits bite."""
    return f"127.1.{i // 20}.{i % 20 + 1}"


# --- idle sockets --------------------------------------------------------------------------


async def idle_socket(source: str, port: int) -> trio.SocketStream:
    """A TCP connection to 127.0.0.1:port from `source`, that sends nothing."""
    sock = trio.socket.socket()
    try:
        await sock.bind((source, 0))
        await sock.connect(("127.0.0.1", port))
    except BaseException:
        sock.close()
        raise
    return trio.SocketStream(sock)


async def closed_by_peer(sock: trio.SocketStream, seconds: float) -> bool:
    """Whether the node closes the socket within `seconds` (what it says first is read and ignored)."""
    with trio.move_on_after(seconds):
        try:
            while await sock.receive_some(1024):
                pass
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        return True
    return False


@dataclass
class Counts:
    """What the attack did, for the report."""

    identities_connected: int = 0
    sessions_tried: int = 0  # new_stream called (a node holding the identity off answers nothing)
    sessions_opened: int = 0
    sessions_ended_by_node: int = 0  # refused, reset or timed out: the node let go
    sessions_refused_at_open: int = 0  # the stream could not even be opened
    megabytes_sent: float = 0.0
    sockets_opened: int = 0
    sockets_dropped_by_node: int = 0
    socket_failures: int = 0  # connect() refused or failed


async def keep_idle_socket(source: str, port: int, counts: Counts, deadline: float) -> None:
    """One idle socket from `source`, opened again each time the node drops it."""
    for _ in range(MAX_ATTEMPTS):
        if trio.current_time() >= deadline:
            return
        try:
            sock = await idle_socket(source, port)
        except OSError:
            counts.socket_failures += 1
            await trio.sleep(RETRY_SECONDS)
            continue
        counts.sockets_opened += 1
        try:
            if await closed_by_peer(sock, deadline - trio.current_time()):
                counts.sockets_dropped_by_node += 1
        finally:
            with trio.CancelScope(shield=True):
                await sock.aclose()


# --- stalled sessions ----------------------------------------------------------------------


def bare_host() -> IHost:
    """A libp2p host with a fresh identity: TCP, Noise, yamux (what our nodes speak)."""
    key_pair = create_new_key_pair()
    return new_host(key_pair=key_pair,
                    sec_opt={NOISE_ID: NoiseTransport(key_pair, noise_privkey=create_x25519_key_pair().private_key)},
                    muxer_opt={TProtocol(YAMUX_ID): Yamux})


def dial_from(host: IHost, source: str) -> None:
    """Every dial of `host` leaves from `source` (an address of 127.0.0.0/8).
    The transports' own `dial_with_source` does the binding; the instance's
    `dial` is pointed at it (libp2p/network/swarm.py:1135 calls `dial`)."""
    swarm: Any = host.get_network()
    for transport in swarm.transport_manager.get_transports():
        with_source = getattr(transport, "dial_with_source", None)
        if with_source is not None:
            def dial(maddr: Multiaddr, _with_source: Any = with_source) -> Any:
                return _with_source(maddr, (source, 0))
            transport.dial = dial


@asynccontextmanager
async def running_host(host: IHost) -> AsyncIterator[IHost]:
    """Run a host (it listens nowhere but 127.0.0.1, as py-libp2p wants a listener)."""
    async with host.run(listen_addrs=[Multiaddr("/ip4/127.0.0.1/tcp/0")]):
        try:
            yield host
        finally:
            with trio.CancelScope(shield=True):
                await host.close()


async def stalled_sessions(host: IHost, serving: ID, address: Multiaddr, sessions: int, frame: bytes,
                           counts: Counts, deadline: float) -> None:
    """`sessions` sessions at once on one identity's connection, each
    declaring a large message and stalling before its end."""
    with trio.move_on_after(max(0.0, deadline - trio.current_time())):
        for _ in range(MAX_ATTEMPTS):
            try:
                await host.connect(PeerInfo(serving, [address]))
                break
            except Exception:  # noqa: BLE001 - refused or dropped by the node: try again
                await trio.sleep(RETRY_SECONDS)
        counts.identities_connected += 1
        async with trio.open_nursery() as nursery:
            for _ in range(sessions):
                nursery.start_soon(_stalled_session, host, serving, address, frame, counts, deadline)


async def _stalled_session(host: IHost, serving: ID, address: Multiaddr, frame: bytes, counts: Counts,
                           deadline: float) -> None:
    for _ in range(MAX_ATTEMPTS):
        if trio.current_time() >= deadline:
            return
        counts.sessions_tried += 1
        try:
            if not host.get_network().get_connections(serving):
                await host.connect(PeerInfo(serving, [address]))
            stream = await host.new_stream(serving, [TProtocol(PROTOCOL)])
        except Exception:  # noqa: BLE001 - refused or dropped by the node: try again
            counts.sessions_refused_at_open += 1
            await trio.sleep(RETRY_SECONDS)
            continue
        counts.sessions_opened += 1
        try:
            await stream.write(frame)  # blocks once the node stops reading; raises once it resets
            counts.megabytes_sent += len(frame) / 1e6
            while await stream.read(1 << 16):  # stalled: hold on until the node lets go
                pass
        except Exception:  # noqa: BLE001 - the node reset the stream: it let go
            pass
        counts.sessions_ended_by_node += 1
        with trio.CancelScope(shield=True):
            try:
                await stream.reset()
            except Exception:  # noqa: BLE001 - already gone
                pass


# --- the attack as a process ------------------------------------------------------------------


@dataclass(frozen=True)
class Attack:
    serving: str  # the node's peer ID
    address: str  # its multiaddr, /ip4/127.0.0.1/tcp/PORT
    identities: int = 100
    sessions: int = 8  # per identity
    sockets: int = 500
    seconds: float = 300.0  # the attack ends by itself after this

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "threads_desktop.bench.attack", "--serving", self.serving,
                "--address", self.address, "--identities", str(self.identities), "--sessions",
                str(self.sessions), "--sockets", str(self.sockets), "--seconds", str(self.seconds)]


async def run_attack(attack: Attack, counts: Counts, ready: trio.Event, stop: trio.Event) -> None:
    """Until `stop` is set or the time is up; `ready` once every identity is
    connected, has tried all its sessions, and every socket opened once
    (tried, not opened: a node that holds an identity off answers none of
    its new sessions, and the attack is then as strong as it can be)."""
    serving = ID.from_base58(attack.serving)
    address = Multiaddr(attack.address)
    port = int(address.value_for_protocol("tcp"))
    frame = uvarint(DECLARED_BYTES) + bytes(SENT_BYTES)  # one buffer, shared by every session
    deadline = trio.current_time() + attack.seconds
    async with AsyncExitStack() as stack, trio.open_nursery() as nursery:
        for i in range(attack.sockets):
            nursery.start_soon(keep_idle_socket, socket_address(i), port, counts, deadline)
        for i in range(attack.identities):
            host = bare_host()
            dial_from(host, identity_address(i))
            await stack.enter_async_context(running_host(host))
            nursery.start_soon(stalled_sessions, host, serving, address, attack.sessions, frame, counts, deadline)
        with trio.move_on_after(attack.seconds):
            while (counts.identities_connected < attack.identities or counts.sockets_opened < attack.sockets
                   or counts.sessions_tried < attack.identities * attack.sessions):
                await trio.sleep(0.05)
            ready.set()
            await stop.wait()
        stop.set()
        nursery.cancel_scope.cancel()


async def _main(attack: Attack) -> None:
    ready, stop, counts = trio.Event(), trio.Event(), Counts()

    async def announce() -> None:
        await ready.wait()
        print(json.dumps({"ready": True}), flush=True)

    async def stdin_closed() -> None:
        await trio.to_thread.run_sync(sys.stdin.read, abandon_on_cancel=True)  # type: ignore[call-arg]  # mypy misreads Unpack[Ts]
        stop.set()

    async def report() -> None:
        # At once: closing a hundred hosts takes a while, and the counts are final.
        await stop.wait()
        print(json.dumps({"counts": asdict(counts)}), flush=True)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(announce)
        nursery.start_soon(stdin_closed)
        nursery.start_soon(report)
        await run_attack(attack, counts, ready, stop)
        nursery.cancel_scope.cancel()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="threads_desktop.bench.attack")
    parser.add_argument("--serving", required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--identities", type=int, default=100)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--sockets", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=300.0)
    args = parser.parse_args(argv)
    trio.run(_main, Attack(args.serving, args.address, args.identities, args.sessions, args.sockets, args.seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
