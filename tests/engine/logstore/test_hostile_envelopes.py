"""Random and mutated envelopes from a peer: every decoder raises only the
project's errors, and the store never changes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.engine.logstore.helpers import all_envelopes, append_messages, new_chat, share, snapshot
from threads_desktop.engine.codec import cbor, nodes
from threads_desktop.engine.core.errors import ThreadsError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.logstore.envelopes import Envelope
from threads_desktop.engine.logstore.store import IngestOutcome
from threads_desktop.engine.node import Node


@dataclass
class Peers:
    reader: Node
    thread: ThreadId
    envelopes: list[Envelope]
    before: list[str]


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peers]:
    # One pair for the module: hypothesis runs hundreds of examples.
    root: Path = tmp_path_factory.mktemp("hostile")
    writer, reader = Node.open(root / "writer"), Node.open(root / "reader")
    thread = new_chat(writer)
    append_messages(writer, thread, 3)
    share(writer, reader, thread)
    envelopes = all_envelopes(writer, thread)
    reader.store.ingest_many(thread, envelopes[:2])
    yield Peers(reader, thread, envelopes, snapshot(reader))
    writer.close()
    reader.close()


FAST = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@FAST
@given(st.lists(st.binary(max_size=300), min_size=4, max_size=4))
def test_random_envelopes_are_refused_and_change_nothing(peers: Peers, blocks: list[bytes]) -> None:
    with pytest.raises(ThreadsError):
        peers.reader.store.ingest(peers.thread, Envelope(*blocks))
    assert snapshot(peers.reader) == peers.before


@st.composite
def mutations(draw: st.DrawFn, envelopes: list[Envelope]) -> Envelope:
    envelope = envelopes[draw(st.integers(0, 2))]
    blocks = list(envelope.blocks())
    index = draw(st.integers(0, 3))
    block = blocks[index]
    kind = draw(st.sampled_from(["replace", "truncate", "extend", "splice"]))
    if kind == "replace":
        position = draw(st.integers(0, len(block) - 1))
        byte = draw(st.integers(0, 255).filter(lambda b: b != block[position]))
        blocks[index] = block[:position] + bytes([byte]) + block[position + 1:]
    elif kind == "truncate":
        blocks[index] = block[:draw(st.integers(0, len(block) - 1))]
    elif kind == "extend":
        blocks[index] = block + draw(st.binary(min_size=1, max_size=40))
    else:
        other = envelopes[draw(st.integers(0, 2))].blocks()[draw(st.integers(0, 3))]
        if other == block:
            other = other + b"\x00"
        blocks[index] = other
    return Envelope(*blocks)


@FAST
@given(data=st.data())
def test_mutated_envelopes_are_refused_and_change_nothing(peers: Peers, data: st.DataObject) -> None:
    envelope = data.draw(mutations(peers.envelopes))
    outcome = peers.reader.store.ingest_many(peers.thread, [envelope])[0]
    assert isinstance(outcome, ThreadsError) or outcome is IngestOutcome.DUPLICATE
    assert snapshot(peers.reader) == peers.before


NODE_FIELDS = ["block", "prev", "seq", "sig", "pubKey", "header", "body", "key", "hlc", "deps", "epoch"]


def _encoded_nodes() -> st.SearchStrategy[bytes]:
    """Well-formed DAG-CBOR maps with the nodes' field names and any values."""
    from tests.engine.codec.test_cbor import dag_values

    return st.dictionaries(st.sampled_from(NODE_FIELDS), dag_values(), max_size=6).map(cbor.encode)


@FAST
@given(st.one_of(st.binary(max_size=400), _encoded_nodes()))
def test_node_decoders_raise_only_project_errors(data: bytes) -> None:
    for decode in (nodes.decode_record_plaintext, nodes.decode_event, nodes.decode_header_plaintext,
                   nodes.decode_body_plaintext, lambda b: nodes.decode_sealed(b, 1 << 20)):
        try:
            decode(data)
        except ThreadsError:
            pass
