"""A hostile peer that speaks `/threads/1.0.0` badly, against an honest
peer (a Node and its NetworkService on 127.0.0.1, in one trio run).

The hostile side is a bare libp2p host writing raw bytes and frames on a
stream it opened. Each attack must be refused (an error reply, or the stream
closed), leave the honest peer's store as it was, and leave it responsive:
in the same test an honest second peer still syncs a thread with it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio
from libp2p.abc import IHost

from tests.engine.eventstore.peers import force_commit, peer, texts
from tests.engine.modules.images import image_bytes
from tests.engine.net.hostile import (
    NOTHING,
    REPLY_SECONDS,
    Scene,
    connect,
    empty_hello,
    framed,
    hostile_host,
    random_thread,
    scene,
    standing,
    still_serves,
    uvarint,
)
from threads_desktop.engine.codec import cbor, nodes
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.core.keys import Identity
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.crypto import aead
from threads_desktop.engine.db.documents import db_event
from threads_desktop.engine.logstore.envelopes import Envelope, build_envelope, decode_envelope
from threads_desktop.engine.net import paging, proofs, server, wire
from threads_desktop.engine.net.budgets import Limits
from threads_desktop.engine.net.host import open_stream
from threads_desktop.engine.node import Node

# --- bytes and messages that break the protocol ------------------------------------------------

NONCE = bytes(range(16))
Attack = Callable[[Scene], bytes]
BROKEN: dict[str, list[Attack]] = {  # each attack of a kind on a stream of its own
    "an oversized length prefix": [
        lambda s: uvarint(paging.MAX_MESSAGE_BYTES + 1),  # and no body: refused before it comes
        lambda s: uvarint(2**63),
        lambda s: b"\xff" * 11,  # no uvarint at all
    ],
    "garbage bytes": [
        lambda s: b"\x08" + bytes.fromhex("deadbeef00112233"),
        lambda s: b"\x00",  # an empty message
        lambda s: framed_unsorted_hello(),  # non-canonical CBOR
    ],
    "CBOR that is no request": [
        lambda s: framed([1, 2, 3]),
        lambda s: framed({"thread": s.thread.raw}),  # no type
        lambda s: framed({"t": 7}),
        lambda s: framed({"t": b"hello"}),
    ],
    "an unknown request type": [
        lambda s: framed({"t": "gimme", "thread": s.thread.raw}),
        lambda s: framed({"t": "HELLO", "nonce": NONCE, "proofs": []}),
        lambda s: framed({"t": "", "nonce": NONCE, "proofs": []}),
        lambda s: framed({"t": "error", "message": "I am a reply"}),
    ],
    "fields of wrong types": [
        lambda s: framed({"t": "hello", "nonce": "0123456789abcdef", "proofs": []}),
        lambda s: framed({"t": "hello", "nonce": b"1234", "proofs": []}),
        lambda s: framed({"t": "hello", "nonce": NONCE, "proofs": b"x" * 32}),
        lambda s: framed({"t": "hello", "nonce": NONCE, "proofs": [b"short"]}),
        lambda s: framed({"t": "hello", "nonce": NONCE, "proofs": [bytes(32)] * (paging.MAX_PROOFS + 1)}),
        lambda s: framed({"t": "hello", "nonce": NONCE, "proofs": [], "addrs": [5]}),
        lambda s: framed({"t": "hello", "nonce": NONCE}),  # a field missing
        lambda s: framed({"t": "heads", "thread": 42}),
        lambda s: framed({"t": "heads", "thread": b"\x01\x70" + b"x" * 3}),
        lambda s: framed({"t": "invite", "sealed": "please"}),
    ],
    "extra fields": [
        lambda s: framed({"t": "hello", "nonce": NONCE, "proofs": [], "admin": True}),
        lambda s: framed({"t": "heads", "thread": s.thread.raw, "all": True}),
        lambda s: framed({"t": "invite", "sealed": b"x", "from": "a"}),
    ],
}


def framed_unsorted_hello() -> bytes:
    # DAG-CBOR sorts keys by length, then bytes: t, nonce, proofs. Here proofs comes first.
    body = (b"\xa3" + b"\x66proofs" + b"\x80" + b"\x61t" + b"\x65hello" + b"\x65nonce" + b"\x50" + NONCE)
    return uvarint(len(body)) + body


@pytest.mark.parametrize("kind", list(BROKEN))
def test_bytes_that_break_the_protocol_get_an_error_and_a_closed_stream(tmp_path: Path, kind: str) -> None:
    # One stranger breaks the protocol on every stream of a kind, and is still read after (admission.py).
    limits = Limits(stranger_breaks=len(BROKEN[kind]))

    async def main() -> None:
        async with scene(tmp_path, limits=limits) as s, hostile_host(Identity.generate()) as host:
            before = standing(s.node, s.thread)
            for attack in BROKEN[kind]:
                h = await connect(host, s)
                await h.stream.write(attack(s))
                await h.refused_then_closed()
            # The connection is fine, and a new stream gets a plain answer.
            again = await connect(host, s)
            assert await again.ask(empty_hello()) == NOTHING
            assert standing(s.node, s.thread) == before
            assert s.node.peers.threads_of(again.me) == []
            await still_serves(s)

    trio.run(main)


def test_a_refused_request_of_a_stranger_does_not_end_its_session(tmp_path: Path) -> None:
    async def main() -> None:
        async with scene(tmp_path) as s, hostile_host(Identity.generate()) as host:
            h = await connect(host, s)
            for _ in range(3):
                reply = await h.ask({"t": "heads", "thread": s.thread.raw})
                assert reply is not None and reply["t"] == "error"
                assert await h.ask(empty_hello()) == NOTHING
            await still_serves(s)

    trio.run(main)


# --- threads named without a proof --------------------------------------------------------------


def _naming(kind: str, s: Scene, thread: ThreadId, envelope: Envelope) -> dict[str, Any]:
    a_log = s.node.store.own_log(s.thread)
    assert a_log is not None
    head = s.node.store.logs(s.thread)[0].head
    requests: dict[str, dict[str, Any]] = {
        "heads": {"t": "heads", "thread": thread.raw},
        "records": {"t": "records", "thread": thread.raw, "log": a_log.raw, "after": 0},
        "push": {"t": "push", "thread": thread.raw, "records": [wire.envelope_value(envelope)]},
        "inventory": {"t": "inventory", "thread": thread.raw, "after": 0},
        "blocks": {"t": "blocks", "thread": thread.raw, "cids": [head]},
    }
    return requests[kind]


@pytest.mark.parametrize("kind", ["heads", "records", "push", "inventory", "blocks"])
def test_naming_a_thread_without_a_hello_proof_is_refused_and_tells_nothing(tmp_path: Path, kind: str) -> None:
    async def main() -> None:
        async with scene(tmp_path) as s, hostile_host(Identity.generate()) as host:
            b_post = s.b.node.chat(s.thread).post("not on a yet")
            own = s.b.node.store.own_log(s.thread)
            assert own is not None and b_post
            news = s.b.node.store.records_after(s.thread, own, 0)[-1].envelope  # a real record a lacks
            before = standing(s.node, s.thread)
            h = await connect(host, s)
            for hello_first in (False, True):
                if hello_first:  # a hello that proved nothing unlocks nothing
                    assert await h.ask({**empty_hello(), "proofs": [os.urandom(32)]}) == NOTHING
                held = await h.ask(_naming(kind, s, s.thread, news))
                unknown = await h.ask(_naming(kind, s, random_thread(), news))
                assert held is not None and held["t"] == "error"
                assert held == unknown  # a thread a holds and one nobody holds: the same words
            assert standing(s.node, s.thread) == before
            assert s.node.peers.threads_of(h.me) == []
            await still_serves(s)

    trio.run(main)


def test_a_hello_with_random_proofs_matches_nothing_and_reveals_nothing(tmp_path: Path) -> None:
    async def main() -> None:
        async with scene(tmp_path) as s, hostile_host(Identity.generate()) as host:
            before = standing(s.node, s.thread)
            h = await connect(host, s)
            for count in (1, 16, paging.MAX_PROOFS):
                nonce = os.urandom(wire.NONCE_LENGTH)
                reply = await h.ask({"t": "hello", "nonce": nonce, "proofs": [os.urandom(32) for _ in range(count)],
                                     "addrs": ["/ip4/127.0.0.1/tcp/1"]})
                assert reply == NOTHING  # word for word what a profile without threads says
                assert wire.frame(reply) == wire.frame(NOTHING)
            reply = await h.ask({"t": "heads", "thread": s.thread.raw})
            assert reply is not None and reply["t"] == "error"
            assert standing(s.node, s.thread) == before
            assert s.node.peers.threads_of(h.me) == [] and s.node.addresses.addresses(h.me) == []
            await still_serves(s)

    trio.run(main)


def test_a_hello_replaying_a_members_proof_matches_nothing(tmp_path: Path) -> None:
    async def main() -> None:
        async with scene(tmp_path) as s, hostile_host(Identity.generate()) as host:
            b_id, a_id = s.b.node.identity.peer_id, s.node.identity.peer_id
            nonce = os.urandom(wire.NONCE_LENGTH)
            keys = proofs.proof_keys(s.b.node.store.thread_keys(s.thread))
            overheard = [proofs.ask_proof(k, s.thread, b_id, a_id, nonce) for k in keys]
            # They are good proofs, from b to a...
            assert proofs.match_proofs(overheard, [(s.thread, s.node.store.thread_keys(s.thread))], b_id, a_id,
                                       nonce)
            before = standing(s.node, s.thread)
            h = await connect(host, s)
            # ...but bound to b's peer ID, which Noise authenticates: from anyone else they name nothing.
            assert await h.ask({"t": "hello", "nonce": nonce, "proofs": overheard}) == NOTHING
            reply = await h.ask({"t": "heads", "thread": s.thread.raw})
            assert reply is not None and reply["t"] == "error"
            assert standing(s.node, s.thread) == before
            await still_serves(s)

    trio.run(main)


# --- a member pushing records it should not ---------------------------------------------------------


def _own_records(node: Node, thread: ThreadId, after: int = 0) -> list[Envelope]:
    own = node.store.own_log(thread)
    assert own is not None
    return [r.envelope for r in node.store.records_after(thread, own, after)]


def _forge(m: Node, thread: ThreadId, *, seq: int, prev: bytes | None, text: str) -> Envelope:
    """A record of m's log, signed with its log key, at any place it likes."""
    own = m.store.own_log(thread)
    assert own is not None
    key = m.membership.writing_key(thread, content=True)
    assert key is not None
    decoded = build_envelope(
        thread_id=thread, key=key, log_key=m.store._log_key(thread, own), prev_cid=prev, seq=seq,
        payload=db_event({"op": "create", "c": "message", "id": f"forged-{seq}", "set": {"text": text}}),
        hlc=m._services.clock.tick(), deps=(), random_bytes=os.urandom)
    return decoded.envelope


