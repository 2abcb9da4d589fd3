"""This profile's own settings: the name it gives itself and when it fetches originals."""

from __future__ import annotations

from dataclasses import dataclass

from threads_desktop.engine.core.types import FetchOriginals
from threads_desktop.engine.node import Node


@dataclass(frozen=True, slots=True)
class Me:
    """Who this profile is, as the sidebar shows it."""

    person_id: str  # what others invite and add: the same on each of the person's devices (issue 19)
    name: str


def me(node: Node) -> Me:
    return Me(node.persons.person_id, node.display_name())


def display_name(node: Node) -> str:
    return node.display_name()


def set_display_name(node: Node, name: str) -> None:
    node.set_display_name(name)


def profile_choices(node: Node) -> tuple[str, FetchOriginals]:
    return node.display_name() or "", node.fetch_originals()


def set_fetch_originals(node: Node, policy: FetchOriginals) -> None:
    node.set_fetch_originals(policy)
