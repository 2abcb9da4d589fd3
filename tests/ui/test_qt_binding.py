"""The Qt binding itself: PySide6 6.12.0 released a reference to None each
time a Python model's data() returned None to Qt, so any list view aborted
the app ("deallocating None") after a few thousand cells. pyproject keeps
that version out; this test fails if such a binding comes back."""

from __future__ import annotations

import sys
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex


class _Blank(QAbstractListModel):
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 10

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        return None


def test_a_model_answering_none_to_qt_leaves_nones_count_alone() -> None:
    model = _Blank()
    before = sys.getrefcount(None)
    for _ in range(2_000):  # well under the ~5,000 that abort a Python 3.11 process
        model.index(1).data(300)  # Qt's C++ QModelIndex::data calls back into Python
    assert sys.getrefcount(None) >= before - 100