def _bad_signature(m: Node, thread: ThreadId) -> Envelope:
    m.chat(thread).post("signed badly")
    envelope = _own_records(m, thread)[-1]
    keys = m.store.thread_keys(thread)
    decoded = decode_envelope(envelope, keys)
    signature = bytes([decoded.record.signature[0] ^ 1]) + decoded.record.signature[1:]
    record = dataclasses.replace(decoded.record, signature=signature)
    key = next(k for k in keys if k.epoch == decoded.follow_epoch)
    sealed = nodes.encode_sealed(aead.seal(key.follow_cipher, cbor.encode(nodes.record_map(record)),
                                           aead.AAD_RECORD, os.urandom))
    return Envelope(sealed, envelope.event, envelope.header, envelope.body)


def _position(node: Node, thread: ThreadId, log: PeerId) -> tuple[int, bytes | None]:
    head = next(h for h in node.store.logs(thread) if h.log_id == log)
    return head.seq, head.head


def _forgeries(kind: str, s: Scene, m: Node) -> list[Envelope]:
    own = m.store.own_log(s.thread)
    assert own is not None
    seq, head = _position(s.node, s.thread, own)  # where a holds m's log
    if kind == "a bad signature":
        return [_bad_signature(m, s.thread)]
    if kind == "a gap":
        m.chat(s.thread).post("first")
        m.chat(s.thread).post("second")
        return _own_records(m, s.thread, seq)[1:]
    if kind == "a fork":  # another record where a holds one already
        prev = s.node.store.records_after(s.thread, own, seq - 2)[0].record_cid if seq > 1 else None
        return [_forge(m, s.thread, seq=seq, prev=prev, text="another past")]
    if kind == "a record following another log":
        a_log = s.node.store.own_log(s.thread)
        assert a_log is not None
        return [_forge(m, s.thread, seq=seq + 1, prev=_position(s.node, s.thread, a_log)[1], text="grafted")]
    if kind == "a record of another thread":
        other = m.create_thread(ThreadKind.CHAT, "elsewhere").thread_id
        m.chat(other).post("from elsewhere")
        return _own_records(m, other)
    if kind == "a record of a log at the wrong seq":
        return [_forge(m, s.thread, seq=seq + 5, prev=head, text="far ahead")]
    raise AssertionError(kind)


