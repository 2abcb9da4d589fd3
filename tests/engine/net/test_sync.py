"""Two and three real peers on 127.0.0.1 (one trio run, real libp2p
connections): joining by link, push, reconnecting, and access on the wire."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import trio

from tests.engine.eventstore.peers import peer, texts
from tests.engine.net.running import WAIT_SECONDS, running_peers, serving, wait_until
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ChangeSet, ThreadKind
from threads_desktop.engine.net import proofs
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]


def _members(node: Node, thread_id: object) -> set[str]:
    return {m.peer_id for m in node.membership.members(thread_id)}  # type: ignore[arg-type]


def _edge(node: Node, thread_id: object) -> bytes:
    return proofs.edge(node.store.logs(thread_id))  # type: ignore[arg-type]


def test_a_joiner_gets_the_thread_by_link_and_messages_flow_both_ways(tmp_path: Path) -> None:
    async def main() -> None:
        async with running_peers(tmp_path, "a", "b") as peers:
            a, b = peers["a"].node, peers["b"].node
            thread_id = a.create_thread(ThreadKind.CHAT, "Us").thread_id
            a.chat(thread_id).post("before you came")
            link = a.invite(thread_id, Role.WRITE)
            assert link.addresses == tuple(peers["a"].service.addresses())

            b.join(link)  # no sync call: the service dials the link's address
            await wait_until(b, lambda: texts(b, thread_id) == ["before you came"])
            await wait_until(a, lambda: peer(b) in {m.peer_id for m in a.membership.members(thread_id)})
            b.chat(thread_id).post("hi from b")
            await wait_until(a, lambda: "hi from b" in texts(a, thread_id))
            a.chat(thread_id).post("hi from a")
            await wait_until(b, lambda: "hi from a" in texts(b, thread_id))
            assert texts(a, thread_id) == texts(b, thread_id)
            assert b.get_thread(thread_id).name == "Us"

    trio.run(main)


def test_peers_that_edit_offline_converge_when_they_meet_again(tmp_path: Path) -> None:
    async def main() -> None:
        async with running_peers(tmp_path, "a", "b") as peers:
            a, b = peers["a"].node, peers["b"].node
            thread_id = a.create_thread(ThreadKind.CHAT, "Us").thread_id
            b.join(a.invite(thread_id, Role.WRITE))
            await wait_until(a, lambda: peer(b) in {m.peer_id for m in a.membership.members(thread_id)})
            await wait_until(b, lambda: _edge(a, thread_id) == _edge(b, thread_id))
            listen = {name: running.listen for name, running in peers.items()}
        # Both offline (services stopped, profiles closed); each writes.
        for name, words in (("a", ["a1", "a2"]), ("b", ["b1"])):
            node = Node.open(tmp_path / name)
            try:
                for word in words:
                    node.chat(thread_id).post(word)
            finally:
                node.close()  # the profile must be free for the restart below
        async with running_peers(tmp_path, "a", "b", listen=listen) as peers:  # a restart dials the peers it knows
            a, b = peers["a"].node, peers["b"].node
            await wait_until(a, lambda: texts(a, thread_id) == ["a1", "a2", "b1"])
            await wait_until(b, lambda: texts(b, thread_id) == ["a1", "a2", "b1"])
            assert _edge(a, thread_id) == _edge(b, thread_id)

    trio.run(main)


def test_a_reader_gets_what_it_missed_from_the_follower_alone(open_node: OpenNode) -> None:
    async def main() -> None:
        a, f, r = (open_node(n) for n in "afr")
        thread_id = a.create_thread(ThreadKind.CHAT, "Us").thread_id
        async with serving(a) as service_a, serving(f):
            f.join(a.invite(thread_id, Role.FOLLOW))
            async with serving(r):
                r.join(a.invite(thread_id, Role.READ))
                await wait_until(a, lambda: {peer(f), peer(r)} <= _members(a, thread_id))
                await wait_until(f, lambda: _edge(f, thread_id) == _edge(a, thread_id))
            # r is offline; a writes, f stores what it cannot read.
            a.chat(thread_id).post("while you were away")
            await wait_until(f, lambda: _edge(f, thread_id) == _edge(a, thread_id))
            assert f.get_thread(thread_id).name is None  # a follower reads nothing
            service_a_addresses = service_a.addresses()
            await service_a.stop()
            # a is offline for good; r comes back and only f answers.
            async with serving(r) as service_r:
                try:
                    await wait_until(r, lambda: texts(r, thread_id) == ["while you were away"])
                except trio.TooSlowError:  # a rare CI failure: say what r's links stood at
                    names = {str(a.identity.peer_id): "a", str(f.identity.peer_id): "f"}
                    links = [(names.get(s.peer, s.peer), s.connected, s.failures, s.last_error)
                             for s in service_r.peer_status()]
                    raise AssertionError(f"r has {texts(r, thread_id)}; its links: {links}; edges equal: "
                                         f"{_edge(r, thread_id) == _edge(f, thread_id)}") from None
                connected = {s.peer for s in service_r.peer_status() if s.connected}
                assert str(f.identity.peer_id) in connected
                assert service_a_addresses and str(a.identity.peer_id) not in connected

    trio.run(main)


def test_a_follower_hears_of_records_it_stores_but_cannot_read(open_node: OpenNode) -> None:
    async def main() -> None:
        a, f = open_node("a"), open_node("f")
        thread_id = a.create_thread(ThreadKind.CHAT, "Us").thread_id
        async with serving(a), serving(f):
            f.join(a.invite(thread_id, Role.FOLLOW))
            await wait_until(f, lambda: _edge(f, thread_id) == _edge(a, thread_id))
            heard: list[ChangeSet] = []
            arrived = trio.Event()

            def hear(changes: ChangeSet) -> None:
                heard.append(changes)
                arrived.set()

            f.subscribe(hear, thread_id=thread_id)
            before = f.get_thread(thread_id).event_count
            a.chat(thread_id).post("stored, not read")
            with trio.fail_after(WAIT_SECONDS):
                await arrived.wait()
            assert all(thread_id in c.threads_updated and not c.documents for c in heard)
            assert _edge(f, thread_id) == _edge(a, thread_id)
            assert f.get_thread(thread_id).event_count > before

    trio.run(main)


def test_new_records_also_travel_by_gossip_on_the_threads_topic(tmp_path: Path) -> None:
    async def main() -> None:
        async with running_peers(tmp_path, "a", "b") as peers:
            a, b = peers["a"].node, peers["b"].node
            thread_id = a.create_thread(ThreadKind.CHAT, "Us").thread_id
            b.join(a.invite(thread_id, Role.WRITE))
            await wait_until(b, lambda: _edge(a, thread_id) == _edge(b, thread_id))
            gossip_b = peers["b"].service.gossip
            assert gossip_b is not None
            for n in range(5):  # the mesh forms at the first heartbeats (1 s)
                a.chat(thread_id).post(f"gossip {n}")
                with trio.move_on_after(1.5):
                    await wait_until(b, lambda: gossip_b.received > 0)
                if gossip_b.received:
                    break
            assert gossip_b.received > 0
            await wait_until(b, lambda: len(texts(b, thread_id)) == len(texts(a, thread_id)))

    trio.run(main)


def test_a_direct_invite_reaches_a_nearby_peer_who_accepts_and_syncs(tmp_path: Path) -> None:
    async def main() -> None:
        async with running_peers(tmp_path, "a", "b") as peers:
            a, b = peers["a"].node, peers["b"].node
            thread_id = a.create_thread(ThreadKind.CHAT, "Nearby").thread_id
            a.chat(thread_id).post("come in")
            # As discovery would: a knows where b is, nothing more.
            a.addresses.add(b.identity.peer_id, peers["b"].service.addresses(), 120)
            await peers["a"].service.invite_directly(thread_id, b.identity.peer_id, Role.WRITE)
            [(invite_id, invite)] = b.membership.direct_invites()
            assert invite.sender == peer(a) and invite.link.name == "Nearby"
            b.accept_invite(invite_id)
            await wait_until(b, lambda: texts(b, thread_id) == ["come in"])
            assert b.membership.direct_invites() == []

    trio.run(main)
