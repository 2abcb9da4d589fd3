"""What the sidebar shows of each thread: counts, last activity, unread."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.engine.album_sizes import LARGE, SMALL, Albums, cost_at_both_sizes, make_album
from tests.engine.eventstore.peers import join, start_thread, sync
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]


def test_a_summary_counts_live_items_and_says_when_the_last_change_was_made(open_node: OpenNode) -> None:
    node = open_node("a")
    chat = start_thread(node, ThreadKind.CHAT, "Us")
    before = node.get_thread(chat)
    first = node.chat(chat).post("one")
    node.chat(chat).post("two")
    node.chat(chat).delete(first)
    summary = node.get_thread(chat)
    assert summary.message_count == 1 and summary.unread == 0  # our own messages are never unread
    assert summary.last_activity_ms is not None and before.last_activity_ms is not None
    assert summary.last_activity_ms >= before.last_activity_ms


def test_a_chat_summary_counts_what_others_wrote_since_it_was_read(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    chat = start_thread(a, ThreadKind.CHAT, "Us")
    join(a, b, chat)
    ids = [a.chat(chat).post(text) for text in ("hi", "there", "again")]
    sync(a, b, chat)
    assert b.get_thread(chat).unread == 3
    b.chat(chat).mark_read(ids[1])
    assert [t.unread for t in b.list_threads() if t.thread_id == chat] == [1]


def test_a_rename_reaches_members_and_a_reader_cannot_rename(open_node: OpenNode) -> None:
    from threads_desktop.engine.core.errors import AccessDeniedError, InvalidInputError
    from threads_desktop.engine.core.members import Role

    a, b = open_node("a"), open_node("b")
    album = start_thread(a, ThreadKind.ALBUM, "Trip")
    join(a, b, album, role=Role.READ)
    assert a.rename_thread(album, "  Lisbon 2024 ").name == "Lisbon 2024"
    sync(a, b, album)
    assert b.get_thread(album).name == "Lisbon 2024"
    with pytest.raises(AccessDeniedError):
        b.rename_thread(album, "Mine now")
    with pytest.raises(InvalidInputError):
        a.rename_thread(album, "   ")
    assert a.get_thread(album).name == "Lisbon 2024"


@pytest.fixture(scope="module")
def albums(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Albums]:
    folder = tmp_path_factory.mktemp("summary-album-sizes")
    made = {count: make_album(folder / str(count), count) for count in (SMALL, LARGE)}
    yield made
    for node, _album in made.values():
        node.close()


def test_a_summary_costs_the_same_in_a_large_album(albums: Albums) -> None:
    small, large = cost_at_both_sizes(albums, lambda node, album: node.get_thread(album))
    assert large <= small + 2, (small, large)  # 10x the photos, not 10x the work
    assert [node.get_thread(album).photo_count for node, album in albums.values()] == [SMALL, LARGE]


def test_the_photo_count_follows_deletes_replays_and_rebuilds_from_a_snapshot(albums: Albums) -> None:
    node, album = albums[SMALL]
    node.photos(album).delete_many([f"{i:064x}" for i in range(10)])
    assert node.get_thread(album).photo_count == SMALL - 10
    node.events.snapshot(album)
    node.photos(album).delete(f"{10:064x}")
    for from_snapshot in (True, False):
        node.events.rebuild(album, from_snapshot=from_snapshot)
        assert node.get_thread(album).photo_count == SMALL - 11 == len(node.photos(album).ordered_ids())
