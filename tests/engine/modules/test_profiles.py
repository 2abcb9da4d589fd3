"""Display names: kept per profile, told to every thread we write to,
read back cleaned whatever a peer wrote."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from tests.engine.eventstore.peers import force_commit, join, join_with, message_id, peer, start_thread, sync
from tests.engine.net.running import running_peers, wait_until
from threads_desktop.engine.core.errors import InvalidInputError
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.db.documents import db_event
from threads_desktop.engine.modules.profiles import MAX_DISPLAY_NAME, clean_display_name, name_from_peer
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]
HIDDEN = {"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"}


@given(st.text(max_size=200))
def test_a_name_from_a_peer_is_shown_bounded_visible_and_as_we_would_write_it(raw: str) -> None:
    shown = name_from_peer(raw)
    if shown is None:
        return
    assert 0 < len(shown) <= MAX_DISPLAY_NAME
    assert not any(unicodedata.category(ch) in HIDDEN for ch in shown)
    assert shown == " ".join(shown.split())  # no edge, double or odd whitespace
    assert clean_display_name(shown) == shown  # a name we could have written ourselves
    assert name_from_peer(shown) == shown


@given(st.text(max_size=80))
def test_a_name_we_write_is_shown_unchanged(raw: str) -> None:
    try:
        written = clean_display_name(raw)
    except InvalidInputError:
        return
    assert name_from_peer(written) == (written or None)


def test_names_that_are_not_text_or_only_hidden_characters_show_as_none() -> None:
    assert name_from_peer(42) is None
    assert name_from_peer(b"Alice") is None
    assert name_from_peer("\u200b\u202e \n\t") is None
    assert name_from_peer("A" * 500) == "A" * MAX_DISPLAY_NAME
    assert name_from_peer("\u202eecilA\u200d  Smith\n") == "ecilA Smith"


@pytest.mark.parametrize("bad", ["x" * (MAX_DISPLAY_NAME + 1), "Al\u202eice", "Al\x00ice", "Al\u200bice"])
def test_a_bad_name_is_refused_and_changes_nothing(open_node: OpenNode, bad: str) -> None:
    node = open_node("a")
    node.set_display_name("Alice")
    with pytest.raises(InvalidInputError):
        node.set_display_name(bad)
    assert node.display_name() == "Alice"


def test_the_name_is_kept_across_restarts_and_written_to_every_thread(open_node: OpenNode, tmp_path: Path) -> None:
    node = open_node("a")
    before = start_thread(node, name="Before")
    assert node.member_names(before) == {}  # no name yet: nothing written
    node.set_display_name("  Alice\u0301   Smith ")  # NFC, spaces collapsed
    after = start_thread(node, ThreadKind.ALBUM, "After")
    name = unicodedata.normalize("NFC", "Alice\u0301 Smith")
    assert node.display_name() == name
    assert node.member_names(before) == node.member_names(after) == {peer(node): name}
    node.close()
    again = Node.open(tmp_path / "a")
    try:
        assert again.display_name() == name
        assert again.member_names(before) == {peer(again): name}
        again.set_display_name("")  # taken back everywhere
        assert again.member_names(before) == again.member_names(after) == {}
    finally:
        again.close()


def test_a_joiner_tells_its_name_once_its_join_is_written_even_one_who_may_only_view(open_node: OpenNode) -> None:
    a, b, c = open_node("a"), open_node("b"), open_node("c")
    a.set_display_name("Alice")
    b.set_display_name("Bob")
    c.set_display_name("Carol")
    thread_id = start_thread(a)
    join(a, b, thread_id)  # writer: its join, then its name, in the records a receives
    join(a, c, thread_id, role=Role.READ)  # reader: may write nothing but its own name
    sync(b, a, thread_id)
    sync(c, a, thread_id)
    sync(a, c, thread_id)
    expected = {peer(a): "Alice", peer(b): "Bob", peer(c): "Carol"}
    assert a.member_names(thread_id) == expected
    assert c.member_names(thread_id) == expected
    c.set_display_name("Caroline")  # a reader renames itself too
    sync(c, a, thread_id)
    assert a.member_names(thread_id)[peer(c)] == "Caroline"


def test_a_reader_writes_its_own_name_and_nothing_else(open_node: OpenNode) -> None:
    a, c = open_node("a"), open_node("c")
    thread_id = start_thread(a)
    join(a, c, thread_id, role=Role.READ)
    own_log_a, own_log_c = a.store.own_log(thread_id), c.store.own_log(thread_id)
    # What a modified reader could send: someone else's name, a message, its
    # name together with a message. Every peer refuses each whole event.
    for payload in (
            db_event({"op": "create", "c": "member_profile", "id": str(own_log_a), "set": {"name": "I am Alice"}}),
            db_event({"op": "create", "c": "message", "id": message_id(c, thread_id, 1), "set": {"text": "spam"}}),
            db_event({"op": "create", "c": "member_profile", "id": str(own_log_c), "set": {"name": "Carol"}},
                     {"op": "create", "c": "message", "id": message_id(c, thread_id, 2), "set": {"text": "spam"}})):
        force_commit(c, thread_id, [payload], apply_locally=False)
    sync(c, a, thread_id)
    assert a.member_names(thread_id) == {}
    assert a.chat(thread_id).messages.count() == 0
    assert len(a.events.refused(thread_id)) == 3


def test_a_hostile_name_is_shown_cleaned_and_nobody_can_name_someone_else(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    thread_id = start_thread(a)
    join(a, b, thread_id)
    own_log_b, own_log_a = b.store.own_log(thread_id), a.store.own_log(thread_id)
    # What a modified client could send: past the local cleaning, not past the model.
    b.commit(thread_id, [db_event({"op": "create", "c": "member_profile", "id": str(own_log_b),
                                   "set": {"name": "\u202eBob\u200b  the\nbuilder\u0007"}})])
    force_commit(b, thread_id, [db_event({"op": "create", "c": "member_profile", "id": str(own_log_a),
                                          "set": {"name": "I am Alice"}})])  # refused by every peer
    sync(b, a, thread_id)
    assert a.member_names(thread_id) == {peer(b): "Bob the builder"}


def test_names_travel_between_peers_on_the_network(tmp_path: Path) -> None:
    async def main() -> None:
        async with running_peers(tmp_path, "a", "b") as peers:
            a, b = peers["a"].node, peers["b"].node
            a.set_display_name("Alice")
            b.set_display_name("Bob")
            thread_id = a.create_thread(ThreadKind.CHAT, "Us").thread_id
            join_with(a, b, a.invite(thread_id, Role.WRITE))
            both = {peer(a): "Alice", peer(b): "Bob"}
            await wait_until(a, lambda: a.member_names(thread_id) == both)
            await wait_until(b, lambda: b.member_names(thread_id) == both)
            b.set_display_name("Robert")
            await wait_until(a, lambda: a.member_names(thread_id)[peer(b)] == "Robert")

    trio.run(main)
