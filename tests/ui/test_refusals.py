"""Every refusal the engine makes, worded for a person: what was refused
and why, with no peer ID, hash, document path or exception text. The
errors come from real refused operations on real profiles."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.engine.eventstore.peers import join, peer, start_thread, sync
from tests.ui.album import photo_files
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.core.errors import ThreadsError
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node
from threads_desktop.engine.persons.device_links import REFUSALS, Refusal
from threads_desktop.engine.persons.flows import DeviceLinkRefused
from threads_desktop.ui.refusals import explain, refused

OpenNode = Callable[[str], Node]
_INTERNAL = re.compile(r"12D3KooW|\bb[a-z2-7]{20,}|[0-9a-f]{16,}|photo/|message/|Error\b")


def _refusal(action: Callable[[], object]) -> ThreadsError:
    with pytest.raises(ThreadsError) as caught:
        action()
    return caught.value


@pytest.fixture
def album(open_node: OpenNode, tmp_path: Path) -> tuple[Node, Node, str, str]:
    """a's album with one photo by a and one by b (a writer)."""
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a, ThreadKind.ALBUM, "Trip")
    join(a, b, thread, role=Role.WRITE)
    [theirs] = a.photos(thread).add_files(photo_files(tmp_path / "a", 1)).added
    sync(a, b, thread)
    [mine] = b.photos(thread).add_files(photo_files(tmp_path / "b", 1, first_seed=5)).added
    sync(b, a, thread)
    return a, b, theirs, mine


def test_a_writer_deleting_or_captioning_anothers_photo_is_told_why_in_plain_words(
        album: tuple[Node, Node, str, str]) -> None:
    _a, b, theirs, _mine = album
    [thread] = [s.thread_id for s in b.list_threads()]
    deleting = _refusal(lambda: b.photos(thread).delete(theirs))
    assert peer(b) in str(deleting)  # the engine's own text names the member...
    text = refused("Could not delete the photo", deleting)
    assert text == "Could not delete the photo: You can delete only what you added yourself."
    assert not _INTERNAL.search(text)  # ... the person's does not
    captioning = _refusal(lambda: b.photos(thread).set_caption(theirs, "mine now"))
    assert explain(captioning) == "Only the person who added it can change it."


def test_a_member_turned_viewer_is_told_the_role_changed(album: tuple[Node, Node, str, str]) -> None:
    a, b, _theirs, mine = album
    [thread] = [s.thread_id for s in a.list_threads()]
    a.membership.revoke(thread, peer(b), Role.WRITE)
    sync(a, b, thread)
    for action in (lambda: b.photos(thread).delete(mine), lambda: b.photos(thread).comment(mine, "hi"),
                   lambda: b.photos(thread).set_caption(mine, "mine")):
        assert explain(_refusal(action)) == "You can only view it now: the people who manage it changed your role."
    granting = _refusal(lambda: b.membership.grant(thread, peer(a), Role.DELETE))
    assert explain(granting) == "Only the people who manage its members can do that."


def test_a_member_who_joined_as_a_viewer_is_told_they_can_view_but_not_add(
        open_node: OpenNode, tmp_path: Path) -> None:
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a, ThreadKind.ALBUM, "Trip")
    join(a, b, thread, role=Role.READ)
    [theirs] = a.photos(thread).add_files(photo_files(tmp_path / "a", 1)).added
    sync(a, b, thread)
    for action in (lambda: b.photos(thread).add_files(photo_files(tmp_path / "b", 1, first_seed=5)),
                   lambda: b.photos(thread).comment(theirs, "hi"), lambda: b.chat(thread).post("hello"),
                   lambda: b.rename_thread(thread, "Mine")):
        assert explain(_refusal(action)) == "You can view it but not add to it or change it."


def test_a_backup_device_is_told_it_keeps_only_an_encrypted_backup(open_node: OpenNode) -> None:
    a, backup = open_node("a"), open_node("backup")
    thread = start_thread(a)
    join(a, backup, thread, role=Role.FOLLOW)
    posting = _refusal(lambda: backup.chat(thread).post("hello"))
    assert explain(posting) == "This device keeps only an encrypted backup of it, so it cannot change it."


def test_a_broken_link_and_a_missing_thread_read_as_a_person_would_say_them(open_node: OpenNode) -> None:
    a = open_node("a")
    thread = start_thread(a)
    link = a.invite(thread, Role.WRITE).to_uri()
    broken = _refusal(lambda: InviteLink.parse(link[:-5]))
    assert explain(broken) == "This link is incomplete or damaged; ask for a new one."
    a.leave_thread(thread)
    gone = _refusal(lambda: a.chat(thread).post("hello"))
    assert explain(gone) == "It is no longer here: it was deleted, or you left it."
    named = _refusal(lambda: a.set_display_name("x" * 100))
    assert explain(named) == "A name has at most 64 characters."


def test_an_engine_message_in_a_developers_words_is_not_shown_as_it_is() -> None:
    from threads_desktop.engine.core.ids import ThreadId

    developer = _refusal(lambda: ThreadId.parse("not-a-thread"))
    assert "multibase" in str(developer) or "base32" in str(developer)
    assert explain(developer) == "It was not accepted: something in it is not in a form the app can use."


@pytest.mark.parametrize("reason", REFUSALS)
def test_each_refusal_of_a_device_link_reads_as_what_to_do(reason: Refusal) -> None:
    text = explain(DeviceLinkRefused(reason))
    assert "could not be reached" not in text and "link" in text.lower()
    assert ("still works" in text) == (reason == "large")  # too large: the link was not spent
