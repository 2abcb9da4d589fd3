"""Times shown for comments: short, in the person's locale, relative to
today; a peer's nonsense clock shows nothing."""

from __future__ import annotations

import datetime
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QLocale, Qt

from threads_desktop.engine.core.hlc import MAX_HLC, pack
from threads_desktop.ui.models.comment_list_model import Comment, CommentListModel
from threads_desktop.ui.moments import full_time, short_time

NOW = datetime.datetime(2026, 12, 6, 18, 30)


def _ms(*parts: int) -> int:
    return int(datetime.datetime(*parts).timestamp() * 1000)  # type: ignore[misc]


@pytest.fixture
def british(qapp) -> Iterator[None]:  # type: ignore[no-untyped-def]
    before = QLocale()
    QLocale.setDefault(QLocale(QLocale.Language.English, QLocale.Country.UnitedKingdom))
    yield
    QLocale.setDefault(before)


def test_a_time_today_yesterday_this_year_and_before(british: None) -> None:
    assert short_time(_ms(2026, 12, 6, 14, 5), NOW) == "14:05"
    assert short_time(_ms(2026, 12, 5, 9, 7), NOW) == "Yesterday, 09:07"
    assert short_time(_ms(2026, 3, 1, 14, 5), NOW) == "1 Mar, 14:05"
    assert short_time(_ms(2024, 12, 3, 14, 5), NOW) == "03/12/2024, 14:05"
    assert "2024" in full_time(_ms(2024, 12, 3, 14, 5, 9)) and "14:05:09" in full_time(_ms(2024, 12, 3, 14, 5, 9))


def test_the_locale_decides_the_form(qapp) -> None:  # type: ignore[no-untyped-def]
    before = QLocale()
    QLocale.setDefault(QLocale(QLocale.Language.English, QLocale.Country.UnitedStates))
    try:
        assert short_time(_ms(2026, 12, 6, 14, 5), NOW).replace("\u202f", " ") == "2:05 PM"
    finally:
        QLocale.setDefault(before)


def test_a_nonsense_clock_from_a_peer_shows_nothing(british: None) -> None:
    assert short_time(MAX_HLC >> 16) == "" and full_time(MAX_HLC >> 16) == ""
    model = CommentListModel()
    model.set_comments([Comment("c", "Bob", "from the far future", MAX_HLC, False)])
    assert model.index(0).data() == "Bob\nfrom the far future"


def test_a_comment_shows_who_when_and_what_with_the_full_time_as_tooltip(british: None) -> None:
    model = CommentListModel()
    written = int(datetime.datetime.now().replace(hour=8, minute=3, second=0).timestamp() * 1000)
    model.set_comments([Comment("c1", "Alice", "Good boy", pack(written, 0), False),
                        Comment("c2", "me", "Thanks", pack(written, 1), True)])
    assert model.index(0).data() == "Alice · 08:03\nGood boy"
    assert model.index(1).data() == "You · 08:03\nThanks"
    assert "08:03:00" in model.index(0).data(Qt.ItemDataRole.ToolTipRole)
