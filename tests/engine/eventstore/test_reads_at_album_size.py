"""Reads that start-up and the members dialog make cost the same in a large
album as in a small one: they go through indexes, not every event (at
100,000 photos, reading every event took 235 ms at start-up and 180 ms each
time the members dialog opened). Counted in SQLite VM steps, at 200 and
2,000 photos in the same run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.engine.album_sizes import LARGE, SMALL, Albums, cost_at_both_sizes, make_album
from threads_desktop.engine.eventstore.schema import latest_stamp


@pytest.fixture(scope="module")
def albums(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Albums]:
    folder = tmp_path_factory.mktemp("album-sizes")
    made = {count: make_album(folder / str(count), count) for count in (SMALL, LARGE)}
    yield made
    for node, _album in made.values():
        node.close()


def test_the_members_dialogs_refused_events_are_found_without_reading_every_event(albums: Albums) -> None:
    small, large = cost_at_both_sizes(albums, lambda node, album: node.events.refused(album))
    assert all(len(node.events.refused(album)) == 1 for node, album in albums.values())
    assert large <= small + 2, (small, large)  # 10x the photos, not 10x the work


def test_the_clock_starts_past_the_latest_stamp_without_reading_every_event(albums: Albums) -> None:
    small, large = cost_at_both_sizes(albums, lambda node, _album: latest_stamp(node.database.connection))
    assert large <= small + 2, (small, large)
    node, _album = albums[LARGE]
    (expected,) = node.database.connection.execute("SELECT max(stamp) FROM events NOT INDEXED").fetchone()
    assert latest_stamp(node.database.connection) == expected
