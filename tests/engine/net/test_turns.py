"""Members first (engine/net/turns.py): while a member's request is being
answered, strangers' connections wait, at most their limit per read. On
127.0.0.1, a real node, a stranger's and a member's libp2p hosts."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

import trio

from tests.engine.net import running
from tests.engine.net.hostile import NOTHING, connect, empty_hello, hostile_host, scene, still_serves
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.core.keys import Identity
from threads_desktop.engine.net.budgets import Limits
from threads_desktop.engine.net.turns import MembersFirst
from threads_desktop.engine.node import Node


def test_a_strangers_request_waits_while_a_member_is_served_and_no_longer_than_its_limit(tmp_path: Path) -> None:
    """Before, a stranger's bytes were read and answered in the same turns
    as a member's: under attack, every honest round trip waited behind
    hundreds of strangers' tasks (bench hostile: joins of 3.4-14 s)."""
    limits = Limits(stranger_read_wait_seconds=2.0)
    async def main() -> None:
        async with scene(tmp_path, member=True, limits=limits) as s:
            assert s.member is not None
            async with hostile_host(Identity.generate()) as stranger, hostile_host(s.member.identity) as member:
                h = await connect(stranger, s)
                m = await connect(member, s)
                with s.a.service.members_first.serving():  # a member's request is being answered
                    sent = trio.current_time()
                    await h.send(empty_hello())
                    with trio.move_on_after(1.0) as early:
                        await h.reply()
                    assert early.cancelled_caught  # the stranger waits ...
                    assert await m.ask(empty_hello()) == NOTHING  # ... while the member is answered at once
                    with trio.fail_after(3 * limits.stranger_read_wait_seconds + 2.0):
                        assert await h.reply() == NOTHING  # and waits no longer than its limit per read
                    assert trio.current_time() - sent >= limits.stranger_read_wait_seconds - 0.1
                assert s.a.service.members_first.waited >= 1
                with trio.fail_after(2.0):
                    assert await h.ask(empty_hello()) == NOTHING  # members done: at once again
            await still_serves(s)

    trio.run(main)


def test_strangers_wait_for_the_grace_after_members_work_and_not_at_all_otherwise() -> None:
    now = [100.0]
    turns = MembersFirst(Limits(members_first_grace_seconds=0.25, stranger_read_wait_seconds=5.0),
                         clock=lambda: now[0])

    async def main() -> None:
        assert not turns.busy
        await turns.strangers_turn()  # nobody served: no wait at all
        assert turns.waited == 0
        with turns.serving(), turns.serving():  # nested: busy until the last ends
            assert turns.busy
        assert turns.busy  # the grace: the member's next request is a round trip away
        now[0] += 0.3
        assert not turns.busy

    trio.run(main)


def test_our_pass_with_a_stranger_holds_no_strangers_reads_and_one_with_a_member_goes_first(tmp_path: Path) -> None:
    """Before, every pass of ours counted as members' work: with a joiner
    not admitted yet, each of its reads (its answers to that very pass, its
    join request) waited 0.5 s while the two passed every 2 s, and its join
    timed out again and again (test_lan_sync under load)."""
    async def main() -> None:
        async with scene(tmp_path) as s:
            turns = s.b.service.members_first
            entered: list[float] = []
            serving = turns.serving

            def counted() -> AbstractContextManager[None]:
                entered.append(trio.current_time())
                return serving()

            turns.serving = counted  # type: ignore[method-assign]
            stranger = Node.open(tmp_path / "c")
            try:
                async with running.serving(stranger) as stranger_service:
                    peer = stranger.identity.peer_id
                    s.b.node.addresses.add(peer, stranger_service.addresses(), 60)
                    s.b.service.schedule(peer, now=True)
                    await running.wait_until(s.b.node, lambda: _passes(s.b, peer) >= 1)
                    assert entered == []  # a pass with a peer sharing nothing: strangers' reads go on
                    member = s.node.identity.peer_id
                    s.b.node.peers.remember(s.thread, member, s.a.service.addresses())
                    s.b.service.schedule(member, now=True)
                    await running.wait_until(s.b.node, lambda: _passes(s.b, member) >= 1)
                    assert entered  # a pass with a member of our thread: members first
            finally:
                stranger.close()

    trio.run(main)


def _passes(peer: running.Running, other: PeerId) -> int:
    link = peer.service._links.get(other)  # how many passes ran is what is checked
    return link.passes if link is not None else 0
