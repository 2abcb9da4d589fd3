"""The engine thread and its asyncio bridge: results, errors, cancellation and
pushed change sets all cross between the threads."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
import trio

from threads_desktop.engine.core.errors import EngineStoppedError, InvalidInputError, NotFoundError, ProfileLockedError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import ChangeSet, ThreadKind
from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime


def test_calls_run_on_the_engine_thread_and_return_their_result(runtime: EngineRuntime) -> None:
    async def main() -> tuple[str, str]:
        thread_name = await runtime.call(lambda _node: threading.current_thread().name)
        summary = await runtime.call(Node.create_thread, ThreadKind.ALBUM, "Trip")
        return thread_name, summary.name

    assert asyncio.run(main()) == ("engine", "Trip")


def test_calls_pass_keyword_arguments_to_sync_and_async_operations(runtime: EngineRuntime) -> None:
    """Typed with ParamSpec: an operation's keyword arguments cross too."""
    def named(node: Node, kind: ThreadKind, *, name: str) -> str:
        return node.create_thread(kind, name).name

    async def named_later(node: Node, *, name: str) -> str:
        await trio.lowlevel.checkpoint()
        return node.create_thread(ThreadKind.CHAT, name).name

    async def main() -> tuple[str, str]:
        return (await runtime.call(named, ThreadKind.ALBUM, name="Trip"),
                await runtime.call(named_later, name="Family"))

    assert asyncio.run(main()) == ("Trip", "Family")


def test_errors_raised_on_the_engine_thread_reach_the_caller(runtime: EngineRuntime) -> None:
    async def main() -> None:
        await runtime.call(Node.create_thread, ThreadKind.CHAT, "   ")

    with pytest.raises(InvalidInputError, match="empty"):
        asyncio.run(main())


def test_an_error_a_nursery_wrapped_reaches_the_caller_as_itself(runtime: EngineRuntime) -> None:
    async def fetch_from_peers(node: Node) -> None:
        async def ask_one() -> None:
            node.get_thread(ThreadId.parse("bafyb64sar4bcvbhsiiasgx6xtbitfsd2c3rbxvf3mumktmtqvfwefii"))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask_one)

    async def main() -> None:
        await runtime.call(fetch_from_peers)

    with pytest.raises(NotFoundError):  # what the UI catches, not an ExceptionGroup around it
        asyncio.run(main())


