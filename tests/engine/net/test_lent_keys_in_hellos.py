"""Follow keys lent in a hello answer (issue 19, PROTOCOL §34): a member that
proves an older follow key than the answerer's newest is lent the newer ones,
exactly those; a member in step, a removed member and a stranger are lent
nothing. Real peers on 127.0.0.1, the member's side driven by hand."""

from __future__ import annotations

from pathlib import Path

import trio

from tests.engine.eventstore.peers import join, peer
from tests.engine.net.hostile import connect, hostile_host, scene, still_serves
from threads_desktop.engine.core.keys import Identity, ThreadKey
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.node import Node


def test_a_member_behind_two_rotations_is_lent_the_newer_follow_keys_and_only_them(
        tmp_path: Path) -> None:
    async def main() -> None:
        async with scene(tmp_path, member=True) as s:
            m = s.member
            assert m is not None
            old_keys = m.store.thread_keys(s.thread)
            for name in ("x", "y"):  # two members removed: m, offline, hears of neither rotation
                gone = Node.open(tmp_path / name)
                try:
                    join(s.node, gone, s.thread)
                    s.node.membership.revoke(s.thread, peer(gone), Role.FOLLOW)
                finally:
                    gone.close()
            held = s.node.store.thread_keys(s.thread)
            newer = [[k.epoch, k.follow, k.read] for k in held if k.epoch > old_keys[0].epoch]
            assert len({k[1] for k in newer}) >= 2 and all(k[2] is not None for k in newer)  # m reads
            async with hostile_host(m.identity) as host:
                h = await connect(host, s)
                [match] = (await h.hello([(s.thread, old_keys)]))["matches"]
                assert match[3] == newer
                [match] = (await h.hello([(s.thread, held)]))["matches"]
                assert len(match) == 3  # in step: nothing lent
            await still_serves(s)

    trio.run(main)


def test_a_removed_member_and_a_stranger_are_lent_nothing(tmp_path: Path) -> None:
    async def main() -> None:
        async with scene(tmp_path, member=True) as s:
            m = s.member
            assert m is not None
            old_keys = m.store.thread_keys(s.thread)
            s.node.membership.revoke(s.thread, peer(m), Role.FOLLOW)
            async with hostile_host(m.identity) as host:
                h = await connect(host, s)
                matches = (await h.hello([(s.thread, old_keys)]))["matches"]
                assert all(len(match) == 3 for match in matches)  # told its removal, lent nothing
            async with hostile_host(Identity.generate()) as host:
                h = await connect(host, s)  # a stranger holding the old keys (a link made before)
                assert (await h.hello([(s.thread, old_keys)]))["matches"] == []
            await still_serves(s)

    trio.run(main)


def test_a_loan_ends_with_the_lenders_next_hello_that_lends_nothing(tmp_path: Path) -> None:
    async def main() -> None:
        async with scene(tmp_path) as s:
            b = s.b.node
            held = b.store.thread_keys(s.thread)
            made_up = ThreadKey(bytes(32 * [3]), None, held[0].epoch + 1_000_000)
            b.store.lend_keys(s.thread, s.node.identity.peer_id, [made_up])
            assert b.store._opening_keys(s.thread) != held
            await still_serves(s)  # b's pass with a: a is in step with b and lends nothing
            assert b.store._opening_keys(s.thread) == held

    trio.run(main)
