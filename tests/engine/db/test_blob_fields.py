"""A blob field holds a blob reference a peer wrote: whatever it holds, a blob
that arrives never breaks the node, and a reference that does not open the
blob is never announced."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.engine.eventstore.peers import force_commit, join, start_thread, sync
from threads_desktop.engine.codec.cbor import Link
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import ChangeSet, ThreadKind
from threads_desktop.engine.db.documents import db_event
from threads_desktop.engine.logstore.blobs import PREVIEW
from threads_desktop.engine.node import Node


@pytest.fixture(scope="module")
def album(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, Node, ThreadId, bytes]]:
    """a's album that b writes to; a holds one whole blob (its manifest)."""
    folder = tmp_path_factory.mktemp("blob-fields")
    a, b = Node.open(folder / "a"), Node.open(folder / "b")
    thread = start_thread(a, ThreadKind.ALBUM, "Trip")
    join(a, b, thread)
    with a.database.write():
        manifest = a.blobs(thread).put(b"picture bytes", "image/jpeg", PREVIEW).manifest
    yield a, b, thread, manifest
    a.close()
    b.close()


values = st.recursive(st.none() | st.booleans() | st.integers(-(1 << 63), (1 << 63) - 1) | st.binary(max_size=40)
                      | st.text(max_size=20), lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(extra=st.dictionaries(st.sampled_from(["key", "size", "mime", "other"]), values, max_size=3),
       counter=st.integers(0, 1 << 60))
def test_no_reference_a_peer_writes_breaks_or_fakes_a_blobs_arrival(
        album: tuple[Node, Node, ThreadId, bytes], extra: dict[str, Any], counter: int) -> None:
    a, b, thread, manifest = album
    reference = {**extra, "manifest": Link(manifest)}
    photo_id = f"p{counter}"
    force_commit(b, thread, [db_event({"op": "create", "c": "photo", "id": photo_id, "set": {
        "thumbnail": b"x", "preview": reference, "original": reference, "width": 1, "height": 1}})])
    sync(b, a, thread)
    heard: list[ChangeSet] = []
    unsubscribe = a.subscribe(heard.append)
    try:
        a.blobs_arrived(thread, [manifest])  # never raises, whatever the reference holds
    finally:
        unsubscribe()
    announced = {(doc, field) for changes in heard for _t, _c, doc, field in changes.blobs if doc == photo_id}
    # Malformed, or well formed with a key that does not open the manifest
    # (the real one is a's own): nothing to show, so nothing announced. That a
    # whole blob is announced is checked in tests/engine/test_networking.py.
    assert announced == set()
    assert a.events.waiting_count(thread) == 0
