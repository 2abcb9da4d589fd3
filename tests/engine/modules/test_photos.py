from __future__ import annotations

import hashlib
import io
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import ExifTags, Image, ImageOps

from tests.disk import grow, small_disk
from tests.engine.eventstore.peers import join, start_thread, sync
from tests.engine.modules.images import (
    image_bytes,
    jpeg_with_comment_xmp_and_maker_note,
    jpeg_with_every_metadata_block,
    noise_jpeg,
    pixels,
)
from threads_desktop.engine.core.errors import InvalidInputError, NotFoundError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.logstore.store import NewEvent
from threads_desktop.engine.modules.photos import (
    _safe_name,
    all_paths,
    comment_text,
    photo_camera,
    photo_caption,
    photo_name,
)
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]


def _files(folder: Path, specs: dict[str, bytes]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in specs.items():
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    return paths


def test_importing_a_folder_stores_thumbnails_previews_and_originals(open_node: OpenNode, tmp_path: Path) -> None:
    node = open_node("a")
    album = start_thread(node, ThreadKind.ALBUM, "Lisbon")
    paths = _files(tmp_path / "camera", {
        "b.jpg": image_bytes("JPEG", taken="2024:07:15 09:00:00", seed=1),
        "a.png": image_bytes("PNG", taken="2024:07:14 09:00:00", seed=2),
        "c.webp": image_bytes("WEBP", seed=3),
        "d.gif": image_bytes("GIF", seed=4),
    })
    seen: list[tuple[int, int]] = []
    result = node.photos(album).add_files(all_paths([tmp_path / "camera"]), progress=lambda d, t: seen.append((d, t)))
    assert len(result.added) == 4 and result.duplicates == [] and result.failed == []
    assert seen[-1] == (4, 4)
    photos = node.photos(album)
    listed = photos.page()
    assert [p.data["name"] for p in listed[:2]] == ["a.png", "b.jpg"]  # by taken time, undated last
    jpeg = next(p for p in listed if p.data["name"] == "b.jpg")
    assert photos.original(jpeg.id) == (tmp_path / "camera" / "b.jpg").read_bytes()
    assert Image.open(io.BytesIO(photos.preview(jpeg.id))).format == "JPEG"
    assert Image.open(io.BytesIO(jpeg.data["thumbnail"])).size[0] <= 256
    assert photos.page(limit=2, offset=2)[0].id == listed[2].id
    assert paths  # the files are untouched


def test_the_same_picture_is_not_added_twice(open_node: OpenNode, tmp_path: Path) -> None:
    node = open_node("a")
    album = start_thread(node, ThreadKind.ALBUM, "Dogs")
    data = image_bytes("JPEG")
    paths = _files(tmp_path, {"one.jpg": data, "copy.jpg": data})
    result = node.photos(album).add_files(paths)
    assert len(result.added) == 1 and result.duplicates == ["copy.jpg"]
    again = node.photos(album).add_files(paths[:1])
    assert again.added == [] and again.duplicates == ["one.jpg"]
    assert node.photos(album).photos.count() == 1


def _version_0_1_id(data: bytes) -> str:
    """The ID version 0.1 gave a JPEG (imported without keeping GPS): the
    SHA-256 of the file with only its EXIF GPS block removed, the EXIF
    written back by Pillow into the first EXIF segment; of the file itself
    when it has no GPS block."""
    with Image.open(io.BytesIO(data)) as image:
        exif = image.getexif()
    if ExifTags.IFD.GPSInfo not in exif:
        return hashlib.sha256(data).hexdigest()
    del exif[ExifTags.IFD.GPSInfo]
    payload = exif.tobytes()
    start = data.index(b"Exif\x00\x00") - 4  # the first EXIF segment, after any other APP1
    assert data[start:start + 2] == b"\xff\xe1"
    end = start + 2 + int.from_bytes(data[start + 2:start + 4], "big")
    return hashlib.sha256(data[:start] + b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
                          + data[end:]).hexdigest()


def _add_as_version_0_1(node: Node, album: ThreadId, data: bytes, folder: Path) -> str:
    """What a 0.1 client stored for this photo: the same fields, under the
    ID 0.1 gave it."""
    scratch = start_thread(node, ThreadKind.ALBUM, "Scratch")
    [scratch_id] = node.photos(scratch).add_files(_files(folder, {"scratch.jpg": data})).added
    old_id = _version_0_1_id(data)
    assert old_id != scratch_id  # the stripped metadata changes the hash
    node.photos(album).photos.create(node.photos(scratch).photos.get(scratch_id).data, doc_id=old_id)
    return old_id


@pytest.mark.parametrize("make", [jpeg_with_comment_xmp_and_maker_note, jpeg_with_every_metadata_block])
def test_a_photo_added_by_version_0_1_is_found_again_after_the_upgrade(make: Callable[[], bytes],
                                                                       open_node: OpenNode, tmp_path: Path) -> None:
    a, b = open_node("a"), open_node("b")
    album = start_thread(a, ThreadKind.ALBUM, "Before the upgrade")
    join(a, b, album)
    data = make()
    old_id = _add_as_version_0_1(a, album, data, tmp_path / "scratch")
    sync(a, b, album)
    for node, folder in ((a, "again"), (b, "member")):  # the same folder again; a member adding the same photo
        result = node.photos(album).add_files(_files(tmp_path / folder, {"IMG_0001.jpg": data}))
        assert result.added == [] and result.duplicates == ["IMG_0001.jpg"] and result.already_there == [old_id]
        assert node.photos(album).photos.count() == 1


def test_a_broken_file_is_reported_and_imports_nothing(open_node: OpenNode, tmp_path: Path) -> None:
    node = open_node("a")
    album = start_thread(node, ThreadKind.ALBUM, "Trip")
    good = image_bytes("JPEG", size=(400, 300))
    paths = _files(tmp_path, {"notes.txt": b"shopping list", "half.jpg": good[: len(good) // 2], "ok.jpg": good})
    result = node.photos(album).add_files(paths)
    assert [name for name, _ in result.failed] == ["notes.txt", "half.jpg"]
    assert all(reason for _, reason in result.failed)
    assert len(result.added) == 1
    assert node.photos(album).photos.count() == 1


def test_an_import_can_be_cancelled(open_node: OpenNode, tmp_path: Path) -> None:
    node = open_node("a")
    album = start_thread(node, ThreadKind.ALBUM, "Many")
    paths = _files(tmp_path, {f"{i}.png": image_bytes("PNG", seed=i) for i in range(20)})
    done: list[int] = []
    result = node.photos(album).add_files(paths, progress=lambda d, _t: done.append(d),
                                          cancelled=lambda: len(done) >= 5)
    assert len(result.added) == 5
    assert node.photos(album).photos.count() == 5


def test_captions_comments_reactions_and_deletes_reach_another_member(open_node: OpenNode, tmp_path: Path) -> None:
    a, b = open_node("a"), open_node("b")
    album = start_thread(a, ThreadKind.ALBUM, "Shared")
    join(a, b, album)
    [photo] = a.photos(album).add_files(_files(tmp_path, {"p.jpg": image_bytes("JPEG")})).added
    a.photos(album).set_caption(photo, "Sunset at Belém")
    sync(a, b, album)
    comment = b.photos(album).comment(photo, "Gorgeous!")
    b.photos(album).react(photo, "❤️")
    sync(b, a, album)
    photos_a = a.photos(album)
    assert photos_a.photos.get(photo).data["caption"] == "Sunset at Belém"
    assert [c.data["text"] for c in photos_a.comments_on(photo)] == ["Gorgeous!"]
    assert photos_a.reactions.of(photos_a.photos.get(photo)) == {"❤️": [b.store.own_log(album)]}
    b.photos(album).delete_comment(comment)
    a.photos(album).delete(photo)
    sync(a, b, album)
    sync(b, a, album)
    for node in (a, b):
        assert node.photos(album).photos.count() == 0
        assert node.photos(album).comments_on(photo) == []
    with pytest.raises(NotFoundError):
        a.photos(album).original(photo)


def test_gps_stays_out_unless_the_user_keeps_it(open_node: OpenNode, tmp_path: Path) -> None:
    node = open_node("a")
    album = start_thread(node, ThreadKind.ALBUM, "Places")
    [plain] = node.photos(album).add_files(_files(tmp_path / "1", {"x.jpg": image_bytes("JPEG", gps=True)})).added
    assert "gps" not in node.photos(album).photos.get(plain).data
    [kept] = node.photos(album).add_files(_files(tmp_path / "2", {"y.jpg": image_bytes("JPEG", gps=True, seed=9)}),
                                          keep_gps=True).added
    assert node.photos(album).photos.get(kept).data["gps"] == {"lat": 38.71, "lon": -9.14}


def test_bad_captions_and_comments_are_refused(open_node: OpenNode, tmp_path: Path) -> None:
    node = open_node("a")
    album = start_thread(node, ThreadKind.ALBUM, "X")
    [photo] = node.photos(album).add_files(_files(tmp_path, {"p.jpg": image_bytes("JPEG")})).added
    with pytest.raises(InvalidInputError):
        node.photos(album).set_caption(photo, "x" * 2001)
    with pytest.raises(InvalidInputError):
        node.photos(album).comment(photo, "  ")
    with pytest.raises(NotFoundError):
        node.photos(album).comment("nope", "hi")


def test_two_members_adding_the_same_picture_at_once_agree_on_one_photo(open_node: OpenNode, tmp_path: Path) -> None:
    from tests.engine.eventstore.peers import view_dump

    a, b = open_node("a"), open_node("b")
    album = start_thread(a, ThreadKind.ALBUM, "Party")
    join(a, b, album)
    sync(a, b, album)
    data = image_bytes("JPEG", taken="2024:07:14 18:30:05")
    [from_a] = a.photos(album).add_files(_files(tmp_path / "a", {"IMG_1.jpg": data})).added
    [from_b] = b.photos(album).add_files(_files(tmp_path / "b", {"party.jpg": data})).added
    assert from_a == from_b
    sync(a, b, album)
    sync(b, a, album)
    assert view_dump(a, album) == view_dump(b, album)
    assert a.photos(album).photos.count() == 1
    assert a.events.refused(album) == [] and b.events.refused(album) == []


def test_a_cancelled_import_starts_no_more_files() -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from threads_desktop.engine.modules.photos import _bounded_map

    started: list[int] = []
    gate = threading.Event()

    def work(item: int) -> int:
        started.append(item)
        if item > 0:
            gate.wait(10)  # holds the only worker while the import is cancelled
        return item

    with ThreadPoolExecutor(max_workers=1) as pool:
        results = _bounded_map(pool, work, list(range(10)), ahead=4)  # type: ignore[arg-type]
        assert next(results) == 0
        results.close()  # what add_files does when cancelled
        gate.set()
    assert started in ([0], [0, 1])  # the one running may finish; none queued starts


def test_a_photo_two_members_added_stays_until_both_remove_it(open_node: OpenNode, tmp_path: Path) -> None:
    """Deletes remove the adds they had seen: a member withdraws its own add,
    and removing someone else's takes the delete role."""
    from tests.engine.eventstore.peers import view_dump

    a, b = open_node("a"), open_node("b")
    album = start_thread(a, ThreadKind.ALBUM, "Party")
    join(a, b, album)
    data = image_bytes("JPEG")
    [photo] = a.photos(album).add_files(_files(tmp_path / "a", {"a.jpg": data})).added
    b.photos(album).add_files(_files(tmp_path / "b", {"b.jpg": data}))  # b had not seen a's
    sync(a, b, album)
    sync(b, a, album)
    b.photos(album).delete(photo)          # b withdraws its own add (it has no delete role)
    sync(b, a, album)
    assert a.photos(album).photos.count() == b.photos(album).photos.count() == 1
    a.photos(album).delete(photo)          # a holds delete: the rest goes too
    sync(a, b, album)
    assert a.photos(album).photos.count() == b.photos(album).photos.count() == 0
    assert view_dump(a, album) == view_dump(b, album)


def test_claiming_a_concurrent_add_of_someones_photo_deletes_nothing(open_node: OpenNode, tmp_path: Path) -> None:
    from tests.engine.eventstore.peers import force_commit

    a, b = open_node("a"), open_node("b")
    album = start_thread(a, ThreadKind.ALBUM, "Mine")
    join(a, b, album)
    b_log = b.store.own_log(album)
    claimed_past = tuple((log, seq) for log, seq in b.events.frontier(album) if log != b_log)
    [photo] = a.photos(album).add_files(_files(tmp_path, {"a.jpg": image_bytes("JPEG")})).added
    sync(a, b, album)
    document = b.photos(album).photos.get(photo)
    create = {"op": "create", "c": "photo", "id": photo, "set": dict(document.data)}
    clock = b._services.clock  # a modified client: "I had not seen a's photo"
    with b.database.write():
        b.store.append_many(album, [NewEvent({"type": "db", "ops": [create]}, clock.tick(), claimed_past)])
    force_commit(b, album, [{"type": "db", "ops": [{"op": "delete", "c": "photo", "id": photo}]}],
                 apply_locally=False)
    sync(b, a, album)
    assert a.photos(album).photos.count() == 1  # only b's claimed add was removed


def test_the_grid_order_comes_from_the_index_and_cards_from_a_page_of_ids(open_node: OpenNode, tmp_path: Path) -> None:
    node = open_node("a")
    album = start_thread(node, ThreadKind.ALBUM, "Grid")
    node.photos(album).add_files(_files(tmp_path, {
        "old.jpg": image_bytes("JPEG", taken="2020:01:01 10:00:00", seed=1),
        "new.jpg": image_bytes("JPEG", taken="2024:01:01 10:00:00", seed=2),
        "undated.png": image_bytes("PNG", seed=3)}))
    photos = node.photos(album)
    newest = photos.ordered_ids()
    oldest = photos.ordered_ids(newest_first=False)
    names = {card.id: card.name for card in photos.cards(newest)}
    assert [names[i] for i in newest] == ["new.jpg", "old.jpg", "undated.png"]  # undated last either way
    assert [names[i] for i in oldest] == ["old.jpg", "new.jpg", "undated.png"]
    card = photos.cards([newest[1], "gone"])[0]
    assert (card.name, card.width, card.height) == ("old.jpg", 80, 40) and card.thumbnail[:2] == b"\xff\xd8"


def test_deleting_several_photos_is_one_change_and_a_missing_one_deletes_none(open_node: OpenNode,
                                                                            tmp_path: Path) -> None:
    node = open_node("a")
    album = start_thread(node, ThreadKind.ALBUM, "Delete")
    added = node.photos(album).add_files(_files(tmp_path, {f"{n}.png": image_bytes("PNG", seed=n)
                                                            for n in range(3)})).added
    photos = node.photos(album)
    with pytest.raises(NotFoundError):
        photos.delete_many([added[0], "no-such-photo"])
    assert len(photos.ordered_ids()) == 3
    before = node.get_thread(album).event_count
    photos.delete_many(added[:2])
    assert photos.ordered_ids() == [added[2]] and node.get_thread(album).event_count == before + 1


def test_export_writes_originals_under_their_names_and_never_overwrites(open_node: OpenNode, tmp_path: Path) -> None:
    node = open_node("a")
    album = start_thread(node, ThreadKind.ALBUM, "Export")
    originals = {"beach.jpg": image_bytes("JPEG", seed=1), "dog.png": image_bytes("PNG", seed=2)}
    added = node.photos(album).add_files(_files(tmp_path / "in", originals)).added
    out = tmp_path / "out"
    out.mkdir()
    (out / "beach.jpg").write_bytes(b"someone else's file")
    result = node.photos(album).export(added, out)
    assert result.missing == [] and sorted(p.name for p in result.written) == ["beach (2).jpg", "dog.png"]
    assert (out / "beach.jpg").read_bytes() == b"someone else's file"
    exported = (out / "beach (2).jpg").read_bytes()
    # The original as stored: the file's picture, its metadata rewritten to what is kept.
    assert exported in (node.photos(album).original(photo_id) for photo_id in added)
    assert pixels(exported) == pixels(originals["beach.jpg"])
    with pytest.raises(NotFoundError):
        node.photos(album).export(added, tmp_path / "no-such-folder")


@given(st.text(max_size=300))
def test_a_name_from_a_peer_becomes_one_plain_file_name(name: str) -> None:
    safe = _safe_name(name)
    assert safe and "/" not in safe and "\\" not in safe and "\0" not in safe
    assert not safe.startswith(".") and len(safe) <= 200


# --- files the importer must not trust -------------------------------------------------

HANG_LIMIT = 10.0  # seconds before a hung import is woken (and the test fails)


def _wake_readers_of(fifo: Path) -> threading.Timer:
    """Opens and closes the FIFO's write end after HANG_LIMIT, so an import
    blocked on it ends (and the test fails on time instead of hanging)."""
    def wake() -> None:
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass  # nobody is blocked on it
    timer = threading.Timer(HANG_LIMIT, wake)
    timer.start()
    return timer


def test_a_fifo_is_refused_at_once_and_named(open_node: OpenNode, tmp_path: Path) -> None:
    node = open_node("a")
    album = start_thread(node, ThreadKind.ALBUM, "Pipes")
    [good] = _files(tmp_path / "in", {"good.jpg": image_bytes("JPEG")})
    fifo = tmp_path / "in" / "pipe.jpg"
    os.mkfifo(fifo)
    timer = _wake_readers_of(fifo)
    started = time.monotonic()
    try:
        result = node.photos(album).add_files([fifo, good])
    finally:
        timer.cancel()
    assert time.monotonic() - started < HANG_LIMIT / 2
    assert [name for name, _ in result.failed] == ["pipe.jpg"]
    assert "not a regular file" in result.failed[0][1]
    assert len(result.added) == 1


def test_a_device_is_refused_without_reading_it(open_node: OpenNode) -> None:
    node = open_node("a")
    album = start_thread(node, ThreadKind.ALBUM, "Devices")
    result = node.photos(album).add_files([Path("/dev/zero")])
    assert result.failed == [("zero", "not a regular file (a device)")] and result.added == []


def test_a_file_that_is_not_valid_utf8_is_added_with_a_displayable_name(open_node: OpenNode, tmp_path: Path) -> None:
    node = open_node("a")
    album = start_thread(node, ThreadKind.ALBUM, "Names")
    folder = tmp_path / "camera"
    _files(folder, {f"{i}.jpg": image_bytes("PNG", seed=i) for i in range(3)})
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.jpg"), "wb") as bad:
        bad.write(image_bytes("PNG", seed=9))
    result = node.photos(album).add_files(all_paths([folder]))
    assert result.failed == [] and len(result.added) == 4
    names = sorted(p.data["name"] for p in node.photos(album).page())
    assert names == ["0.jpg", "1.jpg", "2.jpg", "caf\ufffd.jpg"]


ESCAPE_LADEN = "\x1b]0;owned\x07beach\x1b[2J\nnight.jpg"


def test_a_name_with_terminal_escapes_is_stored_clean(open_node: OpenNode, tmp_path: Path) -> None:
    node = open_node("a")
    album = start_thread(node, ThreadKind.ALBUM, "Escapes")
    [path] = _files(tmp_path, {ESCAPE_LADEN: image_bytes("JPEG")})
    [photo_id] = node.photos(album).add_files([path]).added
    stored = node.photos(album).photos.get(photo_id).data["name"]
    assert stored == "]0;owned beach [2J night.jpg"


def test_a_name_a_peer_wrote_with_escapes_is_read_clean(open_node: OpenNode, tmp_path: Path) -> None:
    a, b = open_node("a"), open_node("b")
    album = start_thread(a, ThreadKind.ALBUM, "Hostile")
    join(a, b, album)
    [photo_id] = a.photos(album).add_files(_files(tmp_path, {"p.jpg": image_bytes("JPEG")})).added
    # A modified client writes the name field directly, past the importer.
    a.photos(album).photos.update(photo_id, {"name": ESCAPE_LADEN})
    sync(a, b, album)
    photos = b.photos(album)
    [card] = photos.cards([photo_id])
    assert card.name == photo_name(photos.photos.get(photo_id)) == "]0;owned beach [2J night.jpg"
    out = tmp_path / "out"
    out.mkdir()
    [written] = a.photos(album).export([photo_id], out).written  # b has not fetched the original
    assert written.name == "]0;owned beach [2J night.jpg"


HOSTILE_CAPTION = "nice\x1b]0;PWNED\x07\x1b[2J"  # a terminal title, then clear-screen


def test_a_caption_comment_and_camera_a_peer_wrote_with_escapes_are_read_clean(open_node: OpenNode,
                                                                             tmp_path: Path) -> None:
    a, b = open_node("a"), open_node("b")
    album = start_thread(a, ThreadKind.ALBUM, "Hostile")
    join(a, b, album)
    [photo_id] = a.photos(album).add_files(_files(tmp_path, {"p.jpg": image_bytes("JPEG")})).added
    # A modified client writes the fields directly, past clean_text and the importer.
    a.photos(album).photos.update(photo_id, {"caption": HOSTILE_CAPTION, "camera": "\u202eCanon\x1b[31m"})
    a.photos(album).comments.create({"target": f"photo/{photo_id}", "text": HOSTILE_CAPTION + "\u2066!"})
    sync(a, b, album)
    photos = b.photos(album)
    photo = photos.photos.get(photo_id)
    [card] = photos.cards([photo_id])
    assert card.caption == photo_caption(photo) == "nice]0;PWNED[2J"
    assert photo_camera(photo) == "Canon [31m"  # as names are: hidden characters become spaces
    assert [comment_text(c) for c in photos.comments_on(photo_id)] == ["nice]0;PWNED[2J!"]


def _corner_colours(image: Image.Image) -> list[str]:
    """Red or blue near each corner (top left, top right, bottom right, bottom left)."""
    rgb = image.convert("RGB")
    w, h = rgb.size
    corners = [(w // 8, h // 8), (w * 7 // 8, h // 8), (w * 7 // 8, h * 7 // 8), (w // 8, h * 7 // 8)]
    pixels = [rgb.getpixel(corner) for corner in corners]
    return ["red" if isinstance(p, tuple) and p[0] > p[2] else "blue" for p in pixels]


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_an_exported_original_shows_upright_like_its_thumbnail(open_node: OpenNode, tmp_path: Path,
                                                              orientation: int) -> None:
    node = open_node("a")
    album = start_thread(node, ThreadKind.ALBUM, "Portraits")
    taken = image_bytes("JPEG", orientation=orientation, gps=True, size=(120, 60))
    [photo_id] = node.photos(album).add_files(_files(tmp_path / "in", {"phone.jpg": taken})).added
    out = tmp_path / "out"
    out.mkdir()
    [exported] = node.photos(album).export([photo_id], out).written
    thumbnail = Image.open(io.BytesIO(node.photos(album).cards([photo_id])[0].thumbnail))
    upright = ImageOps.exif_transpose(Image.open(exported))
    assert upright.width * thumbnail.height == upright.height * thumbnail.width  # same shape
    assert (upright.width > upright.height) == (orientation == 3)
    assert _corner_colours(upright) == _corner_colours(thumbnail)
    assert len(set(_corner_colours(upright))) == 2  # the picture has a side to tell


# --- a full disk -------------------------------------------------------------------------

DISK_KIB = 4608  # the profile (about 850 KB) and some of the twenty photos (about 270 KB each)


def test_a_full_disk_stops_the_import_and_says_what_was_saved(tmp_path: Path) -> None:
    paths = _files(tmp_path / "in", {f"{i:02}.jpg": noise_jpeg(i) for i in range(20)})
    with small_disk(tmp_path / "disk", DISK_KIB) as disk:
        node = Node.open(disk / "profile")
        try:
            album = start_thread(node, ThreadKind.ALBUM, "Holiday")
            result = node.photos(album).add_files(paths)
            assert result.stopped == "the disk is full"
            assert 0 < len(result.added) < 20 and result.failed == []
            assert node.photos(album).photos.count() == len(result.added)
        finally:
            node.close()
        grow(disk, 64 << 10)  # space freed: the profile opens as the import left it
        node = Node.open(disk / "profile")
        try:
            assert node.database.connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            photos = node.photos(album)
            assert sorted(photos.ordered_ids()) == sorted(result.added)
            assert all(photos.original(photo_id) for photo_id in result.added)
            again = photos.add_files(paths)  # adding the same folder again finishes it
            assert again.stopped is None and len(again.duplicates) == len(result.added)
            assert photos.photos.count() == 20
        finally:
            node.close()


def test_a_refused_file_is_explained_in_words_not_exception_text(open_node: OpenNode, tmp_path: Path) -> None:
    node = open_node("a")
    album = start_thread(node, ThreadKind.ALBUM, "Words")
    good = image_bytes("JPEG", size=(400, 300))
    paths = _files(tmp_path, {"notes.txt": b"shopping list", "half.jpg": good[: len(good) // 2]})
    result = node.photos(album).add_files([*paths, tmp_path / "gone.jpg"])
    assert [name for name, _ in result.failed] == ["notes.txt", "half.jpg", "gone.jpg"]
    reasons = [reason for _, reason in result.failed]
    assert reasons[0] == "not an image this app can read"
    assert reasons[1].startswith("the image is damaged or incomplete")
    assert reasons[2] == "cannot be read (no such file or directory)"
    assert not any("<" in reason or "Error" in reason or "bytes not processed" in reason for reason in reasons)


def test_a_file_whose_size_says_nothing_is_still_read_only_up_to_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from threads_desktop.engine.modules import photos

    monkeypatch.setattr(photos, "MAX_FILE_BYTES", 1000)
    maps = Path("/proc/self/maps")  # a regular file of size 0 that holds several KiB
    assert maps.stat().st_size == 0 and len(maps.read_bytes()) > 1000
    with pytest.raises(InvalidInputError, match="larger than"):
        photos._read(maps)
