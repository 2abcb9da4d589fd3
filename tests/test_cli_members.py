"""invite, join, grant, revoke, members from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.engine.eventstore.peers import admit, force_commit, message_id, sync
from tests.test_cli import run
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.node import Node


def test_invite_join_grant_revoke_and_members(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    owner, guest = str(tmp_path / "owner"), str(tmp_path / "guest")
    _, thread, _ = run(capsys, "--data-dir", owner, "create", "chat", "Family")
    thread = thread.strip()
    code, link, _ = run(capsys, "--data-dir", owner, "invite", thread, "--role", "read", "--expires", "7d",
                        "--uses", "2", "--qr", str(tmp_path / "invite.png"))
    assert code == 0 and link.startswith("threads://join/" + thread)
    assert (tmp_path / "invite.png").read_bytes().startswith(b"\x89PNG")
    code, joined, err = run(capsys, "--data-dir", guest, "join", link.strip(), "--wait", "0")
    assert code == 75 and joined.strip() == thread and "waiting for a member to let you in" in err
    code, _, err = run(capsys, "--data-dir", guest, "join", link.strip()[:-3])
    assert code == 1 and "truncated or altered" in err

    # The admission and the records travel between the profiles (the
    # network's job: engine/net/joining.py, issue 5), here in process.
    a, b = Node.open(Path(owner)), Node.open(Path(guest))
    try:
        admit(a, b, ThreadId.parse(thread))
        sync(a, b, ThreadId.parse(thread))
        sync(b, a, ThreadId.parse(thread))
        guest_id = str(b.identity.peer_id)
    finally:
        a.close()
        b.close()
    code, _, err = run(capsys, "--data-dir", guest, "say", thread, "can I?")
    assert code == 1 and "may not write" in err  # a reader: refused before anything is written
    b = Node.open(Path(guest))
    try:  # what a modified client would write anyway
        force_commit(b, ThreadId.parse(thread), [{"type": "db", "ops": [
            {"op": "create", "c": "message", "id": message_id(b, ThreadId.parse(thread), 1), "set": {"text": "x"}}]}])
        a = Node.open(Path(owner))
        sync(b, a, ThreadId.parse(thread))
        a.close()
    finally:
        b.close()
    _, out, _ = run(capsys, "--data-dir", owner, "show", thread, "--json")
    [refused] = json.loads(out)["refused"]
    assert refused["seq"] == 2 and "may not write" in refused["reason"]

    code, out, _ = run(capsys, "--data-dir", owner, "members", thread, "--json")
    listing = json.loads(out)
    assert {m["peer"]: m["roles"] for m in listing["members"]}[guest_id] == ["follow", "read"]
    assert listing["acl"]["peers"][guest_id] == ["follow", "read"]
    assert [(i["role"], i["used"], i["uses"]) for i in listing["invites"]] == [("read", 1, 2)]
    assert run(capsys, "--data-dir", owner, "grant", thread, guest_id, "write")[0] == 0
    code, out, _ = run(capsys, "--data-dir", owner, "members", thread)
    assert f"{guest_id}  follow, read, write" in out and "(admin, you)" in out
    assert run(capsys, "--data-dir", owner, "revoke", thread, guest_id, "read")[0] == 0
    code, out, _ = run(capsys, "--data-dir", owner, "members", thread)
    assert f"{guest_id}  follow\n" in out


def test_member_commands_refuse_bad_input_with_a_clear_message(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    profile = str(tmp_path / "p")
    _, thread, _ = run(capsys, "--data-dir", profile, "create", "album", "A")
    thread = thread.strip()
    code, _, err = run(capsys, "--data-dir", profile, "invite", thread, "--expires", "soon")
    assert code == 1 and "duration" in err
    code, _, err = run(capsys, "--data-dir", profile, "grant", thread, "not-a-peer", "read")
    assert code == 1 and "peer ID" in err
    _, out, _ = run(capsys, "--data-dir", profile, "members", thread)
    assert out.count("\n") == 1  # only the founder; nothing was written


@pytest.mark.parametrize("where", ["missing/invite.png", "invite.jpg", "."])
def test_a_refused_qr_invite_makes_no_invite(tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str) -> None:
    profile = str(tmp_path / "p")
    _, thread, _ = run(capsys, "--data-dir", profile, "create", "album", "A")
    thread = thread.strip()
    code, out, err = run(capsys, "--data-dir", profile, "invite", thread, "--qr", str(tmp_path / where))
    assert code == 1 and out == ""
    assert err.startswith("threads-desktop: ") and err.count("\n") == 1 and "Traceback" not in err
    assert any(words in err for words in ("no folder", ".png or .svg", "is a folder"))
    _, out, _ = run(capsys, "--data-dir", profile, "members", thread, "--json")
    assert json.loads(out)["invites"] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"]  # no file, no partial file


def test_invite_expiry_and_self_revocation_are_refused_in_a_persons_words(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile = str(tmp_path / "p")
    _, thread, _ = run(capsys, "--data-dir", profile, "create", "chat", "Family")
    thread = thread.strip()
    code, _, err = run(capsys, "--data-dir", profile, "invite", thread, "--expires", "999999w")
    assert code == 1 and err == ("threads-desktop: an invite lasts at most 10 years (522w); "
                                 "leave out --expires for one that never expires\n")
    code, _, err = run(capsys, "--data-dir", profile, "invite", thread, "--expires", "0s")
    assert code == 1 and "at least 1m" in err
    _, me, _ = run(capsys, "--data-dir", profile, "id")
    code, _, err = run(capsys, "--data-dir", profile, "revoke", thread, me.strip(), "read")
    assert code == 1 and err.startswith("threads-desktop: you cannot take roles from yourself") and "12D3" not in err
    _, out, _ = run(capsys, "--data-dir", profile, "members", thread, "--json")
    listing = json.loads(out)
    assert listing["invites"] == [] and listing["members"][0]["roles"] == ["follow", "read", "write", "delete"]


def test_invites_reset_stops_every_open_link_and_says_how_many(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    owner = str(tmp_path / "owner")
    _, thread, _ = run(capsys, "--data-dir", owner, "create", "album", "Lisbon")
    thread = thread.strip()
    for uses in ("1", "5", "1"):
        assert run(capsys, "--data-dir", owner, "invite", thread, "--uses", uses)[0] == 0
    code, out, _ = run(capsys, "--data-dir", owner, "members", thread, "--json")
    first = json.loads(out)["invites"][0]["key"]
    node = Node.open(Path(owner))
    try:  # one revoked by hand before: not counted again
        node.membership.revoke_invite(ThreadId.parse(thread), bytes.fromhex(first))
    finally:
        node.close()
    code, out, err = run(capsys, "--data-dir", owner, "invites", "reset", thread)
    assert (code, out.strip()) == (0, "2") and "stopped 2 invite links" in err
    _, out, _ = run(capsys, "--data-dir", owner, "members", thread, "--json")
    assert [i["revoked"] for i in json.loads(out)["invites"]] == [True, True, True]
    code, out, err = run(capsys, "--data-dir", owner, "invites", "reset", thread)
    assert (code, out.strip()) == (0, "0") and "no open invite links" in err


def test_leave_forgets_the_thread_and_a_second_leave_says_it_is_not_here(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile = str(tmp_path / "p")
    _, thread, _ = run(capsys, "--data-dir", profile, "create", "chat", "Family")
    thread = thread.strip()
    code, _, err = run(capsys, "--data-dir", profile, "leave", thread)
    assert code == 0 and "left Family" in err
    _, out, _ = run(capsys, "--data-dir", profile, "ls")
    assert thread not in out
    code, _, err = run(capsys, "--data-dir", profile, "leave", thread)
    assert code == 1 and "Traceback" not in err and err.strip()
