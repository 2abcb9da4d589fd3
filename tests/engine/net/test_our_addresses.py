"""What a profile tells others about where it is: wildcards spelled out,
never loopback or link-local when it has anything else, in links and in
what identify advertises."""

from __future__ import annotations

from collections.abc import Callable

import trio

from tests.engine.net.running import serving
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
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
