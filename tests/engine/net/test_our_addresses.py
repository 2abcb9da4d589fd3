"""What a profile tells others about where it is: wildcards spelled out,
never loopback or link-local when it has anything else, in links and in
what identify advertises."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import multiaddr
import trio

from tests.engine.eventstore.peers import join_with
from tests.engine.net.running import running_peers, serving, wait_until
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.core.keys import Identity
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.net import host as hosting
from threads_desktop.engine.net.addresses import Scope, classify, read_interfaces
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]


def _expected(version: int, port: int, peer: str) -> set[str]:
    """The machine's own addresses of that family, as a peer elsewhere would dial them."""
    ips = [i.ip for i in read_interfaces() if i.ip.version == version]
    wide = {ip for ip in ips if classify(f"/ip{version}/{ip}/tcp/1") in (Scope.PRIVATE, Scope.PUBLIC)}
    chosen = wide or {ip for ip in ips if ip.is_loopback}
    return {f"/ip{version}/{ip}/tcp/{port}/p2p/{peer}" for ip in chosen}


def test_a_profile_listening_everywhere_gives_its_interfaces_addresses_in_links_and_identify(
        open_node: OpenNode) -> None:
    async def main() -> None:
        a = open_node("a")
        thread_id = a.create_thread(ThreadKind.CHAT, "Us").thread_id
        for listen, version in (("/ip4/0.0.0.0/tcp/0", 4), ("/ip6/::/tcp/0", 6)):
            async with serving(a, listen) as service:
                port = int(service.addresses()[0].split("/")[4])
                link = a.invite(thread_id, Role.WRITE)
                expected = _expected(version, port, str(a.identity.peer_id))
                assert set(link.addresses) == expected
                assert service.status().addresses and set(service.status().addresses) == expected
                assert service._host is not None
                identified = {str(address) for address in service._host.get_addrs()}  # what identify sends
                assert identified == expected

    trio.run(main)


def test_a_profile_on_loopback_alone_puts_loopback_in_its_links(open_node: OpenNode) -> None:
    async def main() -> None:
        a = open_node("a")
        thread_id = a.create_thread(ThreadKind.CHAT, "Us").thread_id
        async with serving(a) as service:  # 127.0.0.1 only
            link = a.invite(thread_id, Role.WRITE)
            assert list(link.addresses) == service.addresses()
            assert all(address.startswith("/ip4/127.0.0.1/") for address in link.addresses)

    trio.run(main)


def test_identify_reports_name_the_peer_that_made_them() -> None:
    """Review finding 7: where a peer says it sees us is heard with who
    said it, so the network can keep only members' reports (a stranger
    could otherwise steer what we advertise for 30 min)."""
    heard: list[tuple[PeerId, str, str]] = []
    got = trio.Event()

    def observed(peer: PeerId, observer_ip: str, address: str) -> None:
        heard.append((peer, observer_ip, address))
        got.set()

    async def main() -> None:
        me, them = Identity.generate(), Identity.generate()
        ours = hosting.build_host(me, on_observed=observed)
        theirs = hosting.build_host(them)
        local = [multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]
        async with ours.run(listen_addrs=local), theirs.run(listen_addrs=local):
            try:
                await hosting.dial_address(ours, them.peer_id, hosting.listen_addresses(theirs)[0])
                with trio.fail_after(20):
                    await got.wait()
                peer, observer_ip, address = heard[0]
                assert peer == them.peer_id and observer_ip == "127.0.0.1"
                assert address.startswith("/ip4/127.0.0.1/tcp/")
            finally:
                await ours.close()
                await theirs.close()

    trio.run(main)


def test_only_members_reports_make_a_public_address_ours_and_none_makes_us_guess_reachable(tmp_path: Path) -> None:
    """Review finding 7. On 127.0.0.1 every observer has the same IP, so the
    reports come in through the service's identify listener (the callable
    its host calls, _observed_by) with the observer IPs two peers outside
    would have."""
    public = "/ip4/203.0.113.9/tcp/4141"

    async def main() -> None:
        async with running_peers(tmp_path, "a", "b", "c") as peers:
            a, b, c = peers["a"], peers["b"], peers["c"]
            strangers = [Identity.generate().peer_id for _ in range(2)]
            for stranger, ip in zip(strangers, ("198.51.100.1", "198.51.100.2"), strict=True):
                a.service._observed_by(stranger, ip, public)
            assert not any("203.0.113.9" in x for x in a.service.addresses())
            thread_id = a.node.create_thread(ThreadKind.CHAT, "Us").thread_id
            for member in (b, c):
                join_with(a.node, member.node, a.node.invite(thread_id, Role.WRITE))
                await wait_until(a.node, lambda m=member: a.service.budgets.is_member(m.node.identity.peer_id))
            for member, ip in zip((b, c), ("198.51.100.1", "198.51.100.2"), strict=True):
                a.service._observed_by(member.node.identity.peer_id, ip, public)
            assert any("203.0.113.9" in x for x in a.service.addresses())  # members agree: advertised
            # ... but it is what they see, not where we listen: no guess that peers outside reach us
            assert a.service.reachability().reachable is None
            assert not a.service._reachable_now()

    trio.run(main)
