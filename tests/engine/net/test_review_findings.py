"""Regressions found by review: each failed before its fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.engine.eventstore.peers import join, join_with, peer
from tests.engine.modules.images import image_bytes
from tests.engine.net.running import serving, wait_until
from threads_desktop.engine.core.errors import NotFoundError
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.net import server as sync_server
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]


def _photo_album(node: Node, tmp_path: Path, count: int = 1) -> Any:
    thread_id = node.create_thread(ThreadKind.ALBUM, "Trip").thread_id
    paths = []
    for i in range(count):
        path = tmp_path / f"p{i}.jpg"
        path.write_bytes(image_bytes("JPEG", size=(320 + i, 240), seed=i))
        paths.append(path)
    node.photos(thread_id).add_files(paths)
    return thread_id


def _has_originals(node: Node, thread_id: Any) -> bool:
    photos = node.photos(thread_id)
    return bool(photos.page()) and all(photos.has_original(p.id) for p in photos.page())


def test_a_peer_sending_blocks_that_do_not_match_their_cids_ends_only_its_session(open_node: OpenNode,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    genuine = sync_server.SyncServer._blocks
    corrupt = {"on": True}

    def blocks(self: sync_server.SyncServer, session: Any, message: dict[str, Any]) -> dict[str, Any]:
        reply = genuine(self, session, message)
        if corrupt["on"]:
            reply["blocks"] = [[cid, data + b"x"] for cid, data in reply["blocks"]]
        return reply

    monkeypatch.setattr(sync_server.SyncServer, "_blocks", blocks)

    async def main() -> None:
        a, b = open_node("a"), open_node("b")
        thread_id = _photo_album(a, tmp_path)
        async with serving(a), serving(b) as service_b:
            join_with(a, b, a.invite(thread_id, Role.READ))
            await wait_until(b, lambda: any(s.failures for s in service_b.peer_status()))
            assert not _has_originals(b, thread_id)  # nothing bad was stored
            corrupt["on"] = False  # the service lives on, and a later pass gets the real blocks
            service_b.schedule(a.identity.peer_id, now=True)
            await wait_until(b, lambda: _has_originals(b, thread_id))

    trio.run(main)


def test_a_cut_block_transfer_is_resumed_by_the_same_running_peer(open_node: OpenNode, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    genuine = sync_server.SyncServer._blocks
    failures = {"left": 1}

    def blocks(self: sync_server.SyncServer, session: Any, message: dict[str, Any]) -> dict[str, Any]:
        if failures["left"]:
            failures["left"] -= 1
            raise NotFoundError("not now")  # an error reply in the middle of the transfer
        return genuine(self, session, message)

    monkeypatch.setattr(sync_server.SyncServer, "_blocks", blocks)

    async def main() -> None:
        a, b = open_node("a"), open_node("b")
        thread_id = _photo_album(a, tmp_path, 2)
        async with serving(a), serving(b) as service_b:
            join_with(a, b, a.invite(thread_id, Role.READ))
            await wait_until(b, lambda: any(s.failures for s in service_b.peer_status()))
            service_b.schedule(a.identity.peer_id, now=True)  # the next pass, without a restart
            await wait_until(b, lambda: _has_originals(b, thread_id))

    trio.run(main)


def test_nothing_is_pushed_to_a_removed_member_that_kept_its_old_keys(open_node: OpenNode) -> None:
    async def main() -> None:
        a, m = open_node("a"), open_node("m")
        thread_id = a.create_thread(ThreadKind.CHAT, "Us").thread_id
        a.chat(thread_id).post("before")
        join(a, m, thread_id)
        a.membership.revoke(thread_id, peer(m), Role.FOLLOW)  # m is offline and never hears of it
        a.chat(thread_id).post("after m was removed")
        a_log = a.store.own_log(thread_id)

        def seq(node: Node) -> int:
            return next((h.seq for h in node.store.logs(thread_id) if h.log_id == a_log), 0)

        held_by_m = seq(m)
        async with serving(m) as service_m, serving(a) as service_a:
            a.peers.remember(thread_id, m.identity.peer_id, service_m.addresses())
            with trio.fail_after(15):
                report = await service_a.sync_once(thread_id)
        assert seq(m) == held_by_m < seq(a), report

    trio.run(main)


def test_a_flood_of_direct_invites_keeps_one_per_sender_and_thread(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    thread_id = a.create_thread(ThreadKind.CHAT, "Us").thread_id
    card = b.identity_card()
    for _ in range(50):
        b.membership.receive_invite(a.membership.invite_peer(thread_id, card.peer_id, card.exchange_public_key,
                                                             Role.READ))
    assert len(b.membership.direct_invites()) == 1
    for n in range(40):  # other threads: the list stays bounded
        other = a.create_thread(ThreadKind.CHAT, f"T{n}").thread_id
        b.membership.receive_invite(a.membership.invite_peer(other, card.peer_id, card.exchange_public_key,
                                                             Role.READ))
    assert len(b.membership.direct_invites()) == 32


def test_serve_on_a_port_in_use_says_so_plainly(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "threads_desktop", "--data-dir", str(tmp_path / "p"), "serve",
                               "--listen", f"/ip4/127.0.0.1/tcp/{port}", "--no-mdns"],
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "cannot listen on" in done.stderr and "Traceback" not in done.stderr


def test_a_stranger_connected_to_members_sees_no_gossip_topics(tmp_path: Path) -> None:
    import multiaddr
    from libp2p.peer.peerinfo import info_from_p2p_addr
    from libp2p.pubsub.gossipsub import PROTOCOL_ID, PROTOCOL_ID_V11, PROTOCOL_ID_V12, GossipSub
    from libp2p.pubsub.pubsub import Pubsub
    from libp2p.tools.anyio_service import background_trio_service

    from tests.engine.net.running import running_peers
    from threads_desktop.engine.core.keys import Identity
    from threads_desktop.engine.net.host import build_host

    async def main() -> None:
        async with running_peers(tmp_path, "a", "b") as peers:
            a, b = peers["a"], peers["b"]
            thread_id = a.node.create_thread(ThreadKind.CHAT, "Us").thread_id
            join_with(a.node, b.node, a.node.invite(thread_id, Role.WRITE))
            await wait_until(a.node, lambda: peer(b.node) in {m.peer_id for m in a.node.membership.members(thread_id)})
            host = build_host(Identity.generate())  # holds no key of anything
            router = GossipSub(protocols=[PROTOCOL_ID_V12, PROTOCOL_ID_V11, PROTOCOL_ID], degree=6, degree_low=4,
                               degree_high=12, heartbeat_interval=1)
            pubsub = Pubsub(host, router)
            async with host.run(listen_addrs=[multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]):
                try:
                    async with background_trio_service(pubsub), background_trio_service(router):
                        await pubsub.wait_until_ready()
                        for member in (a, b):
                            await host.connect(info_from_p2p_addr(multiaddr.Multiaddr(member.service.addresses()[0])))
                        with trio.move_on_after(3):  # long enough for subscriptions to be announced
                            while not pubsub.peer_topics:
                                await trio.sleep(0.1)
                        assert dict(pubsub.peer_topics) == {}
                finally:
                    with trio.CancelScope(shield=True):
                        await host.close()

    trio.run(main)
