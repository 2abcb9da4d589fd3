"""A member we have never met is known as one from its handshake on
(engine/net/members.py): the ACLs of our threads name it, so it gets
members' places before its first hello proves anything. On 127.0.0.1,
with strangers' hello budget spent so that a stranger's hello is refused."""

from __future__ import annotations

from pathlib import Path

import trio

from tests.engine.net.hostile import NOTHING, connect, empty_hello, hostile_host, scene, still_serves
from threads_desktop.engine.acl.devices import sign_removal
from threads_desktop.engine.core.keys import Identity
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.net.budgets import Limits

# Strangers may not make one hello's work (one thread): every stranger's hello is "busy".
NO_HELLOS = Limits(stranger_hello_threads_per_second=0.001, stranger_hello_threads_burst=0.5)
BUSY = "busy: too many hellos, try again later"


def test_a_member_the_acl_names_but_never_met_is_answered_where_strangers_are_refused(tmp_path: Path) -> None:
    """Before, the node knew a member only from a session or its peer book:
    a member never met (here joined in-process: nothing of it in a's peer
    book) met the strangers' hello budget, "busy" under a hello flood."""
    async def main() -> None:
        async with scene(tmp_path, member=True, limits=NO_HELLOS) as s:
            assert s.member is not None
            member_id = s.member.identity.peer_id
            assert not s.node.peers.threads_of(member_id)  # never met
            async with hostile_host(Identity.generate()) as stranger, hostile_host(s.member.identity) as member:
                refused = await (await connect(stranger, s)).ask(empty_hello())
                assert refused is not None and refused["message"] == BUSY, refused
                first = await connect(member, s)
                assert await first.ask(empty_hello()) == NOTHING  # answered, proof or not: a member
                assert len((await first.hello([(s.thread, s.member.store.thread_keys(s.thread))]))["matches"]) == 1
            await still_serves(s)

    trio.run(main)


def test_a_peer_granted_a_role_while_the_node_runs_is_a_member_at_once_and_the_acls_are_not_read_per_look_up(
        tmp_path: Path) -> None:
    async def main() -> None:
        async with scene(tmp_path, limits=NO_HELLOS) as s:
            newcomer = Identity.generate()
            async with hostile_host(newcomer) as host:
                before = await (await connect(host, s)).ask(empty_hello())
                assert before is not None and before["message"] == BUSY, before
                s.node.membership.grant(s.thread, str(newcomer.peer_id), Role.FOLLOW)
                assert await (await connect(host, s)).ask(empty_hello()) == NOTHING  # the ACL read again once
                reads = s.a.service.acl_peers.reads
                for _ in range(4):
                    assert await (await connect(host, s)).ask(empty_hello()) == NOTHING
                assert s.a.service.acl_peers.reads == reads  # then from memory
            await still_serves(s)

    trio.run(main)


def test_a_member_persons_other_device_never_met_is_a_member_and_a_removed_one_is_not(tmp_path: Path) -> None:
    """Issue 19: the ACL names the person; its other devices, known here only
    from a certificate in the device book, were strangers until their hello
    (members' places are for the persons' devices too). A device its person
    removed is a stranger again at once."""
    async def main() -> None:
        async with scene(tmp_path, member=True, limits=NO_HELLOS) as s:
            assert s.member is not None
            laptop = Identity.generate()
            cert = s.member.persons.issue_cert(laptop.peer_id, "laptop")
            async with hostile_host(laptop) as host:
                before = await (await connect(host, s)).ask(empty_hello())
                assert before is not None and before["message"] == BUSY, before  # not known yet: a stranger
                assert s.node.persons.record([cert]) == [cert]
                assert await (await connect(host, s)).ask(empty_hello()) == NOTHING  # a member's device
                removal = sign_removal(s.member.persons.book.person_key(), laptop.peer_id, cert.added_ms + 1)
                assert s.node.persons.record([removal]) == [removal]
                after = await (await connect(host, s)).ask(empty_hello())
                assert after is not None and after["message"] == BUSY, after
            await still_serves(s)

    trio.run(main)
