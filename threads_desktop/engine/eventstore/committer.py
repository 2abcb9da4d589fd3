"""Our own writes: the one way every part above the event store commits
events to our log, sealed with the key a policy (membership's) chooses."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.keys import ThreadKey
from threads_desktop.engine.eventstore.dispatcher import Dispatcher
from threads_desktop.engine.eventstore.store import AppliedChanges


class WritingKeyPolicy(Protocol):
    def writing_key(self, thread_id: ThreadId, *, content: bool) -> ThreadKey | None:
        """The key to seal our next event with (None: the newest epoch held)."""


class NewestKey:
    """Every event sealed with the newest epoch held: the policy of a thread
    without access control, and the committer's until one is chosen."""

    def writing_key(self, thread_id: ThreadId, *, content: bool) -> ThreadKey | None:
        return None


class Committer:
    """Writes events through the dispatcher and publishes what they changed,
    once per commit or once for a batch of them."""

    def __init__(self, dispatcher: Dispatcher, publish: Callable[[AppliedChanges], None],
                 keys: WritingKeyPolicy | None = None) -> None:
        self._dispatcher = dispatcher
        self._publish = publish
        self._keys: WritingKeyPolicy = keys or NewestKey()
        self._batch: AppliedChanges | None = None

    def use_keys(self, keys: WritingKeyPolicy) -> None:
        """The policy that picks writing keys. Set once where the engine is
        wired: membership both chooses keys and commits (a key rotation when
        no epoch is clean), so it is built after its committer."""
        self._keys = keys

    def commit(self, thread_id: ThreadId, payloads: Sequence[Any], *, control: bool = False,
               key: ThreadKey | None = None) -> None:
        """Write events to our log in the thread and apply them (control
        events are sealed for every member). AccessDeniedError if the ACL
        would refuse them: then nothing is written."""
        changes = self._batch if self._batch is not None else AppliedChanges()
        key = key or self._keys.writing_key(thread_id, content=not control)
        self._dispatcher.commit(thread_id, payloads, changes, control=control, key=key)
        if self._batch is None:
            self._publish(changes)

    @contextmanager
    def batched(self) -> Iterator[AppliedChanges]:
        """Gather the changes of several commits into one change set, which
        the caller publishes."""
        self._batch = AppliedChanges()
        try:
            yield self._batch
        finally:
            self._batch = None
