"""The relay client's direct dial (relay_client.connect_directly) with real
libp2p hosts on 127.0.0.1: each address is dialled by itself, so a stale
address does not hide a good one, and a failure does not make the library
refuse the peer for a minute (review finding 5)."""

from __future__ import annotations

import socket

import multiaddr
import pytest
import trio
from libp2p.peer.id import ID

from threads_desktop.engine.core.errors import PeerError
from threads_desktop.engine.core.keys import Identity
from threads_desktop.engine.net import host as hosting
from threads_desktop.engine.net.relay_client import RelayClient

LOCAL = "/ip4/127.0.0.1/tcp/0"


def _closed_port() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return f"/ip4/127.0.0.1/tcp/{probe.getsockname()[1]}"


def test_a_stale_address_neither_hides_a_good_one_nor_locks_the_peer_out() -> None:
    async def main() -> None:
        me, friend = Identity.generate(), Identity.generate()
        ours, theirs = hosting.build_host(me), hosting.build_host(friend)
        async with ours.run(listen_addrs=[multiaddr.Multiaddr(LOCAL)]), \
                theirs.run(listen_addrs=[multiaddr.Multiaddr(LOCAL)]):
            try:
                good = next(a for a in hosting.listen_addresses(theirs) if "/tcp/0" not in a)
                stale = _closed_port()
                client = RelayClient(ours, me.peer_id, candidates=list, wanted=lambda: False,
                                     on_change=lambda: None, hole_punching=False)
                with pytest.raises(PeerError):
                    await client.connect_directly(friend.peer_id, [stale])
                # the failure did not put the peer on the library's 60 s refusal list:
                # the library's own dialling (dial-back's streams use it) still reaches it
                await hosting.connect(ours, friend.peer_id, [good])
                assert hosting.is_connected(ours, friend.peer_id)
                await ours.get_network().close_peer(ID(friend.peer_id.raw))
                with trio.fail_after(10):
                    while hosting.is_connected(ours, friend.peer_id):
                        await trio.sleep(0.01)
                # the stale address first: the good one is still dialled
                await client.connect_directly(friend.peer_id, [stale, good])
                assert hosting.is_connected(ours, friend.peer_id)
            finally:
                await ours.close()
                await theirs.close()

    trio.run(main)
