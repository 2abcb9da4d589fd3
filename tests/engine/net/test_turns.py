"""Members first (engine/net/turns.py): while a member's request is being
answered, strangers' connections wait, at most their limit per read. On
127.0.0.1, a real node, a stranger's and a member's libp2p hosts."""

from __future__ import annotations

from pathlib import Path

import trio

from tests.engine.net.hostile import NOTHING, connect, empty_hello, hostile_host, scene, still_serves
from threads_desktop.engine.core.keys import Identity
from threads_desktop.engine.net.budgets import Limits
from threads_desktop.engine.net.turns import MembersFirst


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
