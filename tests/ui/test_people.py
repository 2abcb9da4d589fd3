"""A person is shown by the name they give themselves, else by one short
form of their member ID, the same in chat, comments, the member list and
invites (not the per-thread log ID that chat and comments used to show)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.engine.eventstore.peers import join, peer, start_thread, sync
from tests.ui.album import photo_files
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node
from threads_desktop.ui.models.member_table_model import MemberRole, MemberTableModel
from threads_desktop.ui.operations import chat as chat_ops
from threads_desktop.ui.operations.members import author_labels, load_members
from threads_desktop.ui.operations.photos import photo_details as _details
from threads_desktop.ui.people import short_id

OpenNode = Callable[[str], Node]


def test_an_unnamed_author_has_the_same_short_id_in_chat_comments_and_the_member_list(
        qtbot, open_node: OpenNode, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a, ThreadKind.ALBUM, "Trip")
    join(a, b, thread, role=Role.WRITE)
    [photo] = a.photos(thread).add_files(photo_files(tmp_path, 1)).added
    sync(a, b, thread)
    b.chat(thread).post("hello")
    b.photos(thread).comment(photo, "nice")
    sync(b, a, thread)
    b_log = str(b.store.own_log(thread))
    assert b_log != peer(b)  # the log ID is per thread: showing it would match nothing else

    expected = short_id(peer(b))
    assert author_labels(a, thread)[b_log] == expected
    page = chat_ops.load_page(a, thread, None, 50, frozenset())
    assert page.names[page.messages[0].author] == expected
    assert [c.author for c in _details(a, thread, photo).comments] == [expected]
    members = MemberTableModel()
    snapshot = load_members(a, thread)
    members.set_members(snapshot.members, i_am_admin=True, names=snapshot.names)
    [row] = [r for r in range(members.rowCount()) if members.index(r, 0).data(MemberRole.PEER_ID) == peer(b)]
    assert members.index(row, 0).data(MemberRole.SHORT_ID) == expected

    b.set_display_name("Bruno")
    sync(b, a, thread)
    assert author_labels(a, thread)[b_log] == "Bruno"
    assert [c.author for c in _details(a, thread, photo).comments] == ["Bruno"]
