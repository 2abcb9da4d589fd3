"""A chat bubble shows its author's whole name: elided only when the
bubble has no room for it, never a fraction of a pixel short of it."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QApplication

from threads_desktop.ui.models.message_list_model import MessageListModel
from threads_desktop.ui.operations.chat import ChatPage, MessageItem
from threads_desktop.ui.widgets.message_delegate import bold_font, layout_message

NAMES = ("Alice", "Bruno", "Ali Baba", "Zoë Example", "Wi", "Mathilde Durand-Lefèvre")


def _model(names: dict[str, str]) -> MessageListModel:
    model = MessageListModel()
    items = tuple(MessageItem(id=f"m{n}", author=author, text="hi", created=bytes([n]), created_ms=0, edited=False,
                              mine=False) for n, author in enumerate(names))
    model.set_names(names)
    model.set_page(ChatPage(items, len(items), "me", b"", 0, {}, names))
    return model


@pytest.mark.parametrize("point_size", [8, 9, 10, 10.5, 11, 12, 13.5])
def test_an_authors_name_is_painted_whole_when_the_bubble_has_room(qapp: QApplication, point_size: float) -> None:
    font = QFont(qapp.font())
    font.setPointSizeF(point_size)
    model = _model({f"log{n}": name for n, name in enumerate(NAMES)})
    metrics = QFontMetrics(bold_font(font))  # what paint() elides with
    for row, name in enumerate(NAMES):
        author = layout_message(model.index(row), font, 640, "edited").author
        assert author is not None
        assert metrics.elidedText(name, Qt.TextElideMode.ElideRight, author.width()) == name


def test_a_name_longer_than_the_bubble_is_elided(qapp: QApplication) -> None:
    name = "Bartholomew Maximilian Fitzgerald-Wolfenstein of the Northern Isles"
    model = _model({"log": name})
    author = layout_message(model.index(0), qapp.font(), 200, "edited").author
    assert author is not None
    painted = QFontMetrics(bold_font(qapp.font())).elidedText(name, Qt.TextElideMode.ElideRight, author.width())
    assert painted.endswith("…") and painted.startswith("Bart")
