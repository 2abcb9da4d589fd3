"""The profile's network settings through the node (Settings, `relay`):
relay peers by address, checked before anything is stored, and UPnP on/off;
kept in the profile for every process that opens it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from threads_desktop.engine.core.errors import InvalidInputError, NotFoundError
from threads_desktop.engine.core.keys import SigningKey
from threads_desktop.engine.node import Node

OpenNode = Callable[..., Node]


def _relay(port: int = 4141) -> str:
    return f"/ip4/203.0.113.5/tcp/{port}/p2p/{SigningKey.generate().peer_id}"


def test_relays_are_added_listed_and_removed_and_kept_in_the_profile(open_node: OpenNode) -> None:
    node = open_node("p")
    first, second = _relay(), _relay(4242)
    assert node.relays() == []
    assert node.add_relay(f"  {first}\n") == first
    assert node.add_relay(second) == second
    assert node.add_relay(first) == first  # twice: listed once
    assert node.relays() == [first, second]
    node.close()
    node = open_node("p")
    assert node.relays() == [first, second]
    node.remove_relay(first)
    assert node.relays() == [second]
    with pytest.raises(NotFoundError, match="not in the list"):
        node.remove_relay(first)
    assert node.set_relays([first, second, first]) == [first, second]
    assert node.relays() == [first, second]


def test_a_bad_relay_address_is_refused_and_nothing_is_stored(open_node: OpenNode) -> None:
    node = open_node()
    kept = node.add_relay(_relay())
    with pytest.raises(InvalidInputError, match="not a relay address"):
        node.add_relay("example.org:4141")
    with pytest.raises(InvalidInputError, match="own address"):
        node.add_relay(f"/ip4/203.0.113.5/tcp/4141/p2p/{node.identity.peer_id}")
    with pytest.raises(InvalidInputError, match="host, a TCP port"):
        node.set_relays([_relay(), "/ip4/1.2.3.4/tcp/1"])  # one bad: none of them stored
    assert node.relays() == [kept]


def test_upnp_is_on_until_turned_off(open_node: OpenNode) -> None:
    node = open_node("p")
    assert node.upnp_enabled() is True
    node.set_upnp_enabled(False)
    node.close()
    assert open_node("p").upnp_enabled() is False