FORGERIES = ["a bad signature", "a gap", "a fork", "a record following another log", "a record of another thread",
             "a record of a log at the wrong seq"]


@pytest.mark.parametrize("kind", FORGERIES)
def test_a_member_pushing_a_forged_record_is_refused_and_its_good_records_still_go_in(
        tmp_path: Path, kind: str) -> None:
    async def main() -> None:
        async with scene(tmp_path, member=True) as s:
            m = s.member
            assert m is not None
            forged = _forgeries(kind, s, m)
            before = standing(s.node, s.thread)
            async with hostile_host(m.identity) as host:
                h = await connect(host, s)
                hello = await h.hello([(s.thread, m.store.thread_keys(s.thread))])
                assert len(hello["matches"]) == 1
                reply = await h.ask({"t": "push", "thread": s.thread.raw,
                                     "records": [wire.envelope_value(e) for e in forged]})
                assert reply is not None and reply["t"] == "push", reply
                assert reply["added"] == 0 and reply["refused"], reply
                assert standing(s.node, s.thread) == before
                # The same member's honest records still go in, on the same session.
                m.chat(s.thread).post("honest words")
                own = m.store.own_log(s.thread)
                assert own is not None
                pending = _own_records(m, s.thread, _position(s.node, s.thread, own)[0])
                reply = await h.ask({"t": "push", "thread": s.thread.raw,
                                     "records": [wire.envelope_value(e) for e in pending]})
                assert reply is not None and reply["t"] == "push", reply
                assert reply["added"] == len(pending) and not reply["refused"], reply
                assert "honest words" in texts(s.node, s.thread)
                assert not s.node.events.refused(s.thread)
            await still_serves(s)

    trio.run(main)


