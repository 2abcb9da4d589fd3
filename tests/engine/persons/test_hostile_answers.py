"""The new device's side against whatever the peer at a device link's
address answers (issue 19): any bytes, a bundle of another person, or one
without this device's certificate give a clear error and write nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.engine.net.test_joining_limits import values
from threads_desktop.engine.codec import cbor
from threads_desktop.engine.core.errors import InvalidInputError, ThreadsError
from threads_desktop.engine.core.keys import SigningKey
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node
from threads_desktop.engine.persons.device_links import DeviceAnswer, DeviceLink
from threads_desktop.engine.persons.flows import become_device, build_bundle, issue_device_link

OpenNode = Callable[..., Node]


def _rows(node: Node) -> tuple[object, ...]:
    sql = node.database.connection
    return (node.persons.person_id, sql.execute("SELECT count(*) FROM threads").fetchone()[0],
            sql.execute("SELECT count(*) FROM device_book").fetchone()[0],
            sql.execute("SELECT count(*) FROM thread_peers").fetchone()[0])


def _answering(answer: bytes) -> Callable[[Sequence[str], bytes], Awaitable[bytes]]:
    """The peer at the link's address, answering `answer` whatever it is asked."""
    async def ask(_addresses: Sequence[str], _request: bytes) -> bytes:
        return answer
    return ask


def test_any_answer_bytes_write_nothing(open_node: OpenNode) -> None:
    laptop, desktop = open_node("laptop"), open_node("desktop")
    link = issue_device_link(laptop, laptop.device_links, ())
    before = _rows(desktop)

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.one_of(st.binary(max_size=400), values.map(cbor.encode),
                     st.builds(lambda box, body: cbor.encode({"box": box, "bundle": body}),
                               st.binary(min_size=80, max_size=80), st.binary(min_size=28, max_size=200))))
    def check(answer: bytes) -> None:
        with pytest.raises(ThreadsError):
            trio.run(become_device, desktop, link, "Desktop", _answering(answer))
        assert _rows(desktop) == before

    check()


@pytest.mark.parametrize("whose", ["another person", "no certificate for this device"])
def test_a_sealed_bundle_that_is_not_this_devices_is_refused(whose: str, open_node: OpenNode) -> None:
    laptop, desktop, mallory = open_node("laptop"), open_node("desktop"), open_node("mallory")
    laptop.create_thread(ThreadKind.CHAT, "Notes")
    mallory.create_thread(ThreadKind.CHAT, "Bait")
    link = issue_device_link(laptop, laptop.device_links, ())
    if whose == "another person":  # Mallory certifies the desktop with her own person key
        mallory.persons.issue_cert(desktop.identity.peer_id, "Desktop")
        bundle = build_bundle(mallory)
    else:
        bundle = build_bundle(laptop)  # the laptop's person, but nothing says the desktop is one of its devices
    answer = DeviceAnswer.added(bundle.to_bytes(), desktop.identity.exchange_public_key()).to_bytes()
    before = _rows(desktop)
    with pytest.raises(InvalidInputError, match=r"another person|without a certificate"):
        trio.run(become_device, desktop, link, "Desktop", _answering(answer))
    assert _rows(desktop) == before


def test_a_link_for_a_person_whose_key_is_not_in_the_answer_is_refused(open_node: OpenNode) -> None:
    laptop, desktop = open_node("laptop"), open_node("desktop")
    forged = DeviceLink(SigningKey.generate().peer_id, bytes(32), 2**40, None, ())
    laptop.persons.issue_cert(desktop.identity.peer_id, "Desktop")  # the bundle would do for the laptop's link
    answer = DeviceAnswer.added(build_bundle(laptop).to_bytes(), desktop.identity.exchange_public_key()).to_bytes()
    with pytest.raises(InvalidInputError, match="another person"):
        trio.run(become_device, desktop, forged, "Desktop", _answering(answer))
    assert desktop.list_threads() == []
