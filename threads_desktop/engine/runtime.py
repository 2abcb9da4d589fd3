"""The engine thread (trio) and its bridge to asyncio.

py-libp2p needs trio, and the GUI runs asyncio on Qt's loop (qasync), so the
engine lives in a thread of its own running `trio.run`. From asyncio,
`await runtime.call(fn, ...)` runs `fn(node, ...)` on the engine thread and
returns its result (exceptions and cancellation cross too). Change sets are
pushed to listeners on their own asyncio loop: push, never poll.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar, overload

import outcome
import trio

from threads_desktop.engine.core.errors import EngineStoppedError, plain_error
from threads_desktop.engine.core.types import ChangeSet
from threads_desktop.engine.node import Node

T = TypeVar("T")
P = ParamSpec("P")
_START_TIMEOUT_SECONDS = 60.0
_RESTART_FIRST_PAUSE = 1.0
_RESTART_MAX_PAUSE = 60.0
_KEPT_SERVICE_ERRORS = 20
log = logging.getLogger(__name__)
# A background service of the engine thread (the network, the control
# socket): built from the node, run with `await nursery.start(run)`.
ServiceFactory = Callable[[Node], Callable[..., Awaitable[None]]]


class _Job:
    """One call: what to run, where its result goes, and its cancellation,
    which may be asked for before the engine has even started the job."""

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], future: asyncio.Future[Any]) -> None:
        self.fn = fn
        self.args = args
        self.future = future
        self.cancelled = False
        self.scope: trio.CancelScope | None = None

    def cancel(self) -> None:  # on the engine thread
        self.cancelled = True
        if self.scope is not None:
            self.scope.cancel()


class EngineRuntime:
    def __init__(self, open_node: Callable[[], Node], services: Sequence[ServiceFactory] = ()) -> None:
        self._open_node = open_node
        self._services = list(services)
        self.service_errors: list[str] = []  # services that could not start (the app goes on without)
        self._node: Node | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._nursery: trio.Nursery | None = None
        self._stop: trio.Event | None = None
        self._started = threading.Event()
        self._wait_for_services = True
        self._services_held = False
        self._release: trio.Event | None = None  # set: the held services may start
        self._start_error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._listeners: list[tuple[asyncio.AbstractEventLoop, Callable[[ChangeSet], None]]] = []
        self._pending: set[asyncio.Future[Any]] = set()
        self._stopping = False
        self._lock = threading.Lock()

    # --- life cycle ---------------------------------------------------------------

    def start(self, *, wait_for_services: bool = True, hold_services: bool = False) -> None:
        """Start the engine thread; returns once the node is open (or raises
        the error that kept it from opening) and, unless told not to wait,
        its background services have started. The app does not wait: its
        window is up while the network loads (py-libp2p alone imports in
        about a second), and the status bar says when it is online.

        hold_services: the services start only at `start_services()`. The
        app calls it once its window is painted: importing py-libp2p on the
        engine thread meanwhile held the interpreter lock against the window
        (building and showing it took 86-176 ms with the network starting,
        30-39 ms without, at 100,000 photos)."""
        if hold_services and wait_for_services:
            raise ValueError("held services cannot be waited for")
        self._wait_for_services = wait_for_services
        self._services_held = hold_services
        self._thread = threading.Thread(target=trio.run, args=(self._main,), name="engine", daemon=True)
        self._thread.start()
        if not self._started.wait(_START_TIMEOUT_SECONDS):
            raise EngineStoppedError("the engine did not start in time")
        if self._start_error is not None:
            self._thread.join()
            raise self._start_error

    def stop(self) -> None:
        """Refuse new calls, cancel running ones, close the node, join the thread."""
        with self._lock:
            self._stopping = True
            token, stop, release = self._token, self._stop, self._release
        if token is not None and stop is not None:
            try:
                token.run_sync_soon(stop.set)
                if release is not None:
                    token.run_sync_soon(release.set)  # held services are not started now
            except trio.RunFinishedError:
                pass
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            pending, self._pending = self._pending, set()
        for future in pending:
            _deliver(future, _fail, EngineStoppedError("the engine stopped"))

    async def _main(self) -> None:
        try:
            node = self._open_node()
        except BaseException as exc:  # noqa: BLE001 - re-raised by start() on the caller's thread
            self._start_error = exc
            self._started.set()
            return
        self._node = node
        self._stop = trio.Event()
        node.subscribe(self._push)
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                release = trio.Event()
                with self._lock:
                    self._token = trio.lowlevel.current_trio_token()
                    self._release = release
                if not self._wait_for_services:
                    self._started.set()
                if self._services_held:
                    await release.wait()
                with self._lock:
                    services = [] if self._stopping else self._services
                for make in services:
                    try:
                        await nursery.start(self._keep_running, node, make)
                    except Exception as exc:  # noqa: BLE001 - offline beats not starting at all
                        log.warning("a background service did not start: %s", exc)
                        self.service_errors.append(str(exc))
                self._started.set()
                await self._stop.wait()
                self._nursery = None  # jobs scheduled from now on are refused
                nursery.cancel_scope.cancel()
        finally:
            self._nursery = None
            node.close()

    async def _keep_running(self, node: Node, make: ServiceFactory, *,
                            task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Run a service; if it fails after it started (a bug, a library's
        uncaught error), log it and start it again after a growing pause
        rather than let it take the node and every open view down with it."""
        pause = _RESTART_FIRST_PAUSE
        started = False
        while True:
            try:
                async with trio.open_nursery() as inner:
                    await inner.start(make(node))
                    if not started:
                        started = True
                        task_status.started()
                    pause = _RESTART_FIRST_PAUSE
            except Exception as exc:
                if not started:
                    raise  # the caller reports it: the app goes on without the service
                log.exception("a background service stopped; restarting it in %.0f s", pause)
                cause: BaseException = exc
                while isinstance(cause, BaseExceptionGroup) and cause.exceptions:  # a nursery wraps it
                    cause = cause.exceptions[0]
                self.service_errors.append(f"{type(cause).__name__}: {cause}")
                del self.service_errors[:-_KEPT_SERVICE_ERRORS]  # a service failing for days keeps the last few
                await trio.sleep(pause)
                pause = min(_RESTART_MAX_PAUSE, pause * 2)
                continue
            return  # it ended by itself

    def start_services(self) -> None:
        """Let services held at start() start (from any thread; once is enough)."""
        with self._lock:
            token, release = self._token, self._release
        if token is not None and release is not None:
            try:
                token.run_sync_soon(release.set)
            except trio.RunFinishedError:
                pass

    # --- calls ------------------------------------------------------------------------

    # An async `fn` is awaited on the engine thread: the caller gets what it
    # returns, not a coroutine (the first overload says so to the type checker).
    @overload
    async def call(self, fn: Callable[Concatenate[Node, P], Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T: ...

    @overload
    async def call(self, fn: Callable[Concatenate[Node, P], T], *args: P.args, **kwargs: P.kwargs) -> T: ...

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run `fn(node, *args, **kwargs)` on the engine thread (awaited if it is async)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        job = _Job(functools.partial(fn, **kwargs) if kwargs else fn, args, future)
        with self._lock:
            if self._stopping or self._token is None:
                raise EngineStoppedError("the engine is not running")
            self._pending.add(future)
            token = self._token
        try:
            try:
                token.run_sync_soon(self._spawn, job)
            except trio.RunFinishedError:
                raise EngineStoppedError("the engine is not running") from None
            return await future
        except asyncio.CancelledError:
            try:
                token.run_sync_soon(job.cancel)
            except trio.RunFinishedError:
                pass
            raise
        finally:
            with self._lock:
                self._pending.discard(future)

    def _spawn(self, job: _Job) -> None:  # on the engine thread
        nursery = self._nursery
        if nursery is None or job.cancelled:
            _deliver(job.future, _fail, EngineStoppedError("the engine stopped"))
            return
        try:
            nursery.start_soon(self._run, job)
        except RuntimeError:  # the nursery closed between the check and now
            _deliver(job.future, _fail, EngineStoppedError("the engine stopped"))

    async def _run(self, job: _Job) -> None:
        if job.cancelled:  # the caller gave up before the job started
            return
        result: outcome.Outcome[Any] | None = None
        with trio.CancelScope() as scope:
            job.scope = scope
            try:
                value = job.fn(self._node, *job.args)
                if inspect.isawaitable(value):
                    value = await value
                result = outcome.Value(value)
            except Exception as exc:  # re-raised at the caller's await
                plain = plain_error(exc)
                if plain is not None and plain is not exc:
                    # A nursery in the call wrapped it: the caller catches
                    # ThreadsError and shows its message; the group goes to the log.
                    log.info("a call failed inside a nursery: %s", plain, exc_info=exc)
                    exc = plain
                result = outcome.Error(exc)
        if result is not None:
            _deliver(job.future, _settle, result)

    # --- change sets ------------------------------------------------------------------

    def add_listener(self, loop: asyncio.AbstractEventLoop, listener: Callable[[ChangeSet], None]) -> None:
        """Call `listener(changes)` on `loop` for every change the engine makes."""
        with self._lock:
            self._listeners.append((loop, listener))

    def _push(self, changes: ChangeSet) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for loop, listener in listeners:
            try:
                loop.call_soon_threadsafe(listener, changes)
            except RuntimeError:  # that loop is closed: nobody listens there any more
                pass


def _deliver(future: asyncio.Future[Any], settle: Callable[[asyncio.Future[Any], Any], None],
             value: Any) -> None:
    try:
        future.get_loop().call_soon_threadsafe(settle, future, value)
    except RuntimeError:  # the caller's loop is closed: nobody is waiting
        pass


def _settle(future: asyncio.Future[Any], result: outcome.Outcome[Any]) -> None:
    if future.done():
        return
    if isinstance(result, outcome.Value):
        future.set_result(result.value)
    else:
        assert isinstance(result, outcome.Error)
        future.set_exception(result.error)


def _fail(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
