"""What a stranger can do with `/threads/join/1.0.0`: any bytes get at most
one answer and change nothing; a flood of requests is turned away by the
limits, and the node still admits an honest joiner afterwards."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.engine.eventstore.peers import texts
from tests.engine.net.hostile import hostile_host, standing, uvarint
from tests.engine.net.running import wait_until
from threads_desktop.engine.acl.admission import AdmissionRequest
from threads_desktop.engine.acl.control_ops import binding_message, join_message
from threads_desktop.engine.codec import cbor
from threads_desktop.engine.core.errors import PeerError, ProtocolError, ThreadsError
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.core.keys import Identity, SigningKey
from threads_desktop.engine.core.members import AdmissionStatus, Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.net import joining, wire
from threads_desktop.engine.net.budgets import Budgets
from threads_desktop.engine.net.host import open_stream
from threads_desktop.engine.net.joining import JoinServer
from threads_desktop.engine.networking import NodeAdmissions, connect_network
from threads_desktop.engine.node import Node


def _request(thread_id: ThreadId, asker: Identity) -> bytes:
    """A well-formed request, signed with an invite key the thread never made."""
    invite = SigningKey.generate()
    invite_key = invite.peer_id.public_key
    log = Identity.generate().peer_id
    exchange = asker.exchange_public_key()
    return AdmissionRequest(
        thread_id, invite_key, log, asker.peer_id, exchange,
        asker.signing.sign(binding_message(thread_id, log, asker.peer_id, exchange)),
        invite.sign(join_message(thread_id, invite_key, log, asker.peer_id)), "Mallory").to_bytes()


class BytesStream:
    """A stranger's stream as bytes: what it sent, then the end; what the server writes is kept."""

    def __init__(self, sent: bytes) -> None:
        self._sent = sent
        self.written: list[bytes] = []
        self.closed = False

    async def read(self, n: int) -> bytes:
        chunk, self._sent = self._sent[:n], self._sent[n:]
        return chunk

    async def write(self, data: bytes) -> None:
        self.written.append(data)

    async def close(self) -> None:
        self.closed = True

    async def reset(self) -> None:
        self.closed = True


STRANGER = Identity.generate()
values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**64 - 1), st.binary(max_size=80), st.text(max_size=40)),
    lambda inner: st.one_of(st.lists(inner, max_size=6), st.dictionaries(st.text(max_size=8), inner, max_size=6)),
    max_leaves=16)
payloads = st.one_of(st.binary(max_size=600), values.map(cbor.encode))
framed = st.one_of(payloads.map(lambda p: {"t": "join", "request": p}),
                   st.dictionaries(st.sampled_from(["t", "request", "x"]), values, max_size=3)).map(
    lambda m: uvarint(len(cbor.encode(m))) + cbor.encode(m))


def test_any_bytes_get_at_most_one_answer_and_change_nothing(open_node: Any) -> None:
    node: Node = open_node("a")
    thread_id = node.create_thread(ThreadKind.CHAT, "Us").thread_id
    node.chat(thread_id).post("one")
    node.invite(thread_id, Role.WRITE)
    before = standing(node, thread_id)

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.one_of(st.binary(max_size=600), framed))
    def check(sent: bytes) -> None:
        async def main() -> BytesStream:
            stream = BytesStream(sent)
            server = JoinServer(NodeAdmissions(node), Budgets(lambda _peer: False))
            with trio.fail_after(15):
                await server.serve(stream, STRANGER.peer_id, "127.0.0.1")
            return stream

        stream = trio.run(main)
        assert stream.closed and len(stream.written) <= 1
        for reply in stream.written:
            assert len(reply) <= joining.MAX_ANSWER_BYTES

    check()
    assert standing(node, thread_id) == before
    assert node.membership.join_requests(thread_id) == [] or all(
        r.status == "refused" for r in node.membership.join_requests(thread_id))


