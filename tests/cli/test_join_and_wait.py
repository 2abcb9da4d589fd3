"""`join LINK` waits to be let in and its exit code says how it ended;
`invite --approve`, `members` (waiting and refused joiners), `approve`,
`decline` and `leave` of a join not let in. Real profiles: the owner served
by `serve` on 127.0.0.1, each joiner a CLI process that goes online for its
wait."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.served import ServedPeer, cli
from threads_desktop.cli.joining import REFUSED_EXIT_CODES, STILL_WAITING

APPROVAL_HINT = "an admin will let you in by hand; you may have to wait"


@pytest.fixture
def owner(tmp_path: Path) -> Iterator[tuple[ServedPeer, str]]:
    data_dir = tmp_path / "owner"
    thread = cli(data_dir, "create", "album", "Lisbon").stdout.strip()
    peer = ServedPeer(data_dir).start()
    try:
        yield peer, thread
    finally:
        peer.stop()


def _requests(owner: ServedPeer, thread: str) -> list[dict[str, object]]:
    return list(json.loads(cli(owner.data_dir, "members", thread, "--json").stdout)["requests"])


def test_join_exits_0_once_let_in_and_a_spent_link_exits_3_saying_it_was_used_up(
        tmp_path: Path, owner: tuple[ServedPeer, str]) -> None:
    peer, thread = owner
    link = cli(peer.data_dir, "invite", thread, "--uses", "1").stdout.strip()
    first = cli(tmp_path / "bob", "join", link, "--wait", "60", check=False)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == thread and "let in" in first.stderr
    assert thread in cli(tmp_path / "bob", "ls").stdout

    second = cli(tmp_path / "carol", "join", link, "--wait", "60", check=False)
    assert second.returncode == REFUSED_EXIT_CODES["used-up"] == 3, second.stderr
    assert "cannot join: this invite was used up" in second.stderr and "Traceback" not in second.stderr
    listed = cli(tmp_path / "carol", "ls").stdout  # nothing of the album came: only the refused join
    assert f"{thread}  album" not in listed and f"{thread}  joining Lisbon: this invite was used up" in listed

    [refused] = _requests(peer, thread)
    assert (refused["status"], refused["reason"]) == ("refused", "used-up")
    listing = cli(peer.data_dir, "members", thread).stdout
    assert "refused:" in listing and "used an invite that was used up" in listing

    # A refused profile joins again with a new link.
    fresh = cli(peer.data_dir, "invite", thread).stdout.strip()
    again = cli(tmp_path / "carol", "join", fresh, "--wait", "60", check=False)
    assert again.returncode == 0, again.stderr


def test_join_with_an_approve_link_waits_until_an_admin_approves_or_declines(
        tmp_path: Path, owner: tuple[ServedPeer, str]) -> None:
    peer, thread = owner
    link = cli(peer.data_dir, "invite", thread, "--uses", "2", "--approve").stdout.strip()
    waiting = cli(tmp_path / "bob", "join", link, "--wait", "3", check=False)
    assert waiting.returncode == STILL_WAITING == 75, waiting.stderr
    assert "approve you" in waiting.stderr and "still waiting" in waiting.stderr
    [request] = _requests(peer, thread)
    assert request["status"] == "waiting"
    assert "waiting for approval" in cli(peer.data_dir, "members", thread).stdout

    cli(peer.data_dir, "approve", thread, str(request["id"])[:8])
    admitted = cli(tmp_path / "bob", "join", link, "--wait", "60", check=False)  # the same link: waits on
    assert admitted.returncode == 0, admitted.stderr
    assert thread in cli(tmp_path / "bob", "ls").stdout

    assert cli(tmp_path / "dan", "join", link, "--wait", "3", check=False).returncode == STILL_WAITING
    [dan] = [r for r in _requests(peer, thread) if r["status"] == "waiting"]
    cli(peer.data_dir, "decline", thread, str(dan["peer"]))
    declined = cli(tmp_path / "dan", "join", link, "--wait", "60", check=False)
    assert declined.returncode == REFUSED_EXIT_CODES["declined"] == 6, declined.stderr
    assert "declined your request" in declined.stderr


def test_leave_of_a_join_not_let_in_stops_joining(tmp_path: Path, owner: tuple[ServedPeer, str]) -> None:
    peer, thread = owner
    link = cli(peer.data_dir, "invite", thread, "--approve").stdout.strip()
    assert cli(tmp_path / "bob", "join", link, "--wait", "0", check=False).returncode == STILL_WAITING
    assert f"{thread}  joining Lisbon: waiting for a member to let you in" in cli(tmp_path / "bob", "ls").stdout
    left = cli(tmp_path / "bob", "leave", thread, check=False)
    assert left.returncode == 0 and "stopped joining" in left.stderr
    assert cli(tmp_path / "bob", "leave", thread, check=False).returncode == 1  # nothing left to leave


def test_join_help_lists_the_exit_codes() -> None:
    done = cli(Path("/nonexistent-profile"), "join", "--help")
    for code in ("0", "3", "4", "5", "6", "7", "75"):
        assert f"\n  {code} " in done.stdout


def test_join_handed_to_the_process_serving_the_profile_waits_there(
        tmp_path: Path, owner: tuple[ServedPeer, str]) -> None:
    peer, thread = owner
    link = cli(peer.data_dir, "invite", thread).stdout.strip()
    guest = ServedPeer(tmp_path / "bob").start()  # the joiner's profile is served: join goes over its socket
    try:
        joined = cli(guest.data_dir, "join", link, "--wait", "60", check=False)
        assert joined.returncode == 0, joined.stderr
        assert joined.stdout.strip() == thread and "let in" in joined.stderr
        spent = cli(peer.data_dir, "invite", thread, "--approve").stdout.strip()
        cli(peer.data_dir, "invites", "reset", thread)
        refused = cli(tmp_path / "carol", "join", spent, "--wait", "60", check=False)
        assert refused.returncode == REFUSED_EXIT_CODES["revoked"] == 5, refused.stderr
        assert "this invite was revoked" in refused.stderr
    finally:
        guest.stop()


def test_join_says_before_waiting_that_an_admin_lets_each_joiner_in_by_hand(tmp_path: Path) -> None:
    owner = tmp_path / "owner"
    thread = cli(owner, "create", "album", "Lisbon").stdout.strip()
    by_hand = cli(owner, "invite", thread, "--approve").stdout.strip()
    joined = cli(tmp_path / "bob", "join", by_hand, "--wait", "0", check=False)
    assert joined.returncode == STILL_WAITING, joined.stderr
    assert joined.stderr.splitlines()[0] == APPROVAL_HINT  # before anything about waiting
    plain = cli(owner, "invite", thread).stdout.strip()
    other = cli(tmp_path / "carol", "join", plain, "--wait", "0", check=False)
    assert other.returncode == STILL_WAITING and APPROVAL_HINT not in other.stderr