def test_records_of_a_writer_that_is_no_member_change_no_view(tmp_path: Path) -> None:
    """x holds the thread's keys (as a version 1 link gave them) but was
    never admitted: its hello matches nothing (nobody syncs before being
    admitted), and what it would push is refused."""
    async def main() -> None:
        async with scene(tmp_path) as s:
            x = Node.open(tmp_path / "x")
            try:
                x.store.create_thread(s.thread, s.node.store.thread_keys(s.thread)[0])
                x.store.create_own_log(s.thread)
                force_commit(x, s.thread, [db_event({"op": "create", "c": "message", "id": "x1",
                                                     "set": {"text": "let me in"}})], apply_locally=False)
                before = standing(s.node, s.thread)
                async with hostile_host(x.identity) as host:
                    h = await connect(host, s)
                    assert await h.hello([(s.thread, x.store.thread_keys(s.thread))]) == NOTHING
                    reply = await h.ask({"t": "push", "thread": s.thread.raw,
                                         "records": [wire.envelope_value(e) for e in _own_records(x, s.thread)]})
                    assert reply is not None and reply["t"] == "error", reply
                assert standing(s.node, s.thread) == before
                await still_serves(s)
                assert "let me in" not in texts(s.b.node, s.thread)
            finally:
                x.close()

    trio.run(main)