def test_a_stranger_flooding_join_requests_is_refused_and_an_honest_joiner_still_gets_in(tmp_path: Path) -> None:
    async def main() -> tuple[int, int]:
        a, b = Node.open(tmp_path / "a"), Node.open(tmp_path / "b")
        try:
            thread_id = a.create_thread(ThreadKind.CHAT, "Us").thread_id
            a.chat(thread_id).post("one")
            async with trio.open_nursery() as nursery:
                service = connect_network(a, listen=["/ip4/127.0.0.1/tcp/0"], pull_interval=3600.0)
                await nursery.start(service.run)
                joined = connect_network(b, listen=["/ip4/127.0.0.1/tcp/0"], pull_interval=3600.0)
                await nursery.start(joined.run)
                link = a.invite(thread_id, Role.WRITE)
                before = standing(a, thread_id)
                busy = await _flood(service.addresses(), a.identity.peer_id, thread_id)
                assert standing(a, thread_id) == before
                b.join(link)
                await wait_until(b, lambda: b.directory.holds(thread_id) and texts(b, thread_id) == ["one"],
                                 timeout=30.0)
                server = service.join_server
                assert server is not None
                nursery.cancel_scope.cancel()
                return busy, server.refused
        finally:
            a.close()
            b.close()

    busy, refused = trio.run(main)
    print(f"flood: {busy} of 60 requests answered busy (server refused {refused})")
    assert busy >= 30 and refused >= busy


async def _flood(addresses: list[str], admin: PeerId, thread_id: ThreadId) -> int:
    """Six fresh identities from 127.0.0.1, ten requests each at once: how many got "busy"."""
    busy = 0

    async def one(identity: Identity, host: Any) -> None:
        nonlocal busy
        try:
            with trio.fail_after(15):
                stream = await open_stream(host, admin, addresses, joining.PROTOCOL_ID)
                await joining.ask(stream, _request(thread_id, identity) if os.urandom(1)[0] & 1 else os.urandom(200))
        except PeerError as exc:
            busy += "busy" in str(exc)
        except ProtocolError:
            pass

    async with trio.open_nursery() as hosts:
        made = []
        for _ in range(6):
            identity = Identity.generate()
            made.append((identity, await hosts.start(_host, identity)))
        async with trio.open_nursery() as requests:
            for identity, host in made:
                for _ in range(10):
                    requests.start_soon(one, identity, host)
        hosts.cancel_scope.cancel()
    return busy


async def _host(identity: Identity, task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED) -> None:
    async with hostile_host(identity) as host:
        task_status.started(host)
        await trio.sleep_forever()


def test_any_answer_bytes_leave_a_pending_join_waiting_or_refused_never_half_joined(open_node: Any) -> None:
    """The joiner's side of a hostile peer: whatever it answers, the join is
    refused (if the peer was named by the link), or still waits; never a
    thread without keys that open."""
    admin, joiner = open_node("a"), open_node("b")
    thread_id = admin.create_thread(ThreadKind.CHAT, "Us").thread_id
    joiner.join(admin.invite(thread_id, Role.WRITE))
    admissions = NodeAdmissions(joiner)
    statuses = {a.value: a for a in AdmissionStatus}

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.one_of(payloads, st.fixed_dictionaries(
        {"status": st.sampled_from(sorted(statuses)), "box": st.binary(max_size=300),
         "role": st.sampled_from(["follow", "read", "write", "admin", "x"]),
         "reason": st.sampled_from(["used-up", "expired", "why"])}).map(cbor.encode)))
    def check(answer: bytes) -> None:
        try:
            status = admissions.take(thread_id, answer, STRANGER.peer_id, final=False)
        except (ProtocolError, ThreadsError):
            status = None
        state = joiner.join_state(thread_id)
        assert state is not None and state.status in ("waiting", "waiting-approval")
        assert status in (None, "unknown", "refused", "waiting-approval")
        assert not joiner.directory.holds(thread_id)

    check()


