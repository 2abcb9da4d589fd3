"""A link joined with and not let in yet, as the window lists it: after the
albums and chats, named as the link named it, with where the join stands in
a person's words (waiting, waiting for the inviter's approval, refused and
why); a thread let in takes the pending row's place."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import QSize
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QStyleOptionViewItem, QWidget

from threads_desktop.engine.core.ids import ThreadId, ThreadVariant
from threads_desktop.engine.core.members import JoinState, Role
from threads_desktop.engine.core.types import ThreadKind, ThreadSummary
from threads_desktop.ui.models.thread_list_model import PENDING_KIND, ThreadListModel, ThreadRole
from threads_desktop.ui.views.join_page import JoinPage
from threads_desktop.ui.widgets.thread_item_delegate import ThreadItemDelegate


def _thread_id() -> ThreadId:
    return ThreadId.from_random(ThreadVariant.ACCESS_CONTROLLED, os.urandom(32))


def _join(status: str, reason: str | None = None, inviter: str | None = "Alice",
          thread_id: ThreadId | None = None) -> JoinState:
    return JoinState(thread_id or _thread_id(), status, reason, "Lisbon 2024", inviter, Role.WRITE,
                     ("/ip4/127.0.0.1/tcp/4141",), 1_765_000_000_000)


def _summary(thread_id: ThreadId, name: str) -> ThreadSummary:
    return ThreadSummary(thread_id, ThreadKind.ALBUM, name, 1_765_000_000, 3, True, True)


@pytest.mark.parametrize(("status", "reason", "inviter", "line"), [
    ("waiting", None, "Alice", "Waiting for a member to let you in"),
    ("waiting-approval", None, "Alice", "Waiting for Alice to approve you"),
    ("waiting-approval", None, None, "Waiting for an admin to approve you"),
    ("refused", "used-up", "Alice", "This invite was used up"),
    ("refused", "expired", "Alice", "This invite has expired"),
    ("refused", "revoked", "Alice", "This invite was revoked"),
    ("refused", "declined", "Alice", "Alice declined your request"),
    ("refused", "declined", None, "An admin declined your request"),
])
def test_a_pending_join_is_listed_with_where_it_stands_in_words(qtbot, status: str,  # type: ignore[no-untyped-def]
                                                                reason: str | None, inviter: str | None,
                                                                line: str) -> None:
    model = ThreadListModel()
    model.set_threads([_summary(_thread_id(), "Porto")])
    join = _join(status, reason, inviter)
    model.set_pending([join])
    assert model.rowCount() == 2
    row = model.index(model.row_of(str(join.thread_id)))
    assert row.row() == 1  # after the threads we are in
    assert (row.data(ThreadRole.NAME), row.data(ThreadRole.KIND)) == ("Lisbon 2024", PENDING_KIND)
    assert row.data(ThreadRole.STATUS_LINE) == line
    assert row.data(ThreadRole.JOIN_STATE) == join and row.data(ThreadRole.JOIN_STATUS) == status
    assert model.index(0).data(ThreadRole.JOIN_STATE) is None


def test_a_thread_let_in_takes_the_place_of_its_pending_row(qtbot) -> None:  # type: ignore[no-untyped-def]
    model = ThreadListModel()
    porto = _summary(_thread_id(), "Porto")
    model.set_threads([porto])
    join = _join("waiting-approval")
    model.set_pending([join])
    with qtbot.waitSignal(model.dataChanged, timeout=1000):  # approved meanwhile: the same row changes
        model.set_pending([_join("refused", "declined", thread_id=join.thread_id)])
    assert model.index(1).data(ThreadRole.STATUS_LINE) == "Alice declined your request"
    model.update_threads([_summary(join.thread_id, "Lisbon 2024")])
    assert model.rowCount() == 2
    assert [model.index(r).data(ThreadRole.KIND) for r in range(2)] == ["album", "album"]
    model.set_pending([join])  # the engine still lists it a moment: not twice
    assert model.rowCount() == 2
    model.set_pending([])
    model.set_threads([porto])  # left: gone from both
    assert model.rowCount() == 1


def test_the_sidebar_row_of_a_refused_join_paints_its_reason(qtbot) -> None:  # type: ignore[no-untyped-def]
    model = ThreadListModel()
    model.set_pending([_join("refused", "used-up")])
    host = QWidget()
    qtbot.addWidget(host)
    delegate = ThreadItemDelegate(host)
    option = QStyleOptionViewItem()
    option.initFrom(host)
    option.rect = host.rect().adjusted(0, 0, 300 - host.width(), 0)
    size = delegate.sizeHint(option, model.index(0))
    option.rect.setSize(QSize(300, size.height()))
    image = QImage(300, size.height(), QImage.Format.Format_ARGB32)
    image.fill(0xFFFFFFFF)
    painter = QPainter(image)
    delegate.paint(painter, option, model.index(0))
    painter.end()
    # The reason's line is drawn in red (the refused colour) below the name.
    reds = sum(1 for x in range(60, 300) for y in range(size.height() // 2, size.height())
               if (c := image.pixelColor(x, y)).red() > 150 and c.green() < 90 and c.blue() < 90)
    assert reds > 20


def test_the_page_of_a_refused_join_offers_a_new_link_and_removal(qtbot) -> None:  # type: ignore[no-untyped-def]
    page = JoinPage()
    qtbot.addWidget(page)
    page.show()
    waiting = _join("waiting")
    page.show_join(waiting)
    assert page.title.text() == "Lisbon 2024" and page.status.text() == "Waiting for a member to let you in"
    assert "online at the same time" in page.explanation.text()
    assert not page.new_link_button.isVisible() and page.remove_button.text() == "Cancel joining"
    refused = _join("refused", "expired", thread_id=waiting.thread_id)
    page.show_join(refused)
    assert page.status.text() == "This invite has expired"
    assert page.explanation.text().startswith("Ask Alice for a new link")
    assert "expired" not in page.explanation.text()  # the status line above says it once
    assert page.new_link_button.isVisible() and page.remove_button.text() == "Remove from the list"
    with qtbot.waitSignal(page.new_link_requested, timeout=1000):
        page.new_link_button.click()
    with qtbot.waitSignal(page.remove_requested, timeout=1000) as removed:
        page.remove_button.click()
    assert removed.args == [refused]
    for text in (page.title.text(), page.status.text(), page.explanation.text()):
        assert "12D3KooW" not in text and "used-up" not in text