MEMBER_BROKEN: dict[str, list[Callable[[Scene], dict[str, Any]]]] = {
    "fields of wrong types": [
        lambda s: {"t": "records", "thread": s.thread.raw, "log": _a_log(s), "after": -1},
        lambda s: {"t": "records", "thread": s.thread.raw, "log": _a_log(s), "after": True},
        lambda s: {"t": "records", "thread": s.thread.raw, "log": _a_log(s), "after": 2**63},
        lambda s: {"t": "records", "thread": s.thread.raw, "log": b"x", "after": 0},
        lambda s: {"t": "push", "thread": s.thread.raw, "records": [[b"a", b"b", b"c"]]},
        lambda s: {"t": "push", "thread": s.thread.raw, "records": "all of them"},
        lambda s: {"t": "push", "thread": s.thread.raw,
                   "records": [[b"", b"", b"", b""]] * (paging.MAX_PAGE_RECORDS + 1)},
        lambda s: {"t": "blocks", "thread": s.thread.raw, "cids": [b"short"]},
        lambda s: {"t": "inventory", "thread": s.thread.raw, "after": 1.5},
    ],
    "extra fields": [
        lambda s: {"t": "records", "thread": s.thread.raw, "log": _a_log(s), "after": 0, "limit": 10**6},
        lambda s: {"t": "push", "thread": s.thread.raw, "records": [], "trust": True},
        lambda s: {"t": "blocks", "thread": s.thread.raw, "cids": [], "all": True},
    ],
}


def _a_log(s: Scene) -> bytes:
    own = s.node.store.own_log(s.thread)
    assert own is not None
    return own.raw


@pytest.mark.parametrize("kind", list(MEMBER_BROKEN))
def test_a_member_whose_request_breaks_the_protocol_loses_its_session(tmp_path: Path, kind: str) -> None:
    async def main() -> None:
        async with scene(tmp_path, member=True) as s:
            m = s.member
            assert m is not None
            before = standing(s.node, s.thread)
            async with hostile_host(m.identity) as host:
                for attack in MEMBER_BROKEN[kind]:
                    h = await connect(host, s)
                    assert len((await h.hello([(s.thread, m.store.thread_keys(s.thread))]))["matches"]) == 1
                    await h.send(attack(s))
                    await h.refused_then_closed()
            assert standing(s.node, s.thread) == before
            await still_serves(s)

    trio.run(main)


# --- a member removed ------------------------------------------------------------------------------


def test_a_removed_member_under_a_new_identity_is_refused(tmp_path: Path) -> None:
    async def main() -> None:
        async with scene(tmp_path, member=True) as s:
            m = s.member
            assert m is not None
            old_keys = m.store.thread_keys(s.thread)
            s.node.membership.revoke(s.thread, peer(m), Role.FOLLOW)  # keys rotated; m never hears of it
            s.node.chat(s.thread).post("after m left")
            before = standing(s.node, s.thread)
            async with hostile_host(Identity.generate()) as host:
                h = await connect(host, s)
                assert await h.hello([(s.thread, old_keys)]) == NOTHING
                # Every epoch's follow key, one by one: none opens the door.
                for key in old_keys:
                    assert await h.hello([(s.thread, [key])]) == NOTHING
                for request in ({"t": "heads", "thread": s.thread.raw},
                                {"t": "records", "thread": s.thread.raw, "log": _a_log(s), "after": 0},
                                {"t": "inventory", "thread": s.thread.raw, "after": 0}):
                    reply = await h.ask(request)
                    assert reply is not None and reply["t"] == "error", reply
            assert standing(s.node, s.thread) == before
            await still_serves(s)

    trio.run(main)


