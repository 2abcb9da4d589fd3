"""Where the node and the network meet (engine/networking.py, the Protocols
in engine/net/ports.py): the node gets its network from here and is online
exactly while it runs; the network sees the node only as a ThreadStore, with
one admission rule."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import trio

from tests.engine.eventstore.peers import join, join_with, sync
from tests.engine.modules.images import image_bytes
from tests.engine.net.running import running_peers, wait_until
from threads_desktop.engine.core.keys import SigningKey
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ChangeSet, ThreadKind
from threads_desktop.engine.logstore.blobs import ORIGINAL, PREVIEW
from threads_desktop.engine.net.ports import Network, ThreadStore
from threads_desktop.engine.networking import NodeThreads, connect_network
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]


def test_a_node_is_online_exactly_while_the_network_it_was_given_runs(open_node: OpenNode) -> None:
    node = open_node("a")
    thread_id = node.create_thread(ThreadKind.ALBUM, "Trip").thread_id

    async def main() -> None:
        service = connect_network(node, listen=["/ip4/127.0.0.1/tcp/0"], pull_interval=3600.0)
        assert node.network is None and not node.network_status().online  # given, not yet running
        assert node.invite(thread_id, Role.READ).addresses == ()
        async with trio.open_nursery() as nursery:
            await nursery.start(service.run)
            assert node.network is service and node.network_status().online
            assert node.listen_addresses == service.listen_addresses() == service.addresses()
            assert node.invite(thread_id, Role.READ).addresses == tuple(service.addresses())
            await service.stop()
        assert node.network is None and not node.network_status().online
        assert node.listen_addresses == [] and node.nearby_peers() == []
        assert node.invite(thread_id, Role.READ).addresses == ()

    trio.run(main)


def test_the_service_and_the_node_adapter_fit_their_protocols(open_node: OpenNode) -> None:
    """What each side is handed satisfies the other's Protocol (mypy checks
    the signatures; this checks that no member is missing at run time)."""
    node = open_node("a")
    threads = NodeThreads(node)
    service = connect_network(node, listen=["/ip4/127.0.0.1/tcp/0"])
    for protocol, side in ((ThreadStore, threads), (Network, service)):
        members = {name for name in vars(protocol) if not name.startswith("_")}
        assert members and all(hasattr(side, name) for name in members), protocol.__name__
    assert threads.identity is node.identity and threads.thread_ids() == node.directory.ids()


def test_a_removed_member_and_an_old_links_key_are_refused_by_the_one_admission_rule(tmp_path: Path) -> None:
    """The rule both the server (hello, each request) and the client (whom
    we push to) use: open threads admit any key holder, the ACL the rest."""

    async def main() -> None:
        async with running_peers(tmp_path, "a", "m") as peers:
            a, m = peers["a"].node, peers["m"].node
            thread_id = a.create_thread(ThreadKind.CHAT, "Us").thread_id
            join_with(a, m, a.invite(thread_id, Role.WRITE))
            await wait_until(a, lambda: str(m.identity.peer_id) in {x.peer_id for x in a.membership.members(
                thread_id)})
            threads = NodeThreads(a)
            key = a.store.thread_keys(thread_id)[0]
            assert threads.admits(thread_id, m.identity.peer_id, key)
            a.membership.revoke(thread_id, str(m.identity.peer_id), Role.FOLLOW)
            assert not threads.admits(thread_id, m.identity.peer_id, key)
            stranger = SigningKey.generate().peer_id
            assert not threads.admits(thread_id, stranger, key)  # an old link's key opens nothing now

    trio.run(main)


def test_a_network_attached_again_replaces_the_last_ones_leave_hook(open_node) -> None:  # type: ignore[no-untyped-def]
    """A restarted network (the runtime restarts a failed service) must not
    leave the dead service's hook behind, called on every leave for good."""
    node = open_node("a")
    hooks_before = len(node._services.forgetters)
    for _ in range(3):
        connect_network(node, listen=["/ip4/127.0.0.1/tcp/0"], pull_interval=3600.0)
    assert len(node._services.forgetters) == hooks_before + 1


def test_blocks_stored_from_a_peer_say_which_photos_blobs_are_whole_now(open_node: OpenNode, tmp_path: Path) -> None:
    a, b = open_node("a"), open_node("b")
    album = a.create_thread(ThreadKind.ALBUM, "Trip").thread_id
    picture = tmp_path / "beach.jpg"
    picture.write_bytes(image_bytes("JPEG", size=(320, 200)))
    [photo] = a.photos(album).add_files([picture]).added
    join(a, b, album, write=False)
    sync(a, b, album)
    heard: list[ChangeSet] = []
    b.subscribe(heard.append)
    blocks = [entry for _row, entry in a.blobs(album).inventory(0, 100)]
    data = dict(a.blobs(album).read_blocks([entry.cid for entry in blocks], budget=1 << 30))
    previews = [entry for entry in blocks if entry.priority == PREVIEW]
    originals = [entry for entry in blocks if entry.priority == ORIGINAL]
    assert len(previews) >= 2 and len(originals) >= 2  # a manifest and its chunks each

    threads = NodeThreads(b)
    threads.store_fetched(album, [(entry, data[entry.cid]) for entry in previews])
    threads.store_fetched(album, [(originals[0], data[originals[0].cid])])  # the original is not whole yet
    threads.store_fetched(album, [(entry, data[entry.cid]) for entry in originals[1:]])
    assert [changes.blobs for changes in heard] == [frozenset({(album, "photo", photo, "preview")}),
                                                    frozenset({(album, "photo", photo, "original")})]
    assert b.photos(album).has_original(photo)
