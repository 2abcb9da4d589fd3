"""Change sets reach subscribers: one that says only that a join by link
moved on (ChangeSet.joins: waiting, refused) is not dropped as empty."""

from __future__ import annotations

import os

from threads_desktop.engine.core.ids import ThreadId, ThreadVariant
from threads_desktop.engine.core.types import ChangeSet
from threads_desktop.engine.eventstore.broadcast import Broadcaster


def test_a_change_set_naming_only_a_join_reaches_every_change_subscriber() -> None:
    broadcaster = Broadcaster()
    heard: list[ChangeSet] = []
    broadcaster.subscribe(heard.append)
    thread_id = ThreadId.from_random(ThreadVariant.ACCESS_CONTROLLED, os.urandom(32))
    broadcaster.publish(ChangeSet(joins=frozenset({thread_id})))
    broadcaster.publish(ChangeSet())  # nothing at all: still dropped
    assert [changes.joins for changes in heard] == [frozenset({thread_id})]


def test_a_change_set_naming_only_the_persons_devices_reaches_every_change_subscriber() -> None:
    broadcaster = Broadcaster()
    heard: list[ChangeSet] = []
    broadcaster.subscribe(heard.append)
    broadcaster.publish(ChangeSet(devices=True))  # a device added or removed, this one maybe (issue 19)
    assert [changes.devices for changes in heard] == [True]
