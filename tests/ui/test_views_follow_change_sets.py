"""Views take what a change set carries instead of asking the engine again:
the album grid fetches only the cells that changed and drops deleted photos
by itself, the viewer shows a transfer's snapshot and reads the original once
it is whole, the thread list asks only for the threads named. Counted with a
runtime that records every call the UI makes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import qasync

from tests.ui.album import photo_files
from tests.ui.counting_runtime import RecordingRuntime
from tests.ui.waiting import wait_for
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import ChangeSet, ThreadKind
from threads_desktop.engine.logstore.blobs import BlobRef
from threads_desktop.engine.node import Node
from threads_desktop.ui.dialogs.members_dialog import MembersDialog
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.models.photo_grid_model import PhotoRole
from threads_desktop.ui.models.thread_list_model import ThreadRole
from threads_desktop.ui.operations import chat as chat_ops
from threads_desktop.ui.operations import photos as photo_ops
from threads_desktop.ui.operations import threads as thread_ops
from threads_desktop.ui.operations.members import load_members
from threads_desktop.ui.settings import AppSettings
from threads_desktop.ui.views.chat_view import ChatView
from threads_desktop.ui.views.main_window import MainWindow


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[RecordingRuntime]:
    runtime = RecordingRuntime(lambda: Node.open(tmp_path / "profile"))
    runtime.start()
    yield runtime
    runtime.stop()


@pytest.fixture
def window(qtbot, qt_loop: qasync.QEventLoop, engine: RecordingRuntime,  # type: ignore[no-untyped-def]
           tmp_path: Path) -> Iterator[MainWindow]:
    main_window = MainWindow(EngineClient(engine, qt_loop), AppSettings.from_file(tmp_path / "settings.ini"))
    qtbot.addWidget(main_window)
    with qtbot.waitSignal(main_window.threads_loaded, timeout=10_000):
        main_window.show()
    yield main_window
    main_window.close()


def _asked(qtbot, engine: RecordingRuntime, then: Callable[[], bool]) -> list[Callable[..., Any]]:  # type: ignore[no-untyped-def]
    """The calls the UI made once `then` holds. A last call of the test's
    own goes through the engine after every call the views started before it
    (calls start in order), so none is missed; it is left out."""
    qtbot.waitUntil(then, timeout=20_000)
    wait_for(qtbot, engine.call(Node.identity_card))
    return engine.operations[:-1]


def _album_with_photos(qtbot, window: MainWindow, engine: RecordingRuntime,  # type: ignore[no-untyped-def]
                       tmp_path: Path, count: int) -> tuple[ThreadId, list[str]]:
    summary = wait_for(qtbot, engine.call(Node.create_thread, ThreadKind.ALBUM, "Trip"))
    qtbot.waitUntil(lambda: window.threads.row_of(str(summary.thread_id)) >= 0, timeout=10_000)
    window.select_thread(str(summary.thread_id))
    paths = photo_files(tmp_path / "in", count)
    added = wait_for(qtbot, engine.call(lambda node: node.photos(summary.thread_id).add_files(paths).added))
    album = window.album_view
    qtbot.waitUntil(lambda: album.model.rowCount() == count, timeout=20_000)
    # Every cell loaded (asking for its data is what painting it does).
    qtbot.waitUntil(lambda: all(album.model.index(row).data(PhotoRole.NAME) is not None for row in range(count)),
                    timeout=20_000)
    return summary.thread_id, list(added)


def test_a_caption_changed_elsewhere_fetches_that_cell_again_not_the_albums_order(  # type: ignore[no-untyped-def]
        qtbot, window: MainWindow, engine: RecordingRuntime, tmp_path: Path) -> None:
    album_id, photos = _album_with_photos(qtbot, window, engine, tmp_path, 3)
    engine.operations.clear()
    wait_for(qtbot, engine.call(photo_ops.set_caption, album_id, photos[0], "At the beach"))
    model = window.album_view.model
    asked = _asked(qtbot, engine,
                   lambda: model.index(model.row_of(photos[0])).data(PhotoRole.CAPTION) == "At the beach")
    assert photo_ops.ordered_ids not in asked  # the order did not change: nothing reads it
    assert asked.count(photo_ops.cards) == 1


def test_a_photo_deleted_elsewhere_leaves_the_grid_without_asking_the_engine(  # type: ignore[no-untyped-def]
        qtbot, window: MainWindow, engine: RecordingRuntime, tmp_path: Path) -> None:
    album_id, photos = _album_with_photos(qtbot, window, engine, tmp_path, 3)
    engine.operations.clear()
    wait_for(qtbot, engine.call(photo_ops.delete_photos, album_id, [photos[1]]))
    asked = _asked(qtbot, engine, lambda: window.album_view.model.rowCount() == 2)
    assert photos[1] not in window.album_view.model.ids()
    assert photo_ops.ordered_ids not in asked and photo_ops.cards not in asked
    assert window.album_view.subtitle.text() == "2 photos"


def test_the_viewer_shows_transfer_snapshots_and_reads_the_original_once_it_is_whole(  # type: ignore[no-untyped-def]
        qtbot, window: MainWindow, engine: RecordingRuntime, tmp_path: Path) -> None:
    album_id, photos = _album_with_photos(qtbot, window, engine, tmp_path, 1)
    viewer = window.album_view.viewer
    with qtbot.waitSignal(viewer.original_shown, timeout=20_000):  # the original is here
        window.album_view.open_viewer(0)
    viewer.fetch_original()  # as when it is on its way from a peer
    assert "Fetching the original" in viewer.original_state.text()
    seen: list[ChangeSet] = []
    window._client.changed.connect(seen.append)
    engine.operations.clear()
    notifications = 20

    def publish(node: Node) -> None:
        for _ in range(notifications):
            node.network_changed()  # as a transfer's progress does

    wait_for(qtbot, engine.call(publish))
    asked = _asked(qtbot, engine, lambda: sum(changes.network is not None for changes in seen) >= notifications)
    assert photo_ops.original not in asked  # 20 snapshots shown, none read the original
    assert "Fetching the original" in viewer.original_state.text()

    def arrived(node: Node) -> None:
        ref = node.photos(album_id).photos.get(photos[0]).data["original"]
        node.blobs_arrived(album_id, [BlobRef.from_value(ref).manifest])  # as storing its last block does

    engine.operations.clear()
    with qtbot.waitSignal(viewer.original_shown, timeout=20_000):
        wait_for(qtbot, engine.call(arrived))
    assert _asked(qtbot, engine, lambda: True).count(photo_ops.original) == 1


def test_a_message_in_one_chat_asks_for_that_threads_summary_only(  # type: ignore[no-untyped-def]
        qtbot, window: MainWindow, engine: RecordingRuntime) -> None:
    chats = [wait_for(qtbot, engine.call(Node.create_thread, ThreadKind.CHAT, f"Chat {n}")).thread_id for n in range(5)]
    qtbot.waitUntil(lambda: all(window.threads.row_of(str(chat)) >= 0 for chat in chats), timeout=10_000)
    engine.operations.clear()
    wait_for(qtbot, engine.call(chat_ops.post, chats[2], "hello", None, []))
    row = window.threads.row_of(str(chats[2]))
    asked = _asked(qtbot, engine, lambda: window.threads.index(row).data(ThreadRole.SUMMARY).message_count == 1)
    assert Node.list_threads not in asked
    assert asked.count(thread_ops.summaries) == 1


class PageRecordingRuntime(RecordingRuntime):
    """Also keeps every chat page the UI loaded."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pages: list[chat_ops.ChatPage] = []

    async def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        result = await super().call(fn, *args, **kwargs)
        if fn is chat_ops.load_page:
            self.pages.append(result)
        return result


