"""Photo chunks kept as files beside the profile database: written once
(not into the WAL and again into the database), checked against their CID
when read, removed with their thread, and fetched again when a file is
missing or torn."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.engine.modules.images import image_bytes
from threads_desktop.engine.codec.cid import CODEC_RAW, cid_of_cbor
from threads_desktop.engine.core.errors import IntegrityError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.logstore import blobs as blobs_module
from threads_desktop.engine.logstore.blobs import BlobRef
from threads_desktop.engine.logstore.blockfiles import BLOCKS_DIRECTORY
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]


def _album_with_a_photo(node: Node, folder: Path) -> tuple[ThreadId, str]:
    thread_id = node.create_thread(ThreadKind.ALBUM, "album").thread_id
    folder.mkdir()
    path = folder / "p.jpg"
    path.write_bytes(image_bytes("JPEG", size=(640, 480), seed=7))
    (added,) = node.photos(thread_id).add_files([path]).added
    return thread_id, node.photos(thread_id).page()[0].id if added else ""


def _chunk_cids(node: Node, thread_id: ThreadId) -> list[bytes]:
    return [bytes(cid) for (cid,) in node.database.connection.execute(
        "SELECT cid FROM thread_blocks WHERE thread_id = ?", (thread_id.raw,)) if cid[1] == CODEC_RAW]


def _thread_folder(profile: Path, thread_id: ThreadId) -> Path:
    return profile / BLOCKS_DIRECTORY / thread_id.raw.hex()


def test_a_photos_chunks_are_files_and_the_database_keeps_none_of_their_bytes(open_node: OpenNode,
                                                                               tmp_path: Path) -> None:
    node = open_node("a")
    thread_id, photo = _album_with_a_photo(node, tmp_path / "camera")
    chunks = _chunk_cids(node, thread_id)
    assert len(chunks) >= 2  # the preview's and the original's
    (inline,) = node.database.connection.execute(
        "SELECT COALESCE(SUM(length(b.data)), 0) FROM blocks b JOIN thread_blocks t ON t.cid = b.cid"
        " WHERE t.thread_id = ? AND substr(b.cid, 2, 1) = x'55'", (thread_id.raw,)).fetchone()
    assert inline == 0
    files = sorted(p.name for p in _thread_folder(tmp_path / "a", thread_id).iterdir())
    assert files == sorted(c.hex() for c in chunks)
    assert node.photos(thread_id).original(photo)[:2] == b"\xff\xd8"  # read back whole, a JPEG


def test_a_missing_or_torn_block_file_is_not_held_so_sync_fetches_it_again(open_node: OpenNode,
                                                                            tmp_path: Path) -> None:
    node = open_node("a")
    thread_id, photo = _album_with_a_photo(node, tmp_path / "camera")
    blobs = node.blobs(thread_id)
    chunks = _chunk_cids(node, thread_id)
    assert blobs.held(chunks) == set(chunks)
    folder = _thread_folder(tmp_path / "a", thread_id)
    for cid in chunks:  # a power cut after the rows committed but before the files were written back
        (folder / cid.hex()).write_bytes(b"\0" * 100)
    with pytest.raises(IntegrityError):
        node.photos(thread_id).original(photo)
    with pytest.raises(IntegrityError):
        node.photos(thread_id).preview(photo)
    assert blobs.held(chunks) == set()  # found torn when read: removed, so no longer held
    assert blobs.read_blocks(chunks, 1 << 30) == []


def test_leaving_a_thread_removes_its_block_files_and_keeps_the_others(open_node: OpenNode, tmp_path: Path) -> None:
    node = open_node("a")
    left, _ = _album_with_a_photo(node, tmp_path / "one")
    kept, photo = _album_with_a_photo(node, tmp_path / "two")
    assert _thread_folder(tmp_path / "a", left).is_dir()
    node.leave_thread(left)
    assert not _thread_folder(tmp_path / "a", left).exists()
    assert [p.name for p in (tmp_path / "a" / BLOCKS_DIRECTORY).iterdir()] == [kept.raw.hex()]
    assert node.photos(kept).original(photo)[:2] == b"\xff\xd8"


def test_a_fetched_block_lands_in_a_file_and_is_served_from_it(open_node: OpenNode, tmp_path: Path) -> None:
    a, b = open_node("a"), open_node("b")
    thread_id, _ = _album_with_a_photo(a, tmp_path / "camera")
    b.store.create_thread(thread_id, a.store.thread_keys(thread_id)[-1])
    entries = [e for _, e in a.blobs(thread_id).inventory(0, 100)]
    blocks = a.blobs(thread_id).read_blocks([e.cid for e in entries], 1 << 30)
    with b.database.write():
        for entry, (_cid, data) in zip(entries, blocks, strict=True):
            b.blobs(thread_id).add_fetched(entry, data)
    chunks = _chunk_cids(b, thread_id)
    assert {p.name for p in _thread_folder(tmp_path / "b", thread_id).iterdir()} == {c.hex() for c in chunks}
    assert b.blobs(thread_id).read_blocks([e.cid for e in entries], 1 << 30) == blocks


def test_staging_checks_and_writes_blocks_from_another_thread_and_only_listing_touches_the_database(
        open_node: OpenNode, tmp_path: Path) -> None:
    a, b = open_node("a"), open_node("b")
    thread_id, _ = _album_with_a_photo(a, tmp_path / "camera")
    b.store.create_thread(thread_id, a.store.thread_keys(thread_id)[-1])
    entries = [e for _, e in a.blobs(thread_id).inventory(0, 100)]
    blocks = a.blobs(thread_id).read_blocks([e.cid for e in entries], 1 << 30)
    fetched = [(entry, data) for entry, (_cid, data) in zip(entries, blocks, strict=True)]
    staging = b.blobs(thread_id)
    with ThreadPoolExecutor(1) as pool:  # as the transfer does it: off the engine thread
        pool.submit(staging.stage_fetched, fetched).result()
        tampered = [(fetched[-1][0], _flipped(fetched[-1][1]))]
        with pytest.raises(IntegrityError):
            pool.submit(staging.stage_fetched, tampered).result()
    assert staging.held([e.cid for e in entries]) == set()  # written, not yet listed
    with b.database.write():
        for entry, data in fetched:
            staging.add_fetched(entry, data)
    assert staging.held([e.cid for e in entries]) == {e.cid for e in entries}
    assert staging.read_blocks([e.cid for e in entries], 1 << 30) == blocks


def test_a_block_file_cut_short_is_not_served_to_peers_and_is_no_longer_held(open_node: OpenNode,
                                                                             tmp_path: Path) -> None:
    node = open_node("a")
    thread_id, _ = _album_with_a_photo(node, tmp_path / "camera")
    blobs = node.blobs(thread_id)
    chunks = _chunk_cids(node, thread_id)
    cut = _thread_folder(tmp_path / "a", thread_id) / chunks[0].hex()
    cut.write_bytes(cut.read_bytes()[:1000])
    served = blobs.read_blocks(chunks, 1 << 30)
    assert [cid for cid, _data in served] == chunks[1:]
    assert blobs.held(chunks) == set(chunks[1:])


def test_block_files_are_private_to_the_user_like_the_profile(open_node: OpenNode, tmp_path: Path) -> None:
    node = open_node("a")
    thread_id, _ = _album_with_a_photo(node, tmp_path / "camera")
    folder = _thread_folder(tmp_path / "a", thread_id)
    assert {p.stat().st_mode & 0o777 for p in (folder.parent, folder)} == {0o700}
    assert {p.stat().st_mode & 0o777 for p in folder.iterdir()} == {0o600}


def _flipped(data: bytes) -> bytes:
    """`data` with its last bit changed (always another block)."""
    return data[:-1] + bytes([data[-1] ^ 1])


def _raw_sha256(data: bytes) -> bytes:
    """A chunk's CID as photos were named before BLAKE3 (raw, sha2-256)."""
    return bytes([0x01, CODEC_RAW, 0x12, 0x20]) + hashlib.sha256(data).digest()


