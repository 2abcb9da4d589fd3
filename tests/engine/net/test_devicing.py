"""What a stranger can do with `/threads/device/1.0.0`: any bytes get at most
one answer and change nothing (no device added, no link spent); a request
signed with a link this device never issued is refused as unknown; a flood
of requests is turned away by the join server's limits and the person's new
device is still added afterwards."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.engine.net.hostile import hostile_host, uvarint
from tests.engine.net.test_joining_limits import BytesStream, values
from threads_desktop.engine.codec import cbor
from threads_desktop.engine.core.errors import PeerError, ProtocolError
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.core.keys import Identity
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.net import devicing
from threads_desktop.engine.net.budgets import Budgets
from threads_desktop.engine.net.devicing import DeviceServer
from threads_desktop.engine.net.host import open_stream
from threads_desktop.engine.networking import connect_network
from threads_desktop.engine.node import Node
from threads_desktop.engine.persons.device_links import DeviceAnswer, DeviceLink, DeviceRequest
from threads_desktop.engine.persons.flows import DeviceIssuer, become_device, issue_device_link

STRANGER = Identity.generate()


def _standing(node: Node) -> tuple[object, ...]:
    sql = node.database.connection
    return (sql.execute("SELECT count(*) FROM device_book").fetchone()[0],
            sql.execute("SELECT state, device_id FROM device_links").fetchall(),
            [d.device_id for d in node.persons.devices()])


def _request(link: DeviceLink, asker: Identity) -> bytes:
    return DeviceRequest.make(link, asker.peer_id, asker.exchange_public_key(), "Mallory's box").to_bytes()


def _a_link_never_issued(person: PeerId) -> DeviceLink:
    return DeviceLink(person, os.urandom(32), 2**40, None, ())


payloads = st.one_of(st.binary(max_size=600), values.map(cbor.encode))
framed = st.one_of(payloads.map(lambda p: {"t": "device", "request": p}),
                   st.dictionaries(st.sampled_from(["t", "request", "x"]), values, max_size=3)).map(
    lambda m: uvarint(len(cbor.encode(m))) + cbor.encode(m))


def test_any_bytes_get_at_most_one_answer_and_change_nothing(open_node: Any) -> None:
    node: Node = open_node("laptop")
    node.chat(node.create_thread(ThreadKind.CHAT, "Notes").thread_id).post("one")
    issue_device_link(node, node.device_links, ())  # open, for nobody here
    before = _standing(node)
    issuer = DeviceIssuer(node, node.device_links)

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.one_of(st.binary(max_size=600), framed))
    def check(sent: bytes) -> None:
        async def main() -> BytesStream:
            stream = BytesStream(sent)
            with trio.fail_after(15):
                await DeviceServer(issuer, Budgets(lambda _peer: False)).serve(stream, STRANGER.peer_id, "127.0.0.1")
            return stream

        stream = trio.run(main)
        assert stream.closed and len(stream.written) <= 1
        for reply in stream.written:
            assert len(reply) <= 1024  # an error, never a bundle

    check()
    assert _standing(node) == before and issuer.added == []


def test_a_link_never_issued_here_is_refused_as_unknown_and_another_devices_request_as_broken(
        open_node: Any) -> None:
    node: Node = open_node("laptop")
    issuer = DeviceIssuer(node, node.device_links)
    person = PeerId.parse(node.persons.person_id)
    answer = DeviceAnswer.from_bytes(issuer.answer(_request(_a_link_never_issued(person), STRANGER),
                                                   STRANGER.peer_id))
    assert answer.refused == "unknown"
    link = issue_device_link(node, node.device_links, ())
    with pytest.raises(ProtocolError, match="sent by the device it names"):  # a request replayed by another
        issuer.answer(_request(link, Identity.generate()), STRANGER.peer_id)
    assert node.device_links.refusal(link.link_key.peer_id) is None  # still open


def test_a_flood_of_device_requests_is_turned_away_and_the_new_device_is_still_added(tmp_path: Path) -> None:
    async def main() -> tuple[int, int]:
        laptop, desktop = Node.open(tmp_path / "laptop"), Node.open(tmp_path / "desktop")
        try:
            laptop.chat(laptop.create_thread(ThreadKind.CHAT, "Notes").thread_id).post("one")
            async with trio.open_nursery() as nursery:
                service = connect_network(laptop, listen=["/ip4/127.0.0.1/tcp/0"], pull_interval=3600.0)
                await nursery.start(service.run)
                desktop_net = connect_network(desktop, listen=["/ip4/127.0.0.1/tcp/0"], pull_interval=3600.0)
                await nursery.start(desktop_net.run)
                before = _standing(laptop)
                busy = await _flood(service.addresses(), laptop.identity.peer_id,
                                    PeerId.parse(laptop.persons.person_id))
                assert _standing(laptop) == before
                link = issue_device_link(laptop, laptop.device_links, laptop.listen_addresses)
                await become_device(desktop, link, "Desktop", desktop_net.ask_device)
                assert desktop.persons.person_id == laptop.persons.person_id
                server = service.device_server
                assert server is not None
                nursery.cancel_scope.cancel()
                return busy, server.refused
        finally:
            laptop.close()
            desktop.close()

    busy, refused = trio.run(main)
    print(f"flood: {busy} of 60 device requests answered busy (server refused {refused})")
    assert busy >= 30 and refused >= busy


async def _flood(addresses: list[str], device: PeerId, person: PeerId) -> int:
    """Six fresh identities from 127.0.0.1, ten requests each at once: how many got "busy"."""
    busy = 0

    async def one(identity: Identity, host: Any) -> None:
        nonlocal busy
        try:
            with trio.fail_after(15):
                stream = await open_stream(host, device, addresses, devicing.PROTOCOL_ID)
                await devicing.ask(stream, _request(_a_link_never_issued(person), identity)
                                   if os.urandom(1)[0] & 1 else os.urandom(200))
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
