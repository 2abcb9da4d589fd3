"""The benchmarks' one wait for a node to reach a state (`bench sync`,
`album-join` and `hostile` time how long a peer takes to get there)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import trio

from threads_desktop.bench.waiting import until, until_or_fail
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.db.documents import db_event
from threads_desktop.engine.db.models import bound_id
from threads_desktop.engine.node import Node


def _messages(node: Node, thread_id: object) -> int:
    return node.collections(thread_id)["message"].count()  # type: ignore[arg-type]


def test_the_wait_ends_with_the_change_set_that_makes_the_condition_true(tmp_path: Path) -> None:
    node = Node.open(tmp_path / "node")
    try:
        chat = node.create_thread(ThreadKind.CHAT, "talk").thread_id
        own_log = node.store.own_log(chat)
        assert own_log is not None

        async def main() -> tuple[bool, float]:
            async with trio.open_nursery() as nursery:
                async def write_later() -> None:
                    await trio.sleep(0.2)
                    node.commit(chat, [db_event({"op": "create", "c": "message", "id": bound_id(own_log, bytes(8)),
                                                 "set": {"text": "hello"}})])
                nursery.start_soon(write_later)
                started = time.perf_counter()
                done = await until(node, lambda: _messages(node, chat) == 1, 30)
                return done, time.perf_counter() - started

        done, waited = trio.run(main)
        assert done and 0.2 <= waited < 5
    finally:
        node.close()


def test_a_condition_never_met_ends_the_wait_at_its_bound(tmp_path: Path) -> None:
    node = Node.open(tmp_path / "node")
    try:
        chat = node.create_thread(ThreadKind.CHAT, "talk").thread_id
        started = time.perf_counter()
        assert trio.run(until, node, lambda: _messages(node, chat) == 1, 0.3) is False
        assert 0.3 <= time.perf_counter() - started < 5
        with pytest.raises(trio.TooSlowError):
            trio.run(until_or_fail, node, lambda: _messages(node, chat) == 1, 0.1)
    finally:
        node.close()
