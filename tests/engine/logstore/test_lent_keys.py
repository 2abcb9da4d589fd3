"""Lent follow keys (logstore/lent_keys.py): they open records only. A key a
lying peer lends is never written with, never proved with and never stored;
the lent keys of an epoch go once its real keys arrive; they are bounded."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.engine.eventstore.peers import envelopes_of, join, newest_record_opens_with, sync, texts
from threads_desktop.engine.core.errors import DecryptionError
from threads_desktop.engine.core.ids import ThreadId, ThreadVariant
from threads_desktop.engine.core.keys import Identity, ThreadKey
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.eventstore.store import AppliedChanges
from threads_desktop.engine.logstore.lent_keys import MAX_LENT_KEYS, LentKeys
from threads_desktop.engine.node import Node

OpenNode = Callable[..., Node]


def test_a_lent_key_of_a_later_epoch_is_not_written_with_nor_stored(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    chat = a.create_thread(ThreadKind.CHAT, "Us").thread_id
    join(a, b, chat)
    held = b.store.thread_keys(chat)
    lie = ThreadKey(bytes(range(32)), None, held[0].epoch + 1_000_000)
    b.store.lend_keys(chat, a.identity.peer_id, [lie])
    b.chat(chat).post("written with the real keys")
    sync(b, a, chat)
    assert texts(a, chat) == ["written with the real keys"]
    assert b.store.thread_keys(chat) == held
    (rows,) = b.database.connection.execute("SELECT count(*) FROM thread_keys").fetchone()
    assert rows == len(held)


def test_lent_follow_keys_open_records_written_since_and_go_when_the_real_keys_come(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    chat = a.create_thread(ThreadKind.CHAT, "Us").thread_id
    join(a, b, chat)
    newer = ThreadKey(bytes(32 * [7]), bytes(32 * [8]), a.store.thread_keys(chat)[0].epoch + 1)
    a.store.add_thread_key(chat, newer)
    a.commit(chat, [{"type": "note"}], key=newer)  # a record b's keys cannot open
    outcomes = b.receive(chat, envelopes_of(a, chat))
    assert [type(o) for o in outcomes if isinstance(o, Exception)] == [DecryptionError]
    b.store.lend_keys(chat, a.identity.peer_id, [ThreadKey(newer.follow, None, newer.epoch)])
    b.receive(chat, envelopes_of(a, chat))
    assert {h.log_id: h.seq for h in b.store.logs(chat)} == {h.log_id: h.seq for h in a.store.logs(chat)}
    b.store.put_thread_key(chat, newer)  # the real key arrives (an admin's delivery)
    assert b.store.thread_keys(chat)[0] == newer
    # Held now: not lent again.
    assert not b.store.lend_keys(chat, a.identity.peer_id, [ThreadKey(newer.follow, None, newer.epoch)])


def test_a_lent_read_key_reads_what_was_written_since_and_is_still_never_written_with(
        open_node: OpenNode, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = open_node("a"), open_node("b")
    chat = a.create_thread(ThreadKind.CHAT, "Us").thread_id
    join(a, b, chat)
    held = b.store.thread_keys(chat)
    newer = ThreadKey(bytes(32 * [7]), bytes(32 * [8]), a.store.thread_keys(chat)[0].epoch + 1)
    a.store.add_thread_key(chat, newer)
    # As if a rotation b has not heard of made it (a test reaching in, as force_commit does).
    monkeypatch.setattr(a.committer._keys, "writing_key", lambda *_args, **_kwargs: newer)
    a.chat(chat).post("under a key b lacks")
    sync(a, b, chat)
    assert texts(b, chat) == []
    b.store.lend_keys(chat, a.identity.peer_id, [newer])
    sync(a, b, chat)
    b.events.reopen(chat, AppliedChanges())
    assert texts(b, chat) == ["under a key b lacks"]
    b.chat(chat).post("b writes with what it holds")
    assert b.store.thread_keys(chat) == held
    assert newest_record_opens_with(b, chat, held)


def test_lent_keys_are_bounded_newest_first_and_kept_apart_per_lender() -> None:
    lent = LentKeys()
    thread = ThreadId.from_random(ThreadVariant.ACCESS_CONTROLLED, bytes(32))
    honest, liar = (Identity.generate().peer_id for _ in range(2))
    keys = [ThreadKey(bytes(32 * [i % 250 + 1]), None, i) for i in range(1, MAX_LENT_KEYS + 20)]
    assert lent.lend(thread, honest, keys, held_epochs={1})
    opened = lent.with_lent(thread, [])
    assert [k.epoch for k in opened] == sorted((k.epoch for k in keys), reverse=True)[:MAX_LENT_KEYS]
    assert all(k.read is None for k in opened)
    # A liar's keys of newer epochs do not push the honest keys out.
    lies = [ThreadKey(bytes(32 * [251]), None, 10**12 + i) for i in range(MAX_LENT_KEYS)]
    assert lent.lend(thread, liar, lies, held_epochs=set())
    assert set(opened) <= set(lent.with_lent(thread, []))
    assert len(lent.with_lent(thread, [])) == 2 * MAX_LENT_KEYS
    assert not lent.lend(thread, liar, lies, held_epochs=set())  # lent again: nothing new
