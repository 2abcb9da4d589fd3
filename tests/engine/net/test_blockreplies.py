"""Block replies read block by block (engine/net/blockreplies.py), against
the general reader: the same messages from the same bytes however they are
cut, never a read past the message, and nothing the general path and the
client's checks would take is refused."""

from __future__ import annotations

from typing import Any

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.engine.net.hostile import uvarint
from tests.engine.net.test_wire import ChunkStream, messages, run, split
from threads_desktop.engine.codec.cid import CID_LENGTH
from threads_desktop.engine.core.errors import ProtocolError
from threads_desktop.engine.net import paging, wire
from threads_desktop.engine.net.blockreplies import BlockReplies
from threads_desktop.engine.net.budgets import Budgets, Limits

block_lists = st.lists(st.tuples(st.binary(min_size=CID_LENGTH, max_size=CID_LENGTH),
                                 st.one_of(st.binary(max_size=300), st.integers(0, 70_000).map(lambda n: b"\x07" * n))),
                       max_size=30)


def _reply(blocks: list[tuple[bytes, bytes]]) -> bytes:
    return b"".join(wire.blocks_frame(blocks))


def _outcome(reader: Any, read: str) -> Any:
    try:
        return run(getattr(reader, read)())
    except ProtocolError:
        return ProtocolError


def _client_takes(message: Any) -> bool:
    """Whether the client's checks of a blocks reply (client._next_reply) pass it."""
    if not isinstance(message, dict) or message.get("t") != "blocks":
        return message is not None and message is not ProtocolError
    try:
        wire.field(message, "blocks", wire.as_list(_block, paging.MAX_CIDS))
    except ProtocolError:
        return False
    return True


def _block(value: Any) -> tuple[bytes, bytes]:  # as client._block
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError("a block is [cid, data]")
    return wire.as_bytes(36)(value[0]), wire.as_bytes(max_length=(1 << 20) + 4096)(value[1])


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(block_lists, messages), min_size=1, max_size=4), st.lists(st.integers(min_value=0),
                                                                                    max_size=10))
def test_replies_and_other_messages_read_as_the_general_reader_reads_them_however_cut(
        sent: list[Any], cuts: list[int]) -> None:
    frames = [_reply(m) if isinstance(m, list) else wire.frame(m) for m in sent]
    data = b"".join(frames)
    general = wire.MessageReader(ChunkStream(split(data, cuts)))
    ours = BlockReplies(ChunkStream(split(data, cuts), strict=True))  # strict: no read past the last message
    for m in sent:
        expected = run(general.read())
        assert expected == ({"t": "blocks", "blocks": [[c, d] for c, d in m]} if isinstance(m, list) else m)
        assert run(ours.read_blocks()) == expected


@settings(max_examples=40, deadline=None)
@given(block_lists, st.lists(st.integers(min_value=0), max_size=10))
def test_a_reply_is_read_without_asking_for_a_byte_past_it(blocks: list[tuple[bytes, bytes]],
                                                           cuts: list[int]) -> None:
    stream = ChunkStream(split(_reply(blocks), cuts), strict=True)
    assert run(BlockReplies(stream).read_blocks()) == {"t": "blocks", "blocks": [[c, d] for c, d in blocks]}


@settings(max_examples=200, deadline=None)
@given(block_lists, st.lists(st.tuples(st.integers(min_value=0), st.binary(max_size=3)), min_size=1, max_size=4),
       st.lists(st.integers(min_value=0), max_size=6))
def test_a_corrupted_reply_is_refused_only_where_the_general_path_would_refuse_it_too(
        blocks: list[tuple[bytes, bytes]], edits: list[tuple[int, bytes]], cuts: list[int]) -> None:
    data = bytearray(_reply(blocks))
    for position, replacement in edits:  # each replaces one byte with 0-3 bytes
        at = position % len(data)
        data[at:at + 1] = replacement
        if not data:
            return
    general = _outcome(wire.MessageReader(ChunkStream(split(bytes(data), cuts))), "read")
    ours = _outcome(BlockReplies(ChunkStream(split(bytes(data), cuts))), "read_blocks")
    if ours is ProtocolError:
        assert not _client_takes(general)
    else:
        assert ours == general


def test_a_large_block_that_came_as_one_read_is_that_reads_object() -> None:
    block = bytes(range(256)) * 4096  # 1 MiB, as a yamux frame of its own brings it
    parts = wire.blocks_frame([(b"c" * CID_LENGTH, block)])
    stream = ChunkStream(parts, strict=True)
    reply = run(BlockReplies(stream).read_blocks())
    assert reply["blocks"][0][1] is parts[1]  # the stream's own object: not joined, not copied


def test_a_reply_listing_more_blocks_than_it_holds_is_refused_before_any_is_read() -> None:
    body = wire.BLOCKS_REPLY_HEAD + wire.cbor_head(4, 1000)
    stream = ChunkStream([uvarint(len(body)) + body])
    with pytest.raises(ProtocolError):
        run(BlockReplies(stream).read_blocks())


def test_a_message_over_the_limit_is_refused_from_its_length() -> None:
    reply = _reply([(b"c" * CID_LENGTH, b"x" * 500)])
    with pytest.raises(ProtocolError):
        run(BlockReplies(ChunkStream([reply]), limit=100).read_blocks())


def test_a_strangers_session_keeps_the_general_path_and_its_budgets() -> None:
    budgets = Budgets(lambda _: False, Limits(partial_bytes_total=100))
    reply = _reply([(b"c" * CID_LENGTH, b"x" * 5000)])
    reader = BlockReplies(ChunkStream(split(reply, [10])), budgets=budgets, address="stranger")

    async def main() -> None:
        with pytest.raises(ProtocolError, match="busy"):
            await reader.read_blocks()

    trio.run(main)
