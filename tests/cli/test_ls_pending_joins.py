"""`ls --json` lists the joins not let in yet (waiting, or refused, with the
reason), as `ls` and the app's Joining section do, after the threads and
without changing their entries. Real profiles; the admission in process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.engine.eventstore.peers import admit
from threads_desktop.cli.main import main
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.core.members import AdmissionStatus, Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node


def test_ls_json_lists_pending_joins_with_their_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    owner, first, joiner = (Node.open(tmp_path / name) for name in ("owner", "first", "joiner"))
    try:
        own = joiner.create_thread(ThreadKind.CHAT, "Mine").thread_id
        lisbon = owner.create_thread(ThreadKind.ALBUM, "Lisbon").thread_id
        porto = owner.create_thread(ThreadKind.ALBUM, "Porto").thread_id
        spent = owner.invite(lisbon, Role.READ, uses=1).to_uri()
        first.join(InviteLink.parse(spent))
        assert admit(owner, first, lisbon).status is AdmissionStatus.ADMITTED
        joiner.join(InviteLink.parse(spent))
        assert admit(owner, joiner, lisbon).status is AdmissionStatus.REFUSED
        joiner.join(InviteLink.parse(owner.invite(porto, Role.WRITE).to_uri()))
    finally:
        for node in (owner, first, joiner):
            node.close()

    assert main(["--data-dir", str(tmp_path / "joiner"), "ls", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(entry["id"], entry["kind"]) for entry in listed] == [
        (str(own), "chat"), (str(lisbon), "joining"), (str(porto), "joining")]
    assert listed[0]["events"] > 0 and "joining" not in listed[0]  # a thread's entry is as it was
    refused, waiting = listed[1], listed[2]
    assert refused["name"] == "Lisbon" and refused["joining"] == {
        "status": "refused", "reason": "used-up", "role": "read", "inviter": None,
        "since_ms": refused["joining"]["since_ms"], "words": "this invite was used up"}
    assert waiting["name"] == "Porto" and waiting["joining"]["status"] == "waiting"
    assert waiting["joining"]["reason"] is None and waiting["joining"]["role"] == "write"
    assert waiting["joining"]["words"] == "waiting for a member to let you in"
