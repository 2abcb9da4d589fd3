from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.engine.eventstore.peers import join, start_thread, sync
from threads_desktop.engine.core.errors import AccessDeniedError, InvalidInputError, NotFoundError, SchemaError
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.modules.chat import message_text
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]


def test_post_reply_edit_delete_and_react_reach_the_other_member(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    join(a, b, thread)
    chat_a, chat_b = a.chat(thread), b.chat(thread)
    question = chat_a.post("Dinner at 8?")
    sync(a, b, thread)
    answer = chat_b.post("Yes!\nSee you", reply_to=question)
    chat_b.react(question, "👍")
    sync(b, a, thread)
    chat_a.edit(question, "Dinner at 8:30?")
    oops = chat_a.post("wrong chat")
    chat_a.delete(oops)
    sync(a, b, thread)

    described = [chat_b.describe(m) for m in chat_b.history()]
    assert [(d["text"], d["reply_to"], d["edited"]) for d in described] == [
        ("Dinner at 8:30?", None, True), ("Yes!\nSee you", question, False)]
    assert described[0]["reactions"] == {"👍": [str(b.store.own_log(thread))]}
    assert described[1]["id"] == answer
    chat_b.react(question, "👍", on=False)
    assert chat_b.describe(chat_b.messages.get(question))["reactions"] == {}


def test_only_the_author_edits_or_deletes_a_message(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    join(a, b, thread)
    message = a.chat(thread).post("mine")
    sync(a, b, thread)
    # Refused before anything is written: our log never keeps what peers refuse.
    with pytest.raises(AccessDeniedError, match="only the author"):
        b.chat(thread).edit(message, "not yours")
    with pytest.raises(AccessDeniedError, match="may not delete others' items"):
        b.chat(thread).delete(message)
    assert b.chat(thread).messages.get(message).data["text"] == "mine"
    assert b.events.refused(thread) == []
    # With the delete role, a member may delete others' items.
    a.membership.grant(thread, str(b.identity.peer_id), Role.DELETE)
    sync(a, b, thread)
    b.chat(thread).delete(message)
    sync(b, a, thread)
    assert a.chat(thread).messages.find_one_by_id(message) is None


def test_unread_counts_follow_the_read_marker(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    join(a, b, thread)
    ids = [a.chat(thread).post(f"news {i}") for i in range(3)]
    sync(a, b, thread)
    chat_b = b.chat(thread)
    assert chat_b.unread_count() == 3
    chat_b.mark_read(ids[1])
    assert chat_b.unread_count() == 1
    chat_b.mark_read(ids[0])  # an older message never moves the marker back
    assert chat_b.unread_count() == 1


@pytest.mark.parametrize("text", ["", "   ", "x" * 10_001, "bell\x07"])
def test_bad_messages_are_refused_with_a_clear_error(open_node: OpenNode, text: str) -> None:
    a = open_node("a")
    thread = start_thread(a)
    with pytest.raises(InvalidInputError):
        a.chat(thread).post(text)
    with pytest.raises(NotFoundError):
        a.chat(thread).post("reply", reply_to="nope")
    assert a.chat(thread).history() == []


def test_a_reaction_must_be_one_short_emoji(open_node: OpenNode) -> None:
    a = open_node("a")
    thread = start_thread(a)
    message = a.chat(thread).post("hi")
    with pytest.raises((InvalidInputError, SchemaError)):
        a.chat(thread).react(message, "not an emoji at all")


def test_photos_attached_to_a_message_use_the_album_blob_path(open_node: OpenNode, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.engine.modules.images import image_bytes, pixels

    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    join(a, b, thread)
    picture = tmp_path / "cat.jpg"
    picture.write_bytes(image_bytes("JPEG"))
    message = a.chat(thread).post_photos(a.photos(thread), [picture], "look at this")
    sync(a, b, thread)
    [photo_id] = b.chat(thread).messages.get(message).data["photos"]
    assert b.photos(thread).photos.get(photo_id).data["name"] == "cat.jpg"
    original = a.photos(thread).original(photo_id)
    assert original is not None and pixels(original) == pixels(picture.read_bytes())


def test_a_picture_already_in_the_chat_is_attached_by_its_id_whatever_its_file_name(open_node: OpenNode,
                                                                                    tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.engine.modules.images import image_bytes

    a = open_node("a")
    thread = start_thread(a)
    first, again = tmp_path / "cat.jpg", tmp_path / "same-cat-renamed.jpg"
    first.write_bytes(image_bytes("JPEG"))
    again.write_bytes(first.read_bytes())
    earlier = a.chat(thread).post_photos(a.photos(thread), [first])
    later = a.chat(thread).post_photos(a.photos(thread), [again], "again")
    messages = a.chat(thread).messages
    assert messages.get(later).data["photos"] == messages.get(earlier).data["photos"]


# What a modified client can write (the reducer checks only type and length):
# a terminal title and clear-screen, a C1 CSI, a bidi override and an isolate.
HOSTILE_MESSAGE = "nice\x1b]0;PWNED\x07\x1b[2J \u202egpj.exe\u2066x\u2069 \x9b31m\r\nline two\tend\u2028three"
SHOWN_MESSAGE = "nice]0;PWNED[2J gpj.exex 31m\nline two\tend\nthree"


def test_a_message_and_reaction_a_peer_wrote_with_escapes_are_read_clean(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a)
    join(a, b, thread)
    message_id = a.chat(thread).messages.create({"text": HOSTILE_MESSAGE})
    a.chat(thread).reactions._reactions.create({"target": f"message/{message_id}", "emoji": "\x1b[2J👍",
                                                "on": True})
    sync(a, b, thread)
    chat = b.chat(thread)
    message = chat.messages.get(message_id)
    assert message.data["text"] == HOSTILE_MESSAGE  # stored as written: cleaned when read
    assert message_text(message) == SHOWN_MESSAGE
    described = chat.describe(message)
    assert described["text"] == SHOWN_MESSAGE
    assert described["reactions"] == {"[2J👍": [str(a.store.own_log(thread))]}