def test_a_chat_reads_only_the_messages_a_change_names(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, tmp_path: Path) -> None:
    engine = PageRecordingRuntime(lambda: Node.open(tmp_path / "profile"))
    engine.start()
    try:
        client = EngineClient(engine, qt_loop)
        summary = wait_for(qtbot, engine.call(Node.create_thread, ThreadKind.CHAT, "Busy"))
        thread_id = summary.thread_id
        first = [wait_for(qtbot, engine.call(chat_ops.post, thread_id, f"message {n}", None, [])) for n in range(30)]
        view = ChatView(client)
        qtbot.addWidget(view)
        view.resize(640, 520)
        view.show()
        opened = wait_for(qtbot, engine.call(chat_ops.thread_summary, thread_id))
        with qtbot.waitSignal(view.messages_loaded, timeout=10_000):
            view.show_thread(opened)
        assert view.model.rowCount() == 30

        def texts() -> list[str]:
            return [row["text"] for row in view.message_rows()]

        def after(work: Callable[[Node], object], then: Callable[[], bool]) -> chat_ops.ChatPage:
            engine.pages.clear()
            wait_for(qtbot, engine.call(work))
            qtbot.waitUntil(then, timeout=10_000)
            [page] = engine.pages
            return page

        page = after(lambda node: node.chat(thread_id).post("new", reply_to=first[5]),
                     lambda: texts()[-1] == "new")
        assert page.partial and [m.text for m in page.messages] == ["new"]  # before: all 31 read again
        page = after(lambda node: node.chat(thread_id).edit(first[5], "edited"),
                     lambda: "edited" in texts() and view.message_rows()[-1]["quote"] == "edited")
        assert page.partial and {m.text for m in page.messages} == {"edited", "new"}  # it and its reply
        page = after(lambda node: node.chat(thread_id).react(first[7], "👍"),
                     lambda: view.model.item(7).reactions != ())
        assert page.partial and [m.id for m in page.messages] == [first[7]]
        page = after(lambda node: node.chat(thread_id).delete(first[9]), lambda: view.model.rowCount() == 30)
        assert page.partial and page.messages == () and page.gone == (first[9],)
        assert texts() == [f"message {n}" if n != 5 else "edited" for n in range(30) if n != 9] + ["new"]
    finally:
        engine.stop()


