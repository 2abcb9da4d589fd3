"""The profile's own settings live in its database: every process that
opens the profile (the app, `serve`, a CLI command) follows the same
originals policy, for threads created or joined anywhere."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from threads_desktop.engine.core.errors import InvalidInputError
from threads_desktop.engine.core.types import FetchOriginals, ThreadKind
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]


def test_a_new_profile_fetches_originals_always(open_node: OpenNode) -> None:
    node = open_node("p")
    album = node.create_thread(ThreadKind.ALBUM, "Trip").thread_id
    assert node.fetch_originals() is FetchOriginals.ALWAYS
    assert node.peers.fetch_originals(album) is True


def test_the_policy_is_kept_in_the_profile_and_followed_by_threads_made_later(open_node: OpenNode) -> None:
    first = open_node("p")
    before = first.create_thread(ThreadKind.ALBUM, "Before").thread_id
    first.set_fetch_originals(FetchOriginals.ON_DEMAND)
    first.close()  # another process opens the profile next (a CLI command, `serve`)
    again = open_node("p")
    assert again.fetch_originals() is FetchOriginals.ON_DEMAND
    after = again.create_thread(ThreadKind.CHAT, "After").thread_id
    assert again.peers.fetch_originals(before) is False
    assert again.peers.fetch_originals(after) is False


def test_a_choice_replaces_what_the_old_app_wrote_into_each_thread(open_node: OpenNode) -> None:
    node = open_node("p")
    albums = [node.create_thread(ThreadKind.ALBUM, name).thread_id for name in ("A", "B")]
    for album in albums:  # what the app did before the policy belonged to the profile
        node.peers.set_fetch_originals(album, False)
    node.set_fetch_originals(FetchOriginals.ALWAYS)
    assert [node.peers.fetch_originals(album) for album in albums] == [True, True]
    node.set_fetch_originals(FetchOriginals.ON_DEMAND)
    assert [node.peers.fetch_originals(album) for album in albums] == [False, False]


@pytest.mark.parametrize("bad", ["sometimes", "", "ALWAYS", 1])
def test_a_bad_policy_is_refused_and_changes_nothing(open_node: OpenNode, bad: object) -> None:
    node = open_node("p")
    album = node.create_thread(ThreadKind.ALBUM, "Trip").thread_id
    node.peers.set_fetch_originals(album, False)
    with pytest.raises(InvalidInputError, match="full-size photos"):
        node.set_fetch_originals(bad)  # type: ignore[arg-type]
    assert node.fetch_originals() is FetchOriginals.ALWAYS
    assert node.peers.fetch_originals(album) is False


def test_a_value_a_newer_version_wrote_reads_as_the_default(open_node: OpenNode) -> None:
    from threads_desktop.engine.logstore.local_settings import write_setting

    node = open_node("p")
    write_setting(node.database, "fetch_originals", "only_on_wifi")
    assert node.fetch_originals() is FetchOriginals.ALWAYS