def test_what_a_stranger_sends_after_its_join_request_is_dropped_with_the_stream(tmp_path: Path) -> None:
    """A join request followed by 200 KiB more, four times (the per-peer
    burst): each is answered, and what came after it must not stay in the
    node's memory (py-libp2p's yamux keeps a stream's unread bytes)."""
    streams, extra = 4, 200 << 10

    async def main() -> int:
        a = Node.open(tmp_path / "a")
        try:
            thread_id = a.create_thread(ThreadKind.CHAT, "Us").thread_id
            async with trio.open_nursery() as nursery:
                service = connect_network(a, listen=["/ip4/127.0.0.1/tcp/0"], pull_interval=3600.0)
                await nursery.start(service.run)
                identity = Identity.generate()
                async with hostile_host(identity) as host:
                    for _ in range(streams):
                        with trio.fail_after(10):
                            stream = await open_stream(host, a.identity.peer_id, service.addresses(),
                                                       joining.PROTOCOL_ID)
                            request = joining.frame(joining.request_message(_request(thread_id, identity)),
                                                    joining.MAX_REQUEST_BYTES)
                            await stream.write(request + os.urandom(extra))
                            assert joining.parse_answer(
                                await wire.MessageReader(stream, joining.MAX_ANSWER_BYTES).read() or {})
                    with trio.fail_after(10):  # a round trip more: whatever was sent has arrived
                        stream = await open_stream(host, a.identity.peer_id, service.addresses(),
                                                   joining.PROTOCOL_ID)
                        with pytest.raises(PeerError):  # "busy" (the burst is spent) or "not a request"
                            await joining.ask(stream, b"x")
                    unread = service.unread_bytes()
                nursery.cancel_scope.cancel()
                return unread
        finally:
            a.close()

    unread = trio.run(main)
    assert unread < extra, unread


class SilentStream(BytesStream):
    """A stranger that opens a join stream and never sends its request."""

    def __init__(self) -> None:
        super().__init__(b"")

    async def read(self, n: int) -> bytes:
        await trio.sleep_forever()
        return b""  # never reached


def test_streams_that_never_send_their_request_cannot_keep_an_honest_joiner_out(open_node: Any) -> None:
    """Review finding 3: 16 silent streams from 4 identities held every place
    for 10 s at a time, and each honest joiner was told 'busy'. Now a peer has
    one request in flight, and a newcomer ends the oldest one still unread
    (identities cost nothing: 16 of them fill every place here)."""
    node: Node = open_node("a")
    thread_id = node.create_thread(ThreadKind.CHAT, "Us").thread_id

    async def main() -> tuple[list[bool], BytesStream, BytesStream]:
        server = JoinServer(NodeAdmissions(node), Budgets(lambda _peer: False))
        silent = [SilentStream() for _ in range(server.limits.in_flight)]
        attackers = [Identity.generate().peer_id for _ in silent]
        honest_identity = Identity.generate()
        honest = BytesStream(uvarint(len(message := cbor.encode(joining.request_message(
            _request(thread_id, honest_identity))))) + message)
        again = SilentStream()
        async with trio.open_nursery() as nursery:
            for n, stream in enumerate(silent):
                nursery.start_soon(server.serve, stream, attackers[n], "")
            await trio.testing.wait_all_tasks_blocked()  # every silent stream holds its place
            nursery.start_soon(server.serve, again, attackers[-1], "")  # a second stream of one peer at once
            await trio.testing.wait_all_tasks_blocked()
            with trio.fail_after(5):
                await server.serve(honest, honest_identity.peer_id, "10.0.0.9")
            await trio.testing.wait_all_tasks_blocked()  # the stream ended for it closes in its own task
            closed = [stream.closed for stream in silent]
            nursery.cancel_scope.cancel()
        return closed, honest, again

    closed, honest, again = trio.run(main)
    assert len(honest.written) == 1 and b"busy" not in honest.written[0]  # answered (unknown invite), not "busy"
    assert closed.count(True) == 1  # the oldest silent one made room, and only it
    assert len(again.written) == 1 and b"one join request at a time" in again.written[0]