def test_a_removed_member_holding_old_keys_is_served_its_removal_and_nothing_after(tmp_path: Path) -> None:
    """As itself it is told (issue 16): the records up to the signed
    revocation, and not one after; no blocks; its pushes are refused."""
    async def main() -> None:
        async with scene(tmp_path, member=True) as s:
            m = s.member
            assert m is not None
            old_keys = m.store.thread_keys(s.thread)
            s.node.membership.revoke(s.thread, peer(m), Role.FOLLOW)  # keys rotated; m never hears of it
            revoked_at = _position(s.node, s.thread, PeerId(_a_log(s)))[0]
            s.node.chat(s.thread).post("after m left")
            m.chat(s.thread).post("m writes on, not knowing")
            before = standing(s.node, s.thread)
            async with hostile_host(m.identity) as host:
                h = await connect(host, s)
                assert len((await h.hello([(s.thread, old_keys)]))["matches"]) == 1
                heads = await h.ask({"t": "heads", "thread": s.thread.raw})
                assert heads is not None and heads["t"] == "heads", heads
                assert [seq for log, seq, _cid in heads["heads"] if log == _a_log(s)] == [revoked_at]
                assert heads["peers"] == []
                # Asking again reads no record: what stood at a cap never changes.
                statements: list[str] = []
                s.node.database.connection.set_trace_callback(statements.append)
                try:
                    assert await h.ask({"t": "heads", "thread": s.thread.raw}) == heads
                finally:
                    s.node.database.connection.set_trace_callback(None)
                assert not [q for q in statements if "FROM records" in q]
                reply = await h.ask({"t": "records", "thread": s.thread.raw, "log": _a_log(s), "after": 0})
                assert reply is not None and len(reply["records"]) == revoked_at and not reply["more"]
                reply = await h.ask({"t": "records", "thread": s.thread.raw, "log": _a_log(s),
                                     "after": revoked_at})
                assert reply == {"t": "records", "records": [], "more": False}
                reply = await h.ask({"t": "inventory", "thread": s.thread.raw, "after": 0})
                assert reply is not None and reply["blocks"] == []
                reply = await h.ask({"t": "push", "thread": s.thread.raw,
                                     "records": [wire.envelope_value(e) for e in _own_records(m, s.thread)]})
                assert reply is not None and reply["added"] == 0 and reply["refused"], reply
            assert standing(s.node, s.thread) == before
            await still_serves(s)

    trio.run(main)


def test_a_member_removed_during_its_session_is_capped_at_once(tmp_path: Path) -> None:
    async def main() -> None:
        async with scene(tmp_path, member=True) as s:
            m = s.member
            assert m is not None
            async with hostile_host(m.identity) as host:
                h = await connect(host, s)
                assert len((await h.hello([(s.thread, m.store.thread_keys(s.thread))]))["matches"]) == 1
                heads = await h.ask({"t": "heads", "thread": s.thread.raw})
                assert heads is not None and heads["t"] == "heads"
                s.node.membership.revoke(s.thread, peer(m), Role.FOLLOW)
                revoked_at = _position(s.node, s.thread, PeerId(_a_log(s)))[0]
                s.node.chat(s.thread).post("after the removal")
                before = standing(s.node, s.thread)
                m.chat(s.thread).post("one last word")
                heads = await h.ask({"t": "heads", "thread": s.thread.raw})
                assert heads is not None and [seq for log, seq, _cid in heads["heads"]
                                              if log == _a_log(s)] == [revoked_at], heads
                reply = await h.ask({"t": "push", "thread": s.thread.raw,
                                     "records": [wire.envelope_value(e) for e in _own_records(m, s.thread)]})
                assert reply is not None and reply["added"] == 0, reply
                assert standing(s.node, s.thread) == before
            await still_serves(s)

    trio.run(main)


