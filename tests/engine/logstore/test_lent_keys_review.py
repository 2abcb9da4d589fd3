"""Review of f47217e (keys lent in a hello, PROTOCOL §34), as an attacker
would: what a member that lies in its hello answer can do to the device it
lends to. Real profiles on real SQLite files; the lie goes in through
`LogStore.lend_keys`, exactly what `ClientSession.hello` does with any
admitted member's `lent` (it checks neither that we are behind nor what the
keys are)."""

from __future__ import annotations

from collections.abc import Callable

from tests.engine.eventstore.peers import join, peer, sync, texts
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.keys import ThreadKey
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node

OpenNode = Callable[..., Node]


def _follower_world(open_node: OpenNode) -> tuple[Node, Node, Node, Node, ThreadId]:
    """a founds a chat; b (the liar) writes; f and g only follow."""
    a, b, f, g = open_node("a"), open_node("b"), open_node("f"), open_node("g")
    chat = a.create_thread(ThreadKind.CHAT, "Us").thread_id
    join(a, b, chat)
    join(a, f, chat, role=Role.FOLLOW)
    join(a, g, chat, role=Role.FOLLOW)
    for node in (b, f, g):
        sync(a, node, chat)
    assert not f.store.thread_keys(chat)[0].can_read
    return a, b, f, g, chat


def test_a_read_key_lent_to_a_follower_does_not_stop_its_logs(open_node: OpenNode) -> None:
    """A follower keeps each content event's place (MissingKeyError: no read
    key at all). A liar lends it a made-up *read* key of an epoch that never
    comes: open_event then raises DecryptionError for every content event,
    which waits for a key (FOR_KEY) forever, and every log stops there: the
    follower no longer applies the admin's later ACL events (here: the liar's
    own demotion), until it restarts. g, lent nothing, is the control."""
    a, b, f, g, chat = _follower_world(open_node)
    held = f.store.thread_keys(chat)[0].epoch
    lie = ThreadKey(bytes(32 * [3]), bytes(32 * [4]), held + 1_000_000)
    f.store.lend_keys(chat, b.identity.peer_id, [lie])
    a.chat(chat).post("content a follower cannot read")
    a.membership.revoke(chat, peer(b), Role.WRITE)  # an ACL event behind the content
    sync(a, f, chat)
    sync(a, g, chat)
    assert Role.WRITE not in g.membership.roles(chat, peer(b))  # the honest follower applied it
    assert f.events.waiting_count(chat) == g.events.waiting_count(chat) == 0
    assert Role.WRITE not in f.membership.roles(chat, peer(b))


def test_a_lent_key_of_a_made_up_epoch_is_let_go_of(open_node: OpenNode) -> None:
    """Lent keys are dropped only when their epoch becomes held: one a liar
    labels with an epoch that never comes stays (until a restart) and is
    tried on every record and header, first (newest first)."""
    a, b, f, _g, chat = _follower_world(open_node)
    held = f.store.thread_keys(chat)
    lie = ThreadKey(bytes(32 * [3]), None, held[0].epoch + 1_000_000)
    f.store.lend_keys(chat, b.identity.peer_id, [lie])
    a.chat(chat).post("a reason to sync")
    sync(a, f, chat)
    assert f.store._opening_keys(chat) == held
    assert texts(f, chat) == []