def test_cancelling_the_caller_cancels_the_engine_side_work(runtime: EngineRuntime) -> None:
    started, finished, cancelled = threading.Event(), threading.Event(), threading.Event()

    async def slow(_node: Node) -> None:
        started.set()
        try:
            await trio.sleep(30)
            finished.set()
        except trio.Cancelled:
            cancelled.set()
            raise

    async def main() -> None:
        task = asyncio.ensure_future(runtime.call(slow))
        # Cancelled once it runs on the engine thread (a call cancelled before
        # it starts never runs: the test below).
        assert await asyncio.get_running_loop().run_in_executor(None, started.wait, 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The engine stays usable afterwards.
        assert await runtime.call(lambda _node: 42) == 42

    asyncio.run(main())
    assert cancelled.wait(5) and not finished.is_set()


def test_change_sets_are_pushed_to_listeners_on_their_loop(runtime: EngineRuntime) -> None:
    async def main() -> ChangeSet:
        loop = asyncio.get_running_loop()
        received: asyncio.Future[ChangeSet] = loop.create_future()
        runtime.add_listener(loop, lambda changes: received.done() or received.set_result(changes))
        summary = await runtime.call(Node.create_thread, ThreadKind.CHAT, "Family")
        changes = await asyncio.wait_for(received, 5)
        assert changes.threads_added == frozenset({summary.thread_id})
        return changes

    asyncio.run(main())


def test_calls_after_stop_fail_with_a_clear_error(tmp_path: Path) -> None:
    engine = EngineRuntime(lambda: Node.open(tmp_path / "profile"))
    engine.start()
    engine.stop()

    async def main() -> None:
        await engine.call(Node.list_threads)

    with pytest.raises(EngineStoppedError):
        asyncio.run(main())
    # The profile was closed: it can be opened again.
    Node.open(tmp_path / "profile").close()


def test_a_profile_that_cannot_open_fails_start(runtime: EngineRuntime, tmp_path: Path) -> None:
    second = EngineRuntime(lambda: Node.open(tmp_path / "profile"))
    with pytest.raises(ProfileLockedError):
        second.start()


def test_a_call_cancelled_before_it_starts_never_runs(runtime: EngineRuntime) -> None:
    started: list[str] = []
    entered, gate = threading.Event(), threading.Event()

    def hold(_node: Node) -> bool:
        entered.set()
        return gate.wait(10)

    async def main() -> None:
        # Hold the engine thread, so the next call is queued but cannot start.
        busy = asyncio.ensure_future(runtime.call(hold))
        assert await asyncio.get_running_loop().run_in_executor(None, entered.wait, 10)
        task = asyncio.ensure_future(runtime.call(lambda _node: started.append("ran")))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        gate.set()
        assert await busy is True
        await runtime.call(lambda _node: None)  # everything scheduled before has been handled

    asyncio.run(main())
    assert started == []


def test_stopping_while_calls_keep_arriving_refuses_them_cleanly(tmp_path: Path) -> None:
    engine = EngineRuntime(lambda: Node.open(tmp_path / "profile"))
    engine.start()
    outcomes: list[object] = []

    async def flood() -> None:
        calls = [asyncio.ensure_future(engine.call(lambda _node: 1)) for _ in range(2000)]
        stopper = asyncio.get_running_loop().run_in_executor(None, engine.stop)
        outcomes.extend(await asyncio.gather(*calls, return_exceptions=True))
        await stopper

    asyncio.run(asyncio.wait_for(flood(), 60))
    assert outcomes and all(o == 1 or isinstance(o, EngineStoppedError) for o in outcomes)
    Node.open(tmp_path / "profile").close()  # the node was closed on stop


def test_a_service_that_fails_after_starting_is_restarted_and_the_node_stays_up(tmp_path: Path) -> None:
    runs: list[int] = []
    restarted = threading.Event()

    def flaky(_node: Node) -> object:
        async def run(task_status: object = trio.TASK_STATUS_IGNORED) -> None:
            runs.append(1)
            task_status.started()  # type: ignore[attr-defined]
            if len(runs) == 1:
                raise RuntimeError("a library's uncaught error")
            restarted.set()
            await trio.sleep_forever()
        return run

    engine = EngineRuntime(lambda: Node.open(tmp_path / "p"), [flaky])  # type: ignore[list-item]
    engine.start()
    try:
        assert restarted.wait(10), "the service was not started again"
        assert engine.service_errors == ["RuntimeError: a library's uncaught error"]
        summary = asyncio.run(engine.call(Node.create_thread, ThreadKind.CHAT, "still here"))
        assert summary.name == "still here"
    finally:
        engine.stop()


def _service_that_says_so(started: threading.Event) -> object:
    def make(_node: Node) -> object:
        async def run(task_status: object = trio.TASK_STATUS_IGNORED) -> None:
            started.set()
            task_status.started()  # type: ignore[attr-defined]
            await trio.sleep_forever()
        return run
    return make


def test_held_services_start_when_released_and_calls_run_meanwhile(tmp_path: Path) -> None:
    started = threading.Event()
    engine = EngineRuntime(lambda: Node.open(tmp_path / "p"), [_service_that_says_so(started)])  # type: ignore[list-item]
    engine.start(wait_for_services=False, hold_services=True)
    try:
        summary = asyncio.run(engine.call(Node.create_thread, ThreadKind.CHAT, "before the network"))
        assert summary.name == "before the network" and not started.is_set()
        engine.start_services()
        assert started.wait(10), "the held service did not start once released"
    finally:
        engine.stop()


def test_an_engine_stopped_with_its_services_held_stops_without_starting_them(tmp_path: Path) -> None:
    started = threading.Event()
    engine = EngineRuntime(lambda: Node.open(tmp_path / "p"), [_service_that_says_so(started)])  # type: ignore[list-item]
    engine.start(wait_for_services=False, hold_services=True)
    stopping = threading.Thread(target=engine.stop)
    stopping.start()
    stopping.join(10)
    assert not stopping.is_alive() and not started.is_set()