def test_a_stranger_with_the_current_keys_fetches_nothing_before_it_is_admitted(tmp_path: Path) -> None:
    """Links carry no keys now, so nobody needs to fetch before being
    admitted: whoever proves the keys, a removed member's old ones or the
    current ones (say, handed on by a member), gets nothing unless the ACL
    names it."""
    async def main() -> None:
        async with scene(tmp_path, member=True) as s:
            m = s.member
            assert m is not None
            old_keys = s.node.store.thread_keys(s.thread)
            s.node.membership.revoke(s.thread, peer(m), Role.FOLLOW)
            current = s.node.store.thread_keys(s.thread)
            assert current[0].epoch not in {key.epoch for key in old_keys}
            async with hostile_host(Identity.generate()) as host:
                h = await connect(host, s)
                assert await h.hello([(s.thread, old_keys)]) == NOTHING
                assert await h.hello([(s.thread, current)]) == NOTHING
                heads = await h.ask({"t": "heads", "thread": s.thread.raw})
                assert heads is not None and heads["t"] == "error"
            await still_serves(s)

    trio.run(main)


def test_a_newcomer_is_served_only_once_an_admin_admitted_it(tmp_path: Path) -> None:
    """The other side of the test above: a joiner proving the thread's
    current keys (leaked to it) gets nothing before its admission; once an
    admin admitted it, the same hello matches and it may sync."""
    async def main() -> None:
        async with scene(tmp_path) as s:
            x = Node.open(tmp_path / "x")
            try:
                x.join(s.node.invite(s.thread, Role.WRITE))
                async with hostile_host(x.identity) as host:
                    h = await connect(host, s)
                    assert await h.hello([(s.thread, s.node.store.thread_keys(s.thread))]) == NOTHING
                request = x.membership.admission_request(s.thread)
                x.take_admission(s.thread, s.node.answer_admission(request, str(x.identity.peer_id)))
                async with hostile_host(x.identity) as host:
                    h = await connect(host, s)
                    reply = await h.hello([(s.thread, x.store.thread_keys(s.thread))])
                    assert len(reply["matches"]) == 1
                    heads = await h.ask({"t": "heads", "thread": s.thread.raw})
                    assert heads is not None and heads["t"] == "heads"
                await still_serves(s)
            finally:
                x.close()

    trio.run(main)


# --- floods ----------------------------------------------------------------------------------------


async def _flood(host: IHost, s: Scene, streams: int, per_stream: int) -> tuple[dict[str, int], float]:
    """`streams` streams at once, each writing `per_stream` hellos in one go
    and reading every reply; counts the replies by kind."""
    counts: dict[str, int] = {}
    started = trio.current_time()

    async def one() -> None:
        h = await connect(host, s)
        await h.stream.write(wire.frame(empty_hello()) * per_stream)
        for _ in range(per_stream):
            reply = await h.reply()
            assert reply is not None
            kind = "ok" if reply == NOTHING else str(reply.get("message"))
            counts[kind] = counts.get(kind, 0) + 1
        await h.stream.close()

    async with trio.open_nursery() as nursery:
        for _ in range(streams):
            nursery.start_soon(one)
    return counts, trio.current_time() - started


def _allowed(seconds: float) -> float:
    """Replies a peer may get in `seconds` (with some slack for timing)."""
    return server.REQUEST_BURST + server.REQUESTS_PER_SECOND * (seconds + 0.5)


@pytest.mark.alone  # a time bound under its own load: no other test beside it
def test_a_flood_on_one_stream_gets_too_many_requests_and_others_are_still_served(tmp_path: Path) -> None:
    async def main() -> None:
        async with scene(tmp_path) as s, hostile_host(Identity.generate()) as host:
            results: list[tuple[dict[str, int], float]] = []

            async def flood() -> None:
                results.append(await _flood(host, s, 1, 2000))

            with trio.fail_after(30):
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(flood)
                    await still_serves(s, "during the flood")  # at once, while the flood goes on
            [(counts, seconds)] = results
            assert sum(counts.values()) == 2000
            assert counts.get("too many requests: slow down", 0) > 0, counts
            assert counts.get("ok", 0) <= _allowed(seconds), (counts, seconds)
            await still_serves(s)

    trio.run(main)


