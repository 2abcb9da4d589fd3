"""A hostile peer's side for the tests: a bare libp2p host writing raw bytes
and frames to an honest peer (a Node and its NetworkService on 127.0.0.1),
and checks that the honest peer stayed as it was and still serves."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio
from libp2p.abc import IHost
from multiaddr import Multiaddr

from tests.engine.eventstore.peers import join, texts
from tests.engine.net.running import Running, running_peers
from threads_desktop.bench.attack import uvarint
from threads_desktop.engine.codec import cbor
from threads_desktop.engine.core.errors import PeerError
from threads_desktop.engine.core.ids import PeerId, ThreadId, ThreadVariant
from threads_desktop.engine.core.keys import Identity, ThreadKey
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.net import proofs, wire
from threads_desktop.engine.net.budgets import Limits
from threads_desktop.engine.net.host import Libp2pStream, build_host, open_stream
from threads_desktop.engine.node import Node

REPLY_SECONDS = 5.0  # for one reply of the honest peer
HONEST_SYNC_SECONDS = 5.0  # for a whole sync of another peer, after (or during) an attack


# --- the honest side -------------------------------------------------------------------------


@dataclass
class Scene:
    a: Running  # the honest peer under attack
    b: Running  # an honest member of the thread, which syncs with a afterwards
    thread: ThreadId
    member: Node | None  # a member's profile with no service: the hostile peer's keys and records

    @property
    def node(self) -> Node:
        return self.a.node


@asynccontextmanager
async def scene(tmp_path: Path, *, member: bool = False, limits: Limits | None = None) -> AsyncIterator[Scene]:
    """a founds a chat and posts; b (and the member) joined, in-process. b
    does not know a's address yet (see `still_serves`), so nothing syncs on
    its own while the attack goes on."""
    m = Node.open(tmp_path / "m") if member else None
    try:
        async with running_peers(tmp_path, "a", "b", limits=limits) as peers:
            a, b = peers["a"], peers["b"]
            thread = a.node.create_thread(ThreadKind.CHAT, "Us").thread_id
            a.node.chat(thread).post("one")
            join(a.node, b.node, thread)
            if m is not None:
                join(a.node, m, thread)
            yield Scene(a, b, thread, m)
    finally:
        if m is not None:
            m.close()


async def still_serves(s: Scene, word: str = "after the attack") -> None:
    """b syncs the thread with a, within a few seconds, and gets a's news."""
    s.b.node.peers.remember(s.thread, s.node.identity.peer_id, s.a.service.addresses())
    s.node.chat(s.thread).post(word)
    with trio.fail_after(HONEST_SYNC_SECONDS):
        report = await s.b.service.sync_once(s.thread)
    assert word in texts(s.b.node, s.thread), report


def standing(node: Node, thread: ThreadId) -> tuple[object, ...]:
    """Everything an attack must leave as it was."""
    sql = node.database.connection
    return (proofs.edge(node.store.logs(thread)), node.store.logs(thread), texts(node, thread),
            node.events.refused(thread), sql.execute("SELECT count(*) FROM records").fetchone()[0],
            sql.execute("SELECT count(*) FROM logs").fetchone()[0],
            sql.execute("SELECT count(*) FROM blocks").fetchone()[0])


# --- the hostile side ------------------------------------------------------------------------


@asynccontextmanager
async def hostile_host(identity: Identity) -> AsyncIterator[IHost]:
    host = build_host(identity)
    async with host.run(listen_addrs=[Multiaddr("/ip4/127.0.0.1/tcp/0")]):
        try:
            yield host
        finally:
            with trio.CancelScope(shield=True):
                await host.close()


class Hostile:
    """One stream to the honest peer, driven by hand."""

    def __init__(self, stream: Libp2pStream, me: PeerId, answerer: PeerId) -> None:
        self.stream = stream
        self.reader = wire.MessageReader(stream)
        self.me = me
        self.answerer = answerer

    async def send(self, message: dict[str, Any]) -> None:
        await self.stream.write(wire.frame(message))

    async def reply(self) -> dict[str, Any] | None:
        """The next reply; None once the honest peer closed (or reset) the stream."""
        with trio.fail_after(REPLY_SECONDS):
            try:
                return await self.reader.read()
            except PeerError:
                return None

    async def ask(self, message: dict[str, Any]) -> dict[str, Any] | None:
        await self.send(message)
        return await self.reply()

    async def refused_then_closed(self) -> str:
        """The honest peer answers with an error, then closes the stream."""
        reply = await self.reply()
        assert reply is not None and reply["t"] == "error", reply
        assert await self.reply() is None
        return str(reply["message"])

    async def hello(self, held: list[tuple[ThreadId, list[ThreadKey]]],
                    nonce: bytes | None = None) -> dict[str, Any]:
        """Prove the threads whose keys we hold (as an honest client would)."""
        nonce = nonce or os.urandom(wire.NONCE_LENGTH)
        reply = await self.ask({"t": "hello", "nonce": nonce, "proofs": [
            proofs.ask_proof(key, thread, self.me, self.answerer, nonce)
            for thread, keys in held for key in proofs.proof_keys(keys)]})
        assert reply is not None and reply["t"] == "hello", reply
        return reply


async def connect(host: IHost, s: Scene) -> Hostile:
    honest = s.node.identity.peer_id
    with trio.fail_after(REPLY_SECONDS):
        stream = await open_stream(host, honest, s.a.service.addresses(), wire.PROTOCOL_ID)
    return Hostile(stream, PeerId(host.get_id().to_bytes()), honest)


NOTHING = {"t": "hello", "matches": []}


def empty_hello() -> dict[str, Any]:
    return {"t": "hello", "nonce": os.urandom(wire.NONCE_LENGTH), "proofs": []}


def framed(value: object) -> bytes:
    """Any CBOR value framed as a message (wire.frame takes maps only)."""
    body = cbor.encode(value)
    return uvarint(len(body)) + body


def random_thread() -> ThreadId:
    return ThreadId.from_random(ThreadVariant.ACCESS_CONTROLLED, os.urandom(32))

