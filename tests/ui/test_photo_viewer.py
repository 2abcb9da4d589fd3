"""The photo viewer is still a QWidget in full: none of its parts hides one of
QWidget's own methods (it once kept its scroll area in `self.scroll`, so
QWidget.scroll was no longer callable on it)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import qasync
from PySide6.QtCore import QPoint, Signal
from PySide6.QtWidgets import QWidget

from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.views.photo_viewer import PhotoViewer


@pytest.fixture
def decoder() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="decode")
    yield pool
    pool.shutdown(wait=True)


def test_scrolling_the_viewer_as_a_widget_moves_its_children(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, decoder: ThreadPoolExecutor) -> None:
    viewer = PhotoViewer(EngineClient(runtime, qt_loop), decoder)
    qtbot.addWidget(viewer)
    viewer.resize(900, 700)
    viewer.show()
    qtbot.waitExposed(viewer)
    children = viewer.findChildren(QWidget)
    before = {child: child.pos() for child in children if child.parentWidget() is viewer}
    assert before  # the stage and the side panel
    viewer.scroll(5, 7)
    assert {child: child.pos() for child in before} == {
        child: pos + QPoint(5, 7) for child, pos in before.items()}


def test_no_attribute_of_the_viewer_hides_a_qwidget_method(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, decoder: ThreadPoolExecutor) -> None:
    viewer = PhotoViewer(EngineClient(runtime, qt_loop), decoder)
    qtbot.addWidget(viewer)
    # PySide6 caches bound signals in the instance's dict: those are QWidget's own.
    methods = {name for name in dir(QWidget)
               if callable(getattr(QWidget, name)) and not isinstance(getattr(QWidget, name), Signal)}
    hidden = sorted(name for name in vars(viewer) if name in methods)
    assert hidden == []
