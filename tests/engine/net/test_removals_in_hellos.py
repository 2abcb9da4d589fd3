"""A hello carries its sender person's device removals (issue 19 review
finding 4), real engines on 127.0.0.1: a friend who shares no thread with
the device that removed Alice's desktop learns the removal from that
device's hello alone, carries it into the chat it shares with the desktop
and rotates there. A forged removal costs one signature check and changes
nothing; a stranger's removals of made-up persons fill nothing. A device of the
person that never met the friend tells it as well, with its certificate."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.engine.eventstore.peers import peer, texts
from tests.engine.net.hostile import REPLY_SECONDS, Hostile, hostile_host
from tests.engine.net.running import Running, running_peers, wait_until
from threads_desktop.engine.acl.devices import DeviceRemoval, sign_removal
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.core.keys import Identity, SigningKey, ThreadKey
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.net import proofs, wire
from threads_desktop.engine.net.host import open_stream
from threads_desktop.engine.node import Node

SECONDS = 30.0


@dataclass
class Alice:
    friend: Running
    desktop: Running
    laptop: Node  # offline: its identity speaks through a bare host
    chat: ThreadId  # the friend's and the desktop's; the laptop never holds it


@asynccontextmanager
async def alice(tmp_path: Path) -> AsyncIterator[Alice]:
    laptop = Node.open(tmp_path / "laptop")
    try:
        async with running_peers(tmp_path, "friend", "desktop") as peers:
            friend, desktop = peers["friend"].node, peers["desktop"].node
            cert = laptop.persons.issue_cert(desktop.identity.peer_id, "Alice's desktop")
            desktop.persons.adopt(laptop.persons.person_seed(), cert, laptop.persons.book.items())
            chat = friend.create_thread(ThreadKind.CHAT, "Just us").thread_id
            friend.chat(chat).post("between us")
            desktop.join(friend.invite(chat, Role.WRITE))
            await wait_until(desktop, lambda: texts(desktop, chat) == ["between us"]
                             and Role.WRITE in desktop.membership.roles(chat), timeout=SECONDS)
            yield Alice(peers["friend"], peers["desktop"], laptop, chat)
    finally:
        laptop.close()


async def hello_from(identity: Identity, to: Running, removals: list[bytes], cert: bytes | None = None,
                     held: list[tuple[ThreadId, list[ThreadKey]]] | None = None) -> dict[str, Any] | None:
    """A hello from `identity` (a bare libp2p host) carrying `removals` (and
    its `cert`, which counts only in a thread the hello proves: `held`)."""
    async with hostile_host(identity) as host:
        with trio.fail_after(REPLY_SECONDS):
            stream = await open_stream(host, to.node.identity.peer_id, to.service.addresses(), wire.PROTOCOL_ID)
        hostile = Hostile(stream, identity.peer_id, to.node.identity.peer_id)
        nonce = os.urandom(wire.NONCE_LENGTH)
        asked = [proofs.ask_proof(key, thread, identity.peer_id, to.node.identity.peer_id, nonce)
                 for thread, keys in held or [] for key in proofs.proof_keys(keys)]
        return await hostile.ask({"t": "hello", "nonce": nonce, "proofs": asked,
                                  "removals": removals, **({"cert": cert} if cert is not None else {})})


def book_rows(node: Node) -> list[tuple[object, ...]]:
    return node.database.connection.execute("SELECT * FROM device_book ORDER BY person_id, device_id").fetchall()


def counting_verifications(monkeypatch: pytest.MonkeyPatch) -> list[DeviceRemoval]:
    checked: list[DeviceRemoval] = []
    verify: Callable[[DeviceRemoval], None] = DeviceRemoval.verify

    def counted(self: DeviceRemoval) -> None:
        checked.append(self)
        verify(self)

    monkeypatch.setattr(DeviceRemoval, "verify", counted)
    return checked


def test_a_hello_teaches_a_removal_to_a_friend_who_shares_no_thread_with_the_remover(tmp_path: Path) -> None:
    async def main() -> None:
        async with alice(tmp_path) as a:
            friend, desktop = a.friend.node, a.desktop.node
            epoch = friend.store.thread_keys(a.chat)[0].epoch
            a.laptop.persons.remove_device(peer(desktop))  # the laptop holds no thread: it writes nowhere
            removals = [r.to_bytes() for r in a.laptop.persons.book.device_list().removals]

            reply = await hello_from(a.laptop.identity, a.friend, removals)

            assert reply is not None and reply["t"] == "hello", reply
            assert desktop.identity.peer_id in friend.persons.book.device_list(a.laptop.identity.peer_id).removed(
                a.laptop.identity.peer_id)
            follow = desktop.store.thread_keys(a.chat)[0].follow
            assert not friend.membership.may_sync(a.chat, peer(desktop), follow)  # at once
            # The friend, the chat's admin, wrote the removal there: it counts, and the keys rotate.
            assert peer(desktop) in friend._services.gate.evaluation(a.chat).removals.removed_devices()
            assert friend.store.thread_keys(a.chat)[0].epoch > epoch
            friend.chat(a.chat).post("after the removal")
            await a.desktop.service.sync_once(a.chat)
            assert "after the removal" not in texts(desktop, a.chat)
            await wait_until(desktop, lambda: desktop.persons.removed_notice() is not None, timeout=SECONDS)

    trio.run(main)


def test_another_device_of_the_person_tells_the_removal_with_its_certificate(tmp_path: Path) -> None:
    async def main() -> None:
        async with alice(tmp_path) as a:
            friend, desktop = a.friend.node, a.desktop.node
            tablet = Identity.generate()  # another device of Alice's, never met
            cert = a.laptop.persons.issue_cert(tablet.peer_id, "Alice's tablet").to_bytes()
            a.laptop.persons.remove_device(peer(desktop))
            removals = [r.to_bytes() for r in a.laptop.persons.book.newest_removals()]

            # It holds the chat Alice is in (a device of hers has all her threads): its certificate counts there.
            reply = await hello_from(tablet, a.friend, removals, cert,
                                     held=[(a.chat, desktop.store.thread_keys(a.chat))])

            assert reply is not None and reply["t"] == "hello", reply
            assert peer(desktop) in friend._services.gate.evaluation(a.chat).removals.removed_devices()
            assert not friend.membership.may_sync(a.chat, peer(desktop), desktop.store.thread_keys(a.chat)[0].follow)

    trio.run(main)


def test_forged_removals_in_a_hello_cost_one_check_and_change_nothing(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> None:
        async with alice(tmp_path) as a:
            friend = a.friend.node
            person = a.laptop.identity.peer_id
            real = sign_removal(a.laptop.persons.book.person_key(), a.desktop.node.identity.peer_id, 1_765_000_000_000)
            forged = [DeviceRemoval(person, real.device, real.removed_ms + n, bytes(64)).to_bytes() for n in range(64)]
            before, epoch = book_rows(friend), friend.store.thread_keys(a.chat)[0].epoch
            checked = counting_verifications(monkeypatch)

            reply = await hello_from(a.laptop.identity, a.friend, forged)

            assert reply is not None and reply["t"] == "hello", reply
            assert len(checked) == 1  # the first forgery ends the lot
            assert book_rows(friend) == before
            assert friend.store.thread_keys(a.chat)[0].epoch == epoch
            assert peer(a.desktop.node) not in friend._services.gate.evaluation(a.chat).removals.removed_devices()
            too_many = await hello_from(a.laptop.identity, a.friend, forged + forged[:1])
            assert too_many is not None and too_many["t"] == "error", too_many

    trio.run(main)


def test_a_strangers_removals_of_made_up_persons_fill_nothing(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> None:
        async with alice(tmp_path) as a:
            friend = a.friend.node
            stranger = Identity.generate()
            made_up = [sign_removal(SigningKey.generate(), PeerId.parse(peer(a.desktop.node)), n).to_bytes()
                       for n in range(32)]
            own = [sign_removal(stranger.signing, Identity.generate().peer_id, n).to_bytes() for n in range(32)]
            before = book_rows(friend)
            checked = counting_verifications(monkeypatch)

            reply = await hello_from(stranger, a.friend, made_up + own)
            # Alice's real removal, carried by a stranger: not the stranger's person's, not taken.
            real = sign_removal(a.laptop.persons.book.person_key(), a.desktop.node.identity.peer_id, 1)
            again = await hello_from(stranger, a.friend, [real.to_bytes()])

            assert reply is not None and reply["t"] == "hello", reply
            assert again is not None and again["t"] == "hello", again
            assert book_rows(friend) == before
            assert checked == []

    trio.run(main)


def test_a_hello_answer_carries_the_answerers_removals(tmp_path: Path) -> None:
    async def main() -> None:
        async with running_peers(tmp_path, "laptop") as peers:
            laptop = peers["laptop"].node
            desktop = Identity.generate()
            laptop.persons.issue_cert(desktop.peer_id, "Alice's desktop")
            laptop.persons.remove_device(str(desktop.peer_id))

            reply = await hello_from(Identity.generate(), peers["laptop"], [])

            assert reply is not None and reply["t"] == "hello", reply
            assert [DeviceRemoval.from_bytes(r).device for r in reply["removals"]] == [desktop.peer_id]

    trio.run(main)
