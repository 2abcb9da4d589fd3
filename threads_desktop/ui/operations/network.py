"""The network as the UI sees it: who is nearby, the peers we share with
(the Devices window), and the profile's network settings."""

from __future__ import annotations

from threads_desktop.engine.core.types import Device, NearbyPeer
from threads_desktop.engine.node import Node


def nearby_peers(node: Node) -> list[NearbyPeer]:
    return node.nearby_peers()


def devices(node: Node) -> list[Device]:
    return node.devices()


def network_settings(node: Node) -> tuple[list[str], bool]:
    """The relay addresses the user named, and whether UPnP is on."""
    return node.relays(), node.upnp_enabled()


def check_relay(node: Node, address: str) -> str:
    """The address as it will be kept; InvalidInputError saying what is wrong."""
    return node.check_relay(address)


def set_network_settings(node: Node, relays: list[str], upnp: bool) -> None:
    """Both at once; the relays are all checked before any is stored."""
    node.set_relays(relays)
    node.set_upnp_enabled(upnp)
