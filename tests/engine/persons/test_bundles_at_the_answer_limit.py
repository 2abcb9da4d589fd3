"""A bundle at the size limit of a device answer (review of issue 19,
finding 9d): one just over it is refused ("large") before the link is
spent, so the link stays usable and no certificate is handed out; one just
under it goes through the device server whole and the new device installs
it. Real profiles; the answer goes through `DeviceServer` as bytes."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import pytest
import trio

from tests.engine.net.hostile import uvarint
from tests.engine.net.test_joining_limits import BytesStream
from tests.engine.persons.test_two_devices import OpenNode
from threads_desktop.engine.codec import cbor
from threads_desktop.engine.core.ids import PeerId, ThreadId, ThreadVariant
from threads_desktop.engine.core.keys import Identity, ThreadKey
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.net import devicing, wire
from threads_desktop.engine.net.budgets import Budgets
from threads_desktop.engine.net.devicing import DeviceServer
from threads_desktop.engine.node import Node
from threads_desktop.engine.persons.bundle import BundleThread, PersonBundle
from threads_desktop.engine.persons.device_links import MAX_ANSWER_BYTES, DeviceAnswer
from threads_desktop.engine.persons.flows import (
    DeviceIssuer,
    DeviceLinkRefused,
    Profile,
    become_device,
    build_bundle,
    issue_device_link,
)

KEYS_PER_THREAD = 60_000
KEY_ENTRY = 80  # {"key": 64 bytes, "epoch": 256..65535} encoded


def _padded(bundle: PersonBundle, size: int) -> PersonBundle:
    """`bundle` with threads of made-up keys added until it encodes to
    exactly `size` bytes (the last thread's name takes up the last bytes)."""
    keys = 0
    name: str | None = None
    for _ in range(8):
        padding = []
        for start in range(0, keys, KEYS_PER_THREAD):
            count = min(KEYS_PER_THREAD, keys - start)
            padding.append(BundleThread(
                ThreadId.from_random(ThreadVariant.ACCESS_CONTROLLED, start.to_bytes(32, "big")), None,
                name if start + KEYS_PER_THREAD >= keys else None,
                tuple(ThreadKey(bytes(32), bytes(32), epoch=256 + e) for e in range(count))))
        padded = PersonBundle(bundle.person_seed, bundle.name, bundle.devices, bundle.threads + tuple(padding),
                              bundle.peers, bundle.settings)
        gap = size - len(padded.to_bytes())
        if gap == 0:
            return padded
        if name is None and 25 <= gap <= 121:  # a text of 24..120 characters costs its length + 2 bytes, not 1
            name = "n" * (gap - 1)
        else:
            keys += max(gap // KEY_ENTRY - 1, 1) if gap > 0 else -1
            name = None
    raise AssertionError(f"could not make a bundle of {size} bytes")


def _bundle_size_for(answer_size: int) -> int:
    """The bundle size whose device answer encodes to `answer_size` bytes."""
    probe = bytes(1 << 17)
    overhead = len(DeviceAnswer.added(probe, Identity.generate().exchange_public_key()).to_bytes()) - len(probe)
    return answer_size - overhead


def _through_the_server(issuer: DeviceIssuer, peer: PeerId) -> Callable[[Sequence[str], bytes], object]:
    """The new device's `ask`: its request, framed, through a DeviceServer;
    the answer read back as the new device's network reads it."""
    async def ask(_addresses: Sequence[str], request: bytes) -> bytes:
        message = cbor.encode(devicing.request_message(request))
        stream = BytesStream(uvarint(len(message)) + message)
        await DeviceServer(issuer, Budgets(lambda _peer: False)).serve(stream, peer, "127.0.0.1")
        replied = await wire.MessageReader(BytesStream(b"".join(stream.written)), devicing.MAX_ANSWER_BYTES).read()
        assert replied is not None
        return devicing.parse_answer(replied)
    return ask


def _certs(node: Node) -> int:
    return int(node.database.connection.execute("SELECT count(*) FROM device_book").fetchone()[0])


@pytest.mark.parametrize("over", [1, 0], ids=["just over", "at the limit"])
def test_a_bundle_at_the_answer_limit_goes_and_one_byte_over_is_refused_before_the_link_is_spent(
        over: int, open_node: OpenNode) -> None:
    laptop, desktop = open_node("laptop"), open_node("desktop")
    laptop.chat(laptop.create_thread(ThreadKind.CHAT, "Notes").thread_id).post("a note")
    link = issue_device_link(laptop, laptop.device_links, ())
    size = _bundle_size_for(MAX_ANSWER_BYTES + over)

    def bundle_of_size(profile: Profile) -> PersonBundle:
        return _padded(build_bundle(profile), size)

    issuer = DeviceIssuer(laptop, laptop.device_links, bundle=bundle_of_size)
    ask = _through_the_server(issuer, desktop.identity.peer_id)
    certs = _certs(laptop)
    if over:
        with pytest.raises(DeviceLinkRefused) as refused:
            trio.run(become_device, desktop, link, "Desktop", ask)
        assert refused.value.reason == "large"
        assert laptop.device_links.refusal(link.link_key.peer_id) is None  # still open: usable again
        assert _certs(laptop) == certs and issuer.added == []  # no certificate handed out
        assert desktop.list_threads() == []
        # The same link works once the bundle fits.
        issuer = DeviceIssuer(laptop, laptop.device_links)
        trio.run(become_device, desktop, link, "Desktop", _through_the_server(issuer, desktop.identity.peer_id))
    else:
        bundle = trio.run(become_device, desktop, link, "Desktop", ask)
        assert len(bundle.to_bytes()) == size
    assert laptop.device_links.refusal(link.link_key.peer_id) == "spent"
    assert desktop.persons.person_id == laptop.persons.person_id
    assert "Notes" in [t.name for t in desktop.list_threads()]
    assert issuer.added == [desktop.identity.peer_id]


def test_the_largest_answer_fits_the_device_protocols_message_limit() -> None:
    framed = wire.frame({"t": "answer", "answer": os.urandom(MAX_ANSWER_BYTES)})
    assert len(framed) <= devicing.MAX_ANSWER_BYTES