def test_a_photo_whose_chunks_were_named_by_sha256_still_reads_and_travels_checked(
        open_node: OpenNode, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = open_node("a"), open_node("b")
    with monkeypatch.context() as before_blake3:  # made as builds before transfer18h made them
        before_blake3.setattr(blobs_module, "cid_of_raw", _raw_sha256)
        thread_id, photo = _album_with_a_photo(a, tmp_path / "camera")
    chunks = _chunk_cids(a, thread_id)
    assert chunks and all(c[:4] == bytes([0x01, CODEC_RAW, 0x12, 0x20]) for c in chunks)
    assert a.photos(thread_id).original(photo)[:2] == b"\xff\xd8"  # read back, each chunk checked
    b.store.create_thread(thread_id, a.store.thread_keys(thread_id)[-1])
    entries = [e for _, e in a.blobs(thread_id).inventory(0, 100)]
    blocks = a.blobs(thread_id).read_blocks([e.cid for e in entries], 1 << 30)
    fetched = [(entry, data) for entry, (_cid, data) in zip(entries, blocks, strict=True)]
    with pytest.raises(IntegrityError):  # still checked, by sha2-256
        b.blobs(thread_id).stage_fetched([(fetched[-1][0], _flipped(fetched[-1][1]))])
    b.blobs(thread_id).stage_fetched(fetched)
    with b.database.write():
        for entry, data in fetched:
            b.blobs(thread_id).add_fetched(entry, data)
    assert b.blobs(thread_id).held(chunks) == set(chunks)
    # a new photo in the same album is named by BLAKE3, beside the old ones
    (tmp_path / "later").mkdir()
    (tmp_path / "later" / "q.jpg").write_bytes(image_bytes("JPEG", size=(320, 240), seed=8))
    a.photos(thread_id).add_files([tmp_path / "later" / "q.jpg"])
    new = set(_chunk_cids(a, thread_id)) - set(chunks)
    assert new and all(c[:4] == bytes([0x01, CODEC_RAW, 0x1E, 0x20]) for c in new)


def test_a_blob_whose_manifest_or_chunks_are_named_as_another_kind_of_block_is_refused(
        open_node: OpenNode, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    node = open_node("a")
    thread_id, photo = _album_with_a_photo(node, tmp_path / "camera")
    ref = BlobRef.from_value(node.photos(thread_id).photos.get(photo).data["original"])
    manifest = node.blobs(thread_id).read_blocks([ref.manifest], 1 << 30)[0][1]
    as_raw = bytes([0x01, CODEC_RAW, 0x12, 0x20]) + hashlib.sha256(manifest).digest()  # its hash, another role
    with pytest.raises(IntegrityError):
        node.blobs(thread_id).get(dataclasses.replace(ref, manifest=as_raw))
    with monkeypatch.context() as misnamed:  # chunks named as dag-cbor blocks: their hash matches, their role not
        misnamed.setattr(blobs_module, "cid_of_raw", cid_of_cbor)
        (tmp_path / "more").mkdir()
        (tmp_path / "more" / "r.jpg").write_bytes(image_bytes("JPEG", size=(320, 240), seed=9))
        assert node.photos(thread_id).add_files([tmp_path / "more" / "r.jpg"]).added
    misnamed_photo = next(p.id for p in node.photos(thread_id).page() if p.id != photo)
    with pytest.raises(IntegrityError):
        node.photos(thread_id).original(misnamed_photo)