def test_a_flood_spread_over_many_streams_is_limited_as_one(tmp_path: Path) -> None:
    """The limit is the peer's, not the stream's: opening more streams buys
    no more requests."""
    async def main() -> None:
        async with scene(tmp_path) as s, hostile_host(Identity.generate()) as host:
            with trio.fail_after(30):
                counts, seconds = await _flood(host, s, server.MAX_SESSIONS_PER_PEER, 250)
            assert sum(counts.values()) == server.MAX_SESSIONS_PER_PEER * 250
            assert counts.get("ok", 0) <= _allowed(seconds), (counts, seconds)
            await still_serves(s)

    trio.run(main)


def test_a_peer_opening_more_sessions_than_allowed_is_refused_the_extra_ones(tmp_path: Path) -> None:
    """Each session may hold a message of 8 MiB in memory: a peer gets a few."""
    async def main() -> None:
        async with scene(tmp_path) as s, hostile_host(Identity.generate()) as host:
            with trio.fail_after(30):
                held = [await connect(host, s) for _ in range(server.MAX_SESSIONS_PER_PEER)]
                for h in held:  # each session is open and answering
                    assert await h.ask(empty_hello()) == NOTHING
                extra = await connect(host, s)
                await extra.send(empty_hello())
                reply = await extra.reply()
                assert reply is not None and reply == {"t": "error", "message": "too many sessions open"}
                await held[0].stream.close()
            await still_serves(s)

    trio.run(main)


# --- blocks -----------------------------------------------------------------------------------------


def test_blocks_of_a_thread_not_proven_are_never_served(tmp_path: Path) -> None:
    async def main() -> None:
        async with scene(tmp_path, member=True) as s:
            m = s.member
            assert m is not None
            album = s.node.create_thread(ThreadKind.ALBUM, "Private").thread_id  # m is not in it
            photo = tmp_path / "photo.jpg"
            photo.write_bytes(image_bytes("JPEG", seed=7))
            s.node.photos(album).add_files([photo])
            cids = [entry.cid for _, entry in s.node.blobs(album).inventory(0, 100)]
            assert cids and s.node.blobs(album).read_blocks(cids, 1 << 30)  # real blocks, a holds them
            async with hostile_host(m.identity) as host:
                h = await connect(host, s)
                hello = await h.hello([(s.thread, m.store.thread_keys(s.thread))])
                assert len(hello["matches"]) == 1  # m proves the chat it is in
                for request in ({"t": "inventory", "thread": album.raw, "after": 0},
                                {"t": "blocks", "thread": album.raw, "cids": cids}):
                    reply = await h.ask(request)
                    assert reply is not None and reply["t"] == "error", reply
                # The album's CIDs asked for under the chat m proved: not its blocks.
                assert await h.ask({"t": "blocks", "thread": s.thread.raw, "cids": cids}) == \
                    {"t": "blocks", "blocks": []}
                inventory = await h.ask({"t": "inventory", "thread": s.thread.raw, "after": 0})
                assert inventory is not None and inventory["blocks"] == []
            await still_serves(s)

    trio.run(main)


@pytest.mark.parametrize("allowed", [False, True])
def test_garbage_on_the_gossip_protocol_ends_that_stream_not_the_network(tmp_path: Path, allowed: bool) -> None:
    """py-libp2p's pubsub let protobuf's DecodeError end the host: one bad
    frame from anyone who could connect took the network down."""
    from libp2p.pubsub.gossipsub import PROTOCOL_ID_V12

    async def main() -> None:
        async with scene(tmp_path) as s, hostile_host(Identity.generate()) as host:
            gossip = s.a.service.gossip
            assert gossip is not None
            if allowed:  # as if it had proved a thread in a session
                gossip.allow(PeerId(host.get_id().to_bytes()))
            for _ in range(3):
                with trio.fail_after(REPLY_SECONDS):
                    stream = await open_stream(host, s.node.identity.peer_id, s.a.service.addresses(),
                                               PROTOCOL_ID_V12)
                await stream.write(uvarint(40) + b"\xff" * 40)  # not an RPC
            await still_serves(s)
            assert s.node.network is s.a.service  # the same service: it never stopped

    trio.run(main)