def test_the_members_dialog_reads_the_members_again_only_when_they_may_have_changed(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, engine: RecordingRuntime) -> None:
    client = EngineClient(engine, qt_loop)
    summary = wait_for(qtbot, engine.call(Node.create_thread, ThreadKind.CHAT, "Us"))
    dialog = MembersDialog(client, summary)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.loaded, timeout=10_000):
        dialog.open()
    engine.operations.clear()
    for n in range(5):
        wait_for(qtbot, engine.call(chat_ops.post, summary.thread_id, f"message {n}", None, []))
    asked = _asked(qtbot, engine, lambda: True)
    assert load_members not in asked  # before: read again after each of the 5 messages
    with qtbot.waitSignal(dialog.loaded, timeout=10_000):  # a name is shown here: read again
        wait_for(qtbot, engine.call(Node.set_display_name, "Ana"))


def test_the_viewer_reads_its_photo_again_only_for_its_own_kind_of_change(  # type: ignore[no-untyped-def]
        qtbot, window: MainWindow, engine: RecordingRuntime, tmp_path: Path) -> None:
    album_id, photos = _album_with_photos(qtbot, window, engine, tmp_path, 1)
    viewer = window.album_view.viewer
    with qtbot.waitSignal(viewer.original_shown, timeout=20_000):
        window.album_view.open_viewer(0)
    engine.operations.clear()
    wait_for(qtbot, engine.call(Node.set_display_name, "Ana"))  # written into the album too: a thread update
    asked = _asked(qtbot, engine, lambda: True)
    assert photo_ops.photo_details not in asked
    wait_for(qtbot, engine.call(photo_ops.comment, album_id, photos[0], "Nice"))
    qtbot.waitUntil(lambda: viewer.comments.rowCount() == 1, timeout=10_000)
