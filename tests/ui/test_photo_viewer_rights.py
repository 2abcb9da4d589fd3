"""The viewer lets a member edit the caption of photos they added, not of
others' (which the ACL would refuse), and says why."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import qasync

from tests.engine.eventstore.peers import envelopes_of
from tests.ui.album import photo_files
from tests.ui.waiting import wait_for
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node
from threads_desktop.engine.runtime import EngineRuntime
from threads_desktop.ui.engine_client import EngineClient
from threads_desktop.ui.views.photo_viewer import PhotoViewer

T = TypeVar("T")


def _engine(qtbot: Any, client: EngineClient, fn: Callable[..., T], *args: Any) -> T:
    return wait_for(qtbot, client.run(fn, *args))


def test_the_caption_is_editable_on_own_photos_only(  # type: ignore[no-untyped-def]
        qtbot, qt_loop: qasync.QEventLoop, runtime: EngineRuntime, open_node: Callable[[str], Node],
        tmp_path: Path) -> None:
    owner = open_node("owner")
    thread_id = owner.create_thread(ThreadKind.ALBUM, "Trip").thread_id
    [theirs] = owner.photos(thread_id).add_files(photo_files(tmp_path / "a", 1)).added
    link = owner.invite(thread_id, Role.WRITE).to_uri()
    client = EngineClient(runtime, qt_loop)
    _engine(qtbot, client, Node.join, InviteLink.parse(link))
    request = _engine(qtbot, client, lambda node: node.membership.admission_request(thread_id))  # admitted in
    me = _engine(qtbot, client, lambda node: str(node.identity.peer_id))  # process, as joining.py would carry it
    _engine(qtbot, client, Node.take_admission, thread_id, owner.answer_admission(request, me))
    _engine(qtbot, client, Node.receive, thread_id, envelopes_of(owner, thread_id))
    [mine] = _engine(qtbot, client, lambda node: node.photos(thread_id).add_files(
        photo_files(tmp_path / "b", 1, first_seed=9)).added)

    with ThreadPoolExecutor(max_workers=1) as decoder:
        viewer = PhotoViewer(client, decoder)
        qtbot.addWidget(viewer)
        viewer.show()
        viewer.show_photos(thread_id, [theirs, mine], 0)  # its picture stays with the owner: details only
        qtbot.waitUntil(lambda: viewer.name.text() == "IMG_0000.jpg", timeout=10_000)
        assert viewer.caption.isReadOnly()
        assert viewer.caption.toolTip() == "Only the person who added this photo can change its caption"
        assert viewer.comment_edit.isEnabled()  # commenting on others' photos is allowed
        viewer.show_next()
        qtbot.waitUntil(lambda: viewer.name.text() == "IMG_0009.jpg", timeout=10_000)
        assert not viewer.caption.isReadOnly() and viewer.caption.toolTip() == ""
        viewer.cancel_work()
