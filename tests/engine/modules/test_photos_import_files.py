"""Photos.import_files: the import the window and the CLI use, a trio
coroutine that lets the engine thread run other tasks while files are
prepared, and stores them in batches."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import trio

from tests.engine.eventstore.peers import start_thread
from tests.engine.modules.images import image_bytes
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.modules.photos import PHOTOS_PER_EVENT, ImportResult, Photos
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]
DEADLINE = 60.0


def _photos(folder: Path, count: int, *, first_seed: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in range(first_seed, first_seed + count):
        path = folder / f"IMG_{seed:04}.jpg"
        path.write_bytes(image_bytes("JPEG", size=(320 + seed, 240), seed=seed))
        paths.append(path)
    return paths


def _album(node: Node) -> Photos:
    return node.photos(start_thread(node, ThreadKind.ALBUM, "Trip"))


def test_other_tasks_of_the_engine_run_while_an_import_prepares_its_files(open_node: OpenNode,
                                                                          tmp_path: Path) -> None:
    photos = _album(open_node("a"))
    paths = _photos(tmp_path, 6)
    ticks = 0
    ticks_at: list[int] = []  # the other task's count at each photo taken

    async def other_task() -> None:  # the network, a forwarded `ls`
        nonlocal ticks
        while True:
            ticks += 1
            await trio.lowlevel.checkpoint()

    async def main() -> ImportResult:
        with trio.fail_after(DEADLINE):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(other_task)
                result = await photos.import_files(paths, progress=lambda _done, _total: ticks_at.append(ticks))
                nursery.cancel_scope.cancel()
        return result

    result = trio.run(main)
    assert len(result.added) == 6 and result.failed == [] and photos.photos.count() == 6
    assert ticks_at[-1] > ticks_at[0]  # the other task ran between the first photo and the last


def test_an_import_reports_each_file_and_names_duplicates_and_failures(open_node: OpenNode,
                                                                       tmp_path: Path) -> None:
    photos = _album(open_node("a"))
    paths = _photos(tmp_path, PHOTOS_PER_EVENT + 3)
    (tmp_path / "notes.txt").write_bytes(b"shopping list")
    shutil.copy(paths[0], tmp_path / "copy.jpg")
    files = [*paths, tmp_path / "notes.txt", tmp_path / "copy.jpg"]
    seen: list[tuple[int, int]] = []
    result = trio.run(lambda: photos.import_files(files, progress=lambda done, total: seen.append((done, total))))
    assert seen == [(n, len(files)) for n in range(1, len(files) + 1)]
    assert len(result.added) == len(paths) and result.duplicates == ["copy.jpg"]
    assert [name for name, _ in result.failed] == ["notes.txt"]
    again = trio.run(lambda: photos.import_files(paths[:2]))
    assert again.added == [] and again.already_there == result.added[:2]


def test_stop_ends_an_import_before_the_next_file_and_keeps_what_was_taken(open_node: OpenNode,
                                                                           tmp_path: Path) -> None:
    photos = _album(open_node("a"))
    paths = _photos(tmp_path, 20)
    done: list[int] = []
    result = trio.run(lambda: photos.import_files(paths, progress=lambda d, _t: done.append(d),
                                                  cancelled=lambda: len(done) >= 3))
    assert done == [1, 2, 3] and len(result.added) == 3 and photos.photos.count() == 3


def test_an_import_whose_task_is_cancelled_stores_the_photos_it_took(open_node: OpenNode, tmp_path: Path) -> None:
    """The app quitting cancels the engine's calls: what the progress bar
    showed as done is in the album when it opens again."""
    photos = _album(open_node("a"))
    paths = _photos(tmp_path, 20)
    done: list[int] = []

    async def main() -> None:
        with trio.CancelScope() as scope:
            def progress(d: int, _total: int) -> None:
                done.append(d)
                if d == 2:
                    scope.cancel()
            await photos.import_files(paths, progress=progress)
        assert scope.cancelled_caught

    trio.run(main)
    assert done == [1, 2] and photos.photos.count() == 2


def test_a_photo_stored_while_the_import_waited_is_counted_as_already_there(open_node: OpenNode,
                                                                            tmp_path: Path) -> None:
    """Between taking a photo and storing its batch the import awaits: a
    peer's event (or another import) may add the same picture meanwhile."""
    photos = _album(open_node("a"))
    paths = _photos(tmp_path, 3)
    meanwhile = tmp_path / "meanwhile"
    meanwhile.mkdir()
    shutil.copy(paths[0], meanwhile / "same.jpg")
    stored_meanwhile: list[str] = []

    def progress(done: int, _total: int) -> None:
        if done == 1:  # the first photo is taken, not yet stored
            stored_meanwhile.extend(photos.add_files([meanwhile / "same.jpg"]).added)

    result = trio.run(lambda: photos.import_files(paths, progress=progress))
    assert len(stored_meanwhile) == 1
    assert result.duplicates == [paths[0].name] and result.already_there == stored_meanwhile
    assert len(result.added) == 2 and photos.photos.count() == 3


def test_an_album_left_while_photos_are_added_stops_the_import_with_a_reason(open_node: OpenNode,
                                                                            tmp_path: Path) -> None:
    """The engine runs other work between files: the album may be left (or the
    right to add taken away) meanwhile. The import then stops and says so; the
    caller still learns what was stored before."""
    node = open_node("a")
    thread = start_thread(node, ThreadKind.ALBUM, "Trip")
    photos = node.photos(thread)
    paths = _photos(tmp_path, 2 * PHOTOS_PER_EVENT + 2)

    def progress(done: int, _total: int) -> None:
        if done == PHOTOS_PER_EVENT + 2:  # the first batch is stored, the second being taken
            node.leave_thread(thread)

    result = trio.run(lambda: photos.import_files(paths, progress=progress))
    assert len(result.added) == PHOTOS_PER_EVENT
    assert result.stopped == "the album can no longer be added to (it was left, or your role changed)"
