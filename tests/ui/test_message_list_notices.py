"""The chat model's notice rows: between messages by stamp, and only back to
the oldest message shown while older ones are still to be paged in."""

from __future__ import annotations

import pytest

from threads_desktop.engine.acl.notices import MembershipNotice, ThreadNotices
from threads_desktop.engine.core.keys import SigningKey
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.eventstore.stamps import stamp
from threads_desktop.ui.models.message_list_model import MessageListModel, MessageRole
from threads_desktop.ui.notices import notice_text
from threads_desktop.ui.operations.chat import ChatPage, MessageItem

LOG = SigningKey.from_seed(bytes([7]) * 32).peer_id
ALICE, BOB, CAROL = (str(SigningKey.from_seed(bytes([i]) * 32).peer_id) for i in (8, 9, 10))


def _message(n: int) -> MessageItem:
    return MessageItem(f"m{n}", str(LOG), f"message {n}", stamp(n * 10 << 16, LOG, n), n * 10, False, False)


def _page(numbers: list[int], total: int) -> ChatPage:
    return ChatPage(tuple(_message(n) for n in numbers), total, None, b"", 0, {}, {})


def _notices(*at: int) -> ThreadNotices:
    return ThreadNotices(tuple(MembershipNotice("added", ALICE, BOB, Role.READ, t * 10, None,
                                                stamp(t * 10 << 16, LOG, 100 + t)) for t in at),
                         {ALICE: "Alice", BOB: "Bob"}, ALICE)


def _rows(model: MessageListModel) -> list[str]:
    return [str(model.index(row).data(MessageRole.TEXT)) for row in range(model.rowCount())]


def test_notices_go_between_messages_and_older_ones_wait_for_their_page(qtbot) -> None:  # type: ignore[no-untyped-def]
    model = MessageListModel()
    model.set_page(_page([3, 4], total=4))  # messages 1 and 2 are not loaded yet
    model.set_notices(_notices(1, 3))  # just after message 1, and just after message 3
    assert _rows(model) == ["message 3", "You added Bob (View)", "message 4"]  # the older one waits
    assert model.has_older and model.oldest_stamp() == _message(3).created
    assert model.message(1) is None and model.message(0) == _message(3)

    model.set_page(_page([1, 2, 3, 4], total=4))  # the older page came: its notice with it
    assert _rows(model) == ["message 1", "You added Bob (View)", "message 2", "message 3", "You added Bob (View)",
                            "message 4"]
    assert not model.has_older and [m.id for m in model.messages()] == ["m1", "m2", "m3", "m4"]

    model.set_notices(_notices(3))  # one went (its event was refused after all, say)
    assert _rows(model) == ["message 1", "message 2", "message 3", "You added Bob (View)", "message 4"]


def _told(kind: str, subject: str, role: Role | None, entity: str | None = None, t: int = 1) -> MembershipNotice:
    return MembershipNotice(kind, ALICE, subject, role, t * 10, None, stamp(t * 10 << 16, LOG, 100 + t),
                            entity)  # type: ignore[arg-type]


def test_one_event_telling_one_member_two_things_gives_two_rows(qtbot) -> None:  # type: ignore[no-untyped-def]
    model = MessageListModel()
    model.set_page(_page([1, 2], total=2))
    demoted = (_told("role-changed", BOB, Role.READ), _told("admin-taken", BOB, Role.READ))  # one event
    model.set_notices(ThreadNotices(demoted, {ALICE: "Alice", BOB: "Bob"}, BOB))
    assert _rows(model) == ["message 1", "Alice changed your role to View", "Alice took your admin rights",
                            "message 2"]


@pytest.mark.parametrize(("notice", "kind", "words"), [
    (_told("admin-given", BOB, Role.WRITE), None, "Alice made Bob an admin"),
    (_told("admin-given", CAROL, Role.WRITE), None, "Alice made you an admin"),
    (_told("admin-taken", BOB, Role.READ), None, "Alice took Bob's admin rights"),
    (_told("admin-taken", CAROL, Role.WRITE), None, "Alice took your admin rights"),
    (_told("default-changed", "", Role.READ), ThreadKind.ALBUM, "Alice let anyone with the album's keys view it"),
    (_told("default-changed", "", Role.WRITE), ThreadKind.CHAT,
     "Alice let anyone with the chat's keys view it and add to it"),
    (_told("default-changed", "", Role.FOLLOW), ThreadKind.ALBUM,
     "Alice let anyone with the album's keys keep an encrypted backup of it"),
    (_told("default-changed", "", Role.DELETE), None, "Alice let anyone with its keys view it, add to it and delete "
                                                      "from it"),
    (_told("default-changed", "", Role.NO_ACCESS), ThreadKind.ALBUM,
     "Alice closed the album to anyone not listed as a member"),
    (_told("document-role", BOB, Role.WRITE, "photo/abc"), None, "Alice let Bob edit one photo"),
    (_told("document-role", BOB, Role.READ, "message/abc"), None, "Alice let Bob only view one message"),
    (_told("document-role", CAROL, Role.DELETE, "comment/abc"), None, "Alice let you edit and delete one comment"),
    (_told("document-role", BOB, None, "photo/abc"), None, "Alice took Bob's access to one photo"),
    (_told("document-role", CAROL, None, "kv/x"), None, "Alice took your access to one item"),
    (_told("document-role", "", Role.READ, "photo/abc"), None, "Alice let everyone else only view one photo"),
    (_told("document-role", "", Role.NO_ACCESS, "photo/abc"), None, "Alice kept one photo from everyone else"),
])
def test_rights_notices_are_worded_with_names_and_what_they_let_people_do(  # type: ignore[no-untyped-def]
        qtbot, notice: MembershipNotice, kind: ThreadKind | None, words: str) -> None:
    assert notice_text(notice, {ALICE: "Alice", BOB: "Bob"}, CAROL, kind) == words


@pytest.mark.parametrize(("notice", "words"), [
    (MembershipNotice("device-added", None, BOB, None, 10, entity="Bob's desktop"),
     "Bob added a device: Bob's desktop"),
    (MembershipNotice("device-added", None, CAROL, None, 10, entity="My tablet"), "You added a device: My tablet"),
    (MembershipNotice("device-removed", None, BOB, None, 10, entity="Bob's desktop"),
     "Bob removed a device: Bob's desktop"),
    (MembershipNotice("device-removed", None, BOB, None, 10), "Bob removed a device"),
])
def test_a_persons_devices_are_told_by_the_persons_name_and_the_devices(  # type: ignore[no-untyped-def]
        qtbot, notice: MembershipNotice, words: str) -> None:
    assert notice_text(notice, {ALICE: "Alice", BOB: "Bob"}, CAROL) == words
