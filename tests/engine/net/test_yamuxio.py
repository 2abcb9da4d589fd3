"""Yamux that keeps frames whole (engine/net/yamuxio.py): a stream's buffer
behaves as the bytearray it replaces, hands a whole frame back without a
copy, and costs memory by bytes however small the frames a peer sends."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threads_desktop.engine.net.yamuxio import SMALL_PIECE, FrameBuffers, Frames

_operations = st.lists(st.one_of(
    st.tuples(st.just("extend"), st.binary(max_size=40) | st.integers(SMALL_PIECE - 2, SMALL_PIECE + 2)),
    st.tuples(st.just("take"), st.integers(-1, SMALL_PIECE * 3)),
    st.tuples(st.just("drop"), st.integers(0, SMALL_PIECE * 3)),
    st.tuples(st.just("clear"), st.none())), max_size=30)


@settings(max_examples=150)
@given(_operations)
def test_a_stream_buffer_reads_as_the_bytearray_yamux_used(operations: list[tuple[str, object]]) -> None:
    frames, model = Frames(), bytearray()
    for step, (name, arg) in enumerate(operations):
        if name == "extend":
            data = arg if isinstance(arg, bytes) else bytes([step % 251]) * int(arg)  # type: ignore[call-overload]
            frames.extend(data)
            model.extend(data)
        elif name == "take":  # as read_stream takes: all of it, or its first n (yamux.py:1110-1116)
            n = int(arg)  # type: ignore[call-overload]
            assert (bytes(frames) if n < 0 else frames[:n]) == (bytes(model) if n < 0 else bytes(model[:n]))
        elif name == "drop":
            del frames[:int(arg)]  # type: ignore[call-overload]
            del model[:int(arg)]  # type: ignore[call-overload]
        else:
            frames.clear()
            model.clear()
        assert len(frames) == len(model) and bool(frames) == bool(model)
    assert bytes(frames) == bytes(model)


def test_a_whole_large_frame_comes_back_as_it_came() -> None:
    frame = bytes(range(256)) * (4 << 10)
    frames = Frames()
    frames.extend(frame)
    assert bytes(frames) is frame and frames[:len(frame)] is frame


def test_tiny_frames_are_gathered_so_a_peer_cannot_make_an_object_of_each_byte() -> None:
    frames = Frames()
    for _ in range(100_000):
        frames.extend(b"x")
    assert len(frames) == 100_000
    assert len(frames._parts) <= 2


def test_a_stream_buffer_is_read_from_its_start_only() -> None:
    frames = Frames(bytearray(b"abc"))
    with pytest.raises(TypeError):
        frames[1:2]
    with pytest.raises(TypeError):
        del frames[1:]


def test_each_new_streams_bytearray_becomes_frames_and_other_values_stay() -> None:
    buffers = FrameBuffers()
    buffers[1] = bytearray()
    buffers[3] = bytearray(b"syn payload")
    assert isinstance(buffers[1], Frames) and isinstance(buffers[3], Frames)
    assert bytes(buffers[3]) == b"syn payload"
    assert buffers.get(5, b"") == b""

