"""A key delivery judged early together with the control
events waiting in its causal past (acl/gate.early_keys, _causal_order).
Real profiles on real SQLite files; the hostile members write
what a modified client would (logged, never applied by themselves)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from tests.engine.eventstore.peers import envelopes_of, join, peer, start_thread, sync, texts
from threads_desktop.engine.acl import policy
from threads_desktop.engine.acl.control_ops import Grant, acl_payload
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.core.keys import ThreadKey
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.logstore.store import NewEvent
from threads_desktop.engine.node import Node

OpenNode = Callable[..., Node]


def logged(node: Node, thread: ThreadId, payloads: Sequence[Any], *, hlc: int, deps: dict[PeerId, int],
           control: bool, key: ThreadKey) -> int:
    """Append to node's log what a modified client would, without applying
    it; its seq."""
    with node.database.write():
        appended = node.store.append_many(
            thread, [NewEvent(p, hlc + i, tuple(deps.items()), control) for i, p in enumerate(payloads)], key)
    return appended[-1].seq


def frontier(node: Node, thread: ThreadId) -> dict[PeerId, int]:
    own = node.store.own_log(thread)
    return {log: seq for log, seq in node.events.frontier(thread) if log != own}


def test_control_events_stamped_against_causality_do_not_break_the_receiver(open_node: OpenNode) -> None:
    """Two hostile members. m1 writes content r cannot open (its header
    sealed with a made-up read key, its record with the real follow key),
    then a control event E1: E1 waits behind it. m2 writes a control event E2
    that depends on E1 but stamps it earlier (nothing checks that an HLC
    grows along deps), then a key box to r. early_keys orders the waiting
    past by stamp, [E2, E1, delivery], against causality; Evaluation
    requires a causal order and, judging E2, reaches E1's verdict before it
    exists (policy._state: layer.after[j], j > i). The receiver must stay
    well: its receive must not raise and it must go on applying honest
    events."""
    a, m1, m2, r = open_node("a"), open_node("m1"), open_node("m2"), open_node("r")
    chat = start_thread(a)
    for node in (m1, m2, r):
        join(a, node, chat)
    for node in (m1, m2, r):
        sync(a, node, chat)
    real = m1.store.thread_keys(chat)[0]
    made_up = ThreadKey(real.follow, bytes(32 * [9]), real.epoch)
    now = int(time.time() * 1000) << 16
    logged(m1, chat, [{"type": "note"}], hlc=now, deps=frontier(m1, chat), control=False, key=made_up)
    e1 = logged(m1, chat, [acl_payload(Grant(peer(a), Role.FOLLOW))], hlc=now + 10, deps=frontier(m1, chat),
                control=True, key=real)
    m1_log = m1.store.own_log(chat)
    assert m1_log is not None
    past = {**frontier(m2, chat), m1_log: e1}
    logged(m2, chat, [acl_payload(Grant(peer(a), Role.FOLLOW))], hlc=1 << 16, deps=past, control=True, key=real)
    new = ThreadKey(bytes(32 * [5]), bytes(32 * [6]), real.epoch + 1)
    boxes = m2.membership._boxes(chat, {peer(r): True}, new_key=new)
    assert boxes
    logged(m2, chat, [acl_payload(*boxes)], hlc=now + 20, deps=past, control=True, key=real)

    for source in (m1, m2):
        r.receive(chat, envelopes_of(source, chat))  # must not raise
    a.chat(chat).post("honest news")
    sync(a, r, chat)
    assert texts(r, chat) == ["honest news"]


WAITING = 100  # control events one member writes behind its own unreadable content


def test_the_work_of_judging_early_grows_at_most_linearly_with_the_events_waiting(
        open_node: OpenNode, monkeypatch: pytest.MonkeyPatch) -> None:
    """One hostile member (no admin needed: the boxes are looked at before
    the event is judged) writes content r cannot open, then WAITING control
    events each with a key box to r. They all wait, forever. early_keys then
    builds an Evaluation of the whole thread plus the waiting past for each
    of them, on every receive of the thread, honest ones too: quadratic
    (measured: 100 waiting, 11,500 events judged and ~5 s per receive; 250,
    66,250 and ~30 s; 500, capped by MAX_EARLY_PAST, ~70,000 and 30-36 s).
    One receive of one honest message must judge O(waiting) events."""
    a, m1, r = open_node("a"), open_node("m1"), open_node("r")
    chat = start_thread(a)
    for node in (m1, r):
        join(a, node, chat)
    for node in (m1, r):
        sync(a, node, chat)
    real = m1.store.thread_keys(chat)[0]
    made_up = ThreadKey(real.follow, bytes(32 * [9]), real.epoch)
    now = int(time.time() * 1000) << 16
    logged(m1, chat, [{"type": "note"}], hlc=now, deps=frontier(m1, chat), control=False, key=made_up)
    payloads = [acl_payload(*m1.membership._boxes(chat, {peer(r): True}, new_key=ThreadKey(
        bytes(32 * [5]), bytes(32 * [6]), real.epoch + 1 + i))) for i in range(WAITING)]
    logged(m1, chat, payloads, hlc=now + 10, deps=frontier(m1, chat), control=True, key=real)
    r.receive(chat, envelopes_of(m1, chat))
    assert r.events.waiting_count(chat) == WAITING + 1

    judged = [0]
    judge = policy.Evaluation._judge

    def counting(self: policy.Evaluation, i: int, layer: Any, *, final: bool) -> None:
        judged[0] += 1
        judge(self, i, layer, final=final)

    monkeypatch.setattr(policy.Evaluation, "_judge", counting)
    a.chat(chat).post("honest news")
    sync(a, r, chat)
    assert texts(r, chat) == ["honest news"]
    assert judged[0] <= 10 * WAITING


def test_a_delivery_by_an_admin_removed_in_a_waiting_event_of_its_past_is_not_taken_early(
        open_node: OpenNode, monkeypatch: pytest.MonkeyPatch) -> None:
    """a writes content r cannot read (a read key r lacks; the follow key is
    the same), then takes h's admin right: that revocation waits at r behind
    the content. h, which saw it, still seals r a box of a new epoch. Judged
    early with its waiting past, the delivery is invalid (h no admin there)
    and r takes nothing, as the in-order judgement would. (A concern found
    unfounded: this test passes.)"""
    a, h, r = open_node("a"), open_node("h"), open_node("r")
    chat = start_thread(a)
    join(a, h, chat)
    join(a, r, chat)
    a.membership.grant(chat, peer(h), Role.WRITE, "acl")
    for node in (h, r):
        sync(a, node, chat)
    held = r.store.thread_keys(chat)
    newer = ThreadKey(held[0].follow, bytes(32 * [8]), held[0].epoch + 1)
    a.store.add_thread_key(chat, newer)
    h.store.add_thread_key(chat, newer)  # h reads what r cannot
    with monkeypatch.context() as patch:
        patch.setattr(a.committer._keys, "writing_key", lambda *_args, **_kwargs: newer)
        a.chat(chat).post("under a key r lacks")
    logged(a, chat, [acl_payload(Grant(peer(a), Role.FOLLOW))], hlc=(int(time.time() * 1000) << 16),
           deps=frontier(a, chat), control=True, key=held[0])  # a control event of a's behind the content
    a.membership.revoke(chat, peer(h), Role.WRITE, "acl")
    sync(a, h, chat)
    assert not h.membership.is_admin(chat)
    planted = ThreadKey(bytes(32 * [5]), bytes(32 * [6]), held[0].epoch + 7)
    boxes = h.membership._boxes(chat, {peer(r): True}, new_key=planted)
    logged(h, chat, [acl_payload(*boxes)], hlc=(int(time.time() * 1000) << 16) + 100, deps=frontier(h, chat),
           control=True, key=held[0])
    sync(a, r, chat)
    sync(h, r, chat)
    assert r.events.waiting_count(chat) >= 3  # the content, a's control events, h's delivery
    assert r.store.thread_keys(chat) == held
