"""A device certificate in a hello costs nothing before a proof matches
(review of issue 19, finding 7): the answering node reads it, checks its
signature and looks up its person only for a thread the sender proved,
and then only in that thread. Real profiles; the hello goes through
`SyncServer.serve` as bytes, as the network hands a session over."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import trio

from tests.engine.eventstore.peers import join
from tests.engine.net.test_joining_limits import BytesStream
from threads_desktop.engine.acl.devices import issue_cert
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.keys import Identity, SigningKey
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.net import proofs, wire
from threads_desktop.engine.net.budgets import Budgets
from threads_desktop.engine.net.server import SyncServer
from threads_desktop.engine.networking import NodeThreads
from threads_desktop.engine.node import Node

OpenNode = Callable[..., Node]


def _book(node: Node) -> list[tuple[str, str]]:
    return node.database.connection.execute("SELECT person_id, device_id FROM device_book ORDER BY 1, 2").fetchall()


def _hello(node: Node, sender: Identity, cert: bytes, proven: list[ThreadId]) -> dict[str, Any]:
    """`sender`'s hello to `node` with `cert`, proving `proven` (with the
    keys `node` holds) and a random proof besides; `node`'s answer."""
    nonce = os.urandom(16)
    asked = [proofs.ask_proof(node.store.thread_keys(t)[0], t, sender.peer_id, node.identity.peer_id, nonce)
             for t in proven] + [os.urandom(32)]
    stream = BytesStream(wire.frame({"t": "hello", "nonce": nonce, "addrs": [], "proofs": asked, "cert": cert}))
    server = SyncServer(NodeThreads(node), node.identity.peer_id, lambda _t, _p: [], lambda _t, _p: None,
                        lambda _p, _t, _a: None, lambda _p: None, Budgets(lambda _p: False))
    trio.run(server.serve, stream, sender.peer_id, "127.0.0.1")
    return _decoded(b"".join(stream.written))


def _decoded(data: bytes) -> dict[str, Any]:
    async def read() -> dict[str, Any] | None:
        return await wire.MessageReader(BytesStream(data)).read()
    message = trio.run(read)
    assert message is not None and message["t"] == "hello", message
    return message


def _laptops_new_desktop(open_node: OpenNode) -> tuple[Node, Node, ThreadId, ThreadId, Identity, bytes]:
    """A friend shares a chat with Alice's laptop and holds an album of its
    own; Alice certified a desktop the friend never met."""
    friend, laptop = open_node("friend"), open_node("laptop")
    chat = friend.create_thread(ThreadKind.CHAT, "Trip").thread_id
    album = friend.create_thread(ThreadKind.ALBUM, "Friend's own").thread_id
    join(friend, laptop, chat)
    desktop = Identity.generate()
    cert = issue_cert(laptop.persons.book.person_key(), desktop.peer_id, "Desktop", 1).to_bytes()
    return friend, laptop, chat, album, desktop, cert


def test_a_members_device_certificate_in_a_hello_that_proves_nothing_is_not_even_read(
        open_node: OpenNode) -> None:
    friend, _laptop, _chat, _album, desktop, cert = _laptops_new_desktop(open_node)
    before = _book(friend)
    reply = _hello(friend, desktop, cert, [])
    assert reply["matches"] == []
    assert _book(friend) == before  # before the fix: checked and kept, for a peer that proved nothing


def test_the_certificate_counts_once_its_sender_proves_a_thread_its_person_is_in(open_node: OpenNode) -> None:
    friend, laptop, chat, album, desktop, cert = _laptops_new_desktop(open_node)
    before = _book(friend)
    # Holding the album's keys (leaked, say) does not make Alice's person a member of it.
    assert _hello(friend, desktop, cert, [album])["matches"] == []
    assert _book(friend) == before
    reply = _hello(friend, desktop, cert, [chat])
    assert [match[0] for match in reply["matches"]] == [0]
    assert (laptop.persons.person_id, str(desktop.peer_id)) in _book(friend)


def test_a_made_up_person_with_a_proof_of_the_thread_is_neither_kept_nor_admitted(open_node: OpenNode) -> None:
    friend, _laptop, chat, _album, _desktop, _cert = _laptops_new_desktop(open_node)
    stranger = Identity.generate()  # a removed member's keys under a new identity, say
    made_up = issue_cert(SigningKey.generate(), stranger.peer_id, "Box", 1).to_bytes()
    before = _book(friend)
    assert _hello(friend, stranger, made_up, [chat])["matches"] == []
    assert _book(friend) == before
