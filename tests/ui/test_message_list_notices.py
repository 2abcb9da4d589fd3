"""The chat model's notice rows: between messages by stamp, and only back to
the oldest message shown while older ones are still to be paged in."""

from __future__ import annotations

from threads_desktop.engine.acl.notices import MembershipNotice, ThreadNotices
from threads_desktop.engine.core.keys import SigningKey
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.eventstore.stamps import stamp
from threads_desktop.ui.models.message_list_model import MessageListModel, MessageRole
from threads_desktop.ui.operations.chat import ChatPage, MessageItem

LOG = SigningKey.from_seed(bytes([7]) * 32).peer_id
ALICE, BOB = (str(SigningKey.from_seed(bytes([i]) * 32).peer_id) for i in (8, 9))


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
