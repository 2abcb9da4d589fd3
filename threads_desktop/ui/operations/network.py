"""The network as the UI sees it: who is nearby."""

from __future__ import annotations

from threads_desktop.engine.core.types import NearbyPeer
from threads_desktop.engine.node import Node


def nearby_peers(node: Node) -> list[NearbyPeer]:
    return node.nearby_peers()
