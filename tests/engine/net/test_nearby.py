"""Nearby peers: what LAN discovery found lately, with names, and inviting
one directly. Real services on 127.0.0.1; the announcements are handed to
the service's discovery callback as zeroconf's browser thread would (no
multicast on host interfaces)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trio

from tests.engine.eventstore.peers import admit, peer
from tests.engine.modules.images import image_bytes
from tests.engine.net.running import wait_until
from threads_desktop.engine.core.errors import PeerError
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.core.keys import SigningKey
from threads_desktop.engine.core.members import AdmissionStatus, Role
from threads_desktop.engine.core.types import ChangeSet, ThreadKind
from threads_desktop.engine.logstore.blobs import BlobRef
from threads_desktop.engine.net.service import NEARBY_SECONDS, NetworkService
from threads_desktop.engine.networking import connect_network
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]


@dataclass
class Announcements:
    """The discovery seam: the service hands its callback to the factory;
    the test calls it, from another thread, with what mDNS would report."""

    found: list[Callable[[PeerId, list[str]], None]] = field(default_factory=list)

    def factory(self, _me: str, _addresses: Sequence[str], on_found: Callable[[PeerId, list[str]], None]) -> _Quiet:
        self.found.append(on_found)
        return _Quiet()

    async def announce(self, who: PeerId, addresses: list[str]) -> None:
        [on_found] = self.found
        await trio.to_thread.run_sync(on_found, who, addresses)


class _Quiet:
    def start(self) -> None: ...
    def update_addresses(self, addresses: Sequence[str]) -> None: ...
    def stop(self) -> None: ...


@asynccontextmanager
async def online(node: Node, announcements: Announcements | None = None,
                 clock: Callable[[], float] | None = None) -> AsyncIterator[NetworkService]:
    async with trio.open_nursery() as nursery:
        extra = {"clock": clock} if clock is not None else {}
        service = connect_network(node, listen=["/ip4/127.0.0.1/tcp/0"], pull_interval=3600.0,
                                  discovery=announcements.factory if announcements else None, **extra)
        await nursery.start(service.run)
        yield service
        nursery.cancel_scope.cancel()


def _stranger() -> tuple[PeerId, list[str]]:
    """A peer ID nobody runs, at a port nothing listens on."""
    who = SigningKey.generate().peer_id
    return who, [f"/ip4/127.0.0.1/tcp/9/p2p/{who}"]


def test_a_peer_found_on_the_lan_is_listed_and_listeners_hear_of_it(open_node: OpenNode) -> None:
    async def main() -> None:
        a, b = open_node("a"), open_node("b")
        announcements = Announcements()
        assert a.nearby_peers() == []  # offline
        async with online(a, announcements), online(b) as service_b:
            heard: list[ChangeSet] = []
            a.subscribe(heard.append)
            await announcements.announce(a.identity.peer_id, ["/ip4/127.0.0.1/tcp/1"])  # ourselves
            await announcements.announce(b.identity.peer_id, service_b.addresses())
            await wait_until(a, lambda: len(a.nearby_peers()) == 1)
            [found] = a.nearby_peers()
            assert found.peer_id == peer(b)
            assert found.addresses == tuple(service_b.addresses())
            assert found.display_name is None  # no thread shared: no name known
            assert a.network_status().nearby == 1
            assert any(c.network for c in heard)
        assert a.nearby_peers() == [] and a.network_status().nearby == 0

    trio.run(main)


def test_nearby_peers_are_listed_newest_first_for_ten_minutes(open_node: OpenNode) -> None:
    async def main() -> None:
        a = open_node("a")
        announcements = Announcements()
        now = [1_000_000.0]
        async with online(a, announcements, clock=lambda: now[0]):
            first, second = _stranger(), _stranger()
            await announcements.announce(*first)
            now[0] += 100
            await announcements.announce(*second)
            await wait_until(a, lambda: len(a.nearby_peers()) == 2)
            assert [p.peer_id for p in a.nearby_peers()] == [str(second[0]), str(first[0])]
            assert [p.last_seen for p in a.nearby_peers()] == [now[0], now[0] - 100]
            now[0] += NEARBY_SECONDS - 50  # first: seen 650 s ago
            assert [p.peer_id for p in a.nearby_peers()] == [str(second[0])]
            await announcements.announce(*first)  # seen again: back, and newest
            await wait_until(a, lambda: len(a.nearby_peers()) == 2)
            assert [p.peer_id for p in a.nearby_peers()] == [str(first[0]), str(second[0])]
            now[0] += NEARBY_SECONDS + 1
            assert a.nearby_peers() == [] and a.network_status().nearby == 0

    trio.run(main)


def test_a_nearby_peer_is_invited_directly_and_shows_its_name_once_we_share_a_thread(open_node: OpenNode) -> None:
    async def main() -> None:
        a, b = open_node("a"), open_node("b")
        b.set_display_name("Bob")
        thread_id = a.create_thread(ThreadKind.CHAT, "Us").thread_id
        announcements = Announcements()
        async with online(a, announcements), online(b) as service_b:
            await announcements.announce(b.identity.peer_id, service_b.addresses())
            await wait_until(a, lambda: len(a.nearby_peers()) == 1)
            await a.invite_nearby(thread_id, peer(b), Role.WRITE)
            await wait_until(b, lambda: len(b.membership.direct_invites()) == 1)
            [(invite_id, invite)] = b.membership.direct_invites()
            assert invite.sender == peer(a) and invite.link.thread_id == thread_id
            b.accept_invite(invite_id)
            assert admit(a, b, thread_id).status is AdmissionStatus.ADMITTED  # in process, as join_with
            await wait_until(a, lambda: a.member_names(thread_id).get(peer(b)) == "Bob")
            [found] = a.nearby_peers()
            assert (found.peer_id, found.addresses, found.display_name) == (
                peer(b), tuple(service_b.addresses()), "Bob")

    trio.run(main)


def test_inviting_a_nearby_peer_offline_or_out_of_reach_says_so(open_node: OpenNode) -> None:
    async def main() -> None:
        a, b = open_node("a"), open_node("b")
        thread_id = a.create_thread(ThreadKind.CHAT, "Us").thread_id
        with pytest.raises(PeerError, match="offline"):
            await a.invite_nearby(thread_id, peer(b), Role.READ)
        who, addresses = _stranger()
        announcements = Announcements()
        async with online(a, announcements):
            await announcements.announce(who, addresses)
            with pytest.raises(PeerError, match="cannot reach"):
                await a.invite_nearby(thread_id, str(who), Role.READ)

    trio.run(main)


def test_an_original_is_asked_for_by_photo_online_or_offline(open_node: OpenNode, tmp_path: Path) -> None:
    async def main() -> None:
        a = open_node("a")
        album = a.create_thread(ThreadKind.ALBUM, "Trip").thread_id
        folder = tmp_path / "pics"
        folder.mkdir()
        for i in range(2):
            (folder / f"p{i}.jpg").write_bytes(image_bytes("JPEG", size=(320, 240), seed=10 + 40 * i))
        first, second = a.photos(album).add_files(sorted(folder.iterdir())).added
        manifest = {pid: BlobRef.from_value(a.photos(album).photos.get(pid).data["original"]).manifest
                    for pid in (first, second)}
        a.want_original(album, first)  # offline: remembered
        async with online(a):
            a.want_original(album, second)
            assert a.peers.wanted_blobs(album) == {manifest[first], manifest[second]}

    trio.run(main)


def test_network_change_sets_carry_the_status_and_the_nearby_list_when_it_changed(open_node: OpenNode) -> None:
    async def main() -> None:
        a, b = open_node("a"), open_node("b")
        announcements = Announcements()
        async with online(a, announcements), online(b) as service_b:
            heard: list[ChangeSet] = []
            a.subscribe(heard.append)
            await announcements.announce(b.identity.peer_id, service_b.addresses())
            await wait_until(a, lambda: any(c.nearby for c in heard))
            [listed] = [c for c in heard if c.nearby]
            assert listed.nearby == tuple(a.nearby_peers())
            assert listed.network == a.network_status() and listed.network is not None and listed.network.nearby == 1
            heard.clear()
            a.network_changed()  # as a transfer's progress does: the nearby list did not change
            [progress] = heard
            assert progress.network == a.network_status() and progress.nearby is None
        assert heard[-1].network is not None and not heard[-1].network.online and heard[-1].nearby == ()

    trio.run(main)
