"""The viewer's step to the next photo (photo_details) costs the same in a
large album as in a small one: it asked the thread's summary whether we may
write, and a summary counts every photo (20 ms at 100,000)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.engine.album_sizes import LARGE, SMALL, Albums, cost_at_both_sizes, make_album
from threads_desktop.ui.models.photo_grid_model import BATCH
from threads_desktop.ui.operations.photos import page, photo_details


@pytest.fixture(scope="module")
def albums(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Albums]:
    folder = tmp_path_factory.mktemp("viewer-album-sizes")
    made = {count: make_album(folder / str(count), count) for count in (SMALL, LARGE)}
    yield made
    for node, _album in made.values():
        node.close()


def test_the_viewers_next_photo_costs_the_same_in_a_large_album(albums: Albums) -> None:
    small, large = cost_at_both_sizes(albums, lambda node, album: photo_details(node, album, f"{100:064x}"))
    assert large <= small + 3, (small, large)
    for node, album in albums.values():
        details = photo_details(node, album, f"{100:064x}")
        assert details.name == "IMG_100.jpg" and details.can_write == node.get_thread(album).can_write is True


def test_an_albums_first_page_costs_the_page_not_the_album(albums: Albums) -> None:
    small, large = cost_at_both_sizes(albums, lambda node, album: page(node, album, True, 0, BATCH))
    assert large <= small + 3, (small, large)  # ordered_ids, which the grid read first, is 10x at 10x the photos
    for node, album in albums.values():
        every = node.photos(album).ordered_ids(newest_first=True)
        first, later = page(node, album, True, 0, BATCH), page(node, album, True, 150, 20)
        assert first.ids == every[:BATCH] and later.ids == every[150:170]  # the grid's order, by position
        assert [card.id for card in first.cards] == first.ids
