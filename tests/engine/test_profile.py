from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.engine.logstore.helpers import append_messages, new_chat
from threads_desktop.engine.core.errors import ProfileError, ProfileLockedError
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]


def test_one_process_owns_a_profile_at_a_time(open_node: OpenNode, tmp_path: Path) -> None:
    node = open_node("p")
    with pytest.raises(ProfileLockedError, match="in use"):
        Node.open(tmp_path / "p")
    node.close()
    again = Node.open(tmp_path / "p")
    again.close()


def test_the_data_folder_is_private_and_the_master_key_is_0600(open_node: OpenNode) -> None:
    node = open_node("p")
    directory = node.profile.directory
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE((directory / "master.key").stat().st_mode) == 0o600


def test_identity_and_threads_survive_a_restart(tmp_path: Path) -> None:
    node = Node.open(tmp_path / "p")
    peer_id = node.identity_card().peer_id
    thread = new_chat(node, "Family")
    node.close()
    node = Node.open(tmp_path / "p")
    try:
        assert node.identity_card().peer_id == peer_id
        assert [t.name for t in node.list_threads()] == ["Family"]
        assert node.get_thread(thread).event_count == 2  # ACL genesis, name and kind
    finally:
        node.close()


def test_no_private_key_is_stored_in_plaintext(tmp_path: Path) -> None:
    node = Node.open(tmp_path / "p")
    thread = new_chat(node)
    append_messages(node, thread, 3)
    log_id = node.store.own_log(thread)
    assert log_id is not None
    secrets = [
        node.identity.signing.seed(), node.identity.exchange_seed(),
        node.store._log_key(thread, log_id).seed(),
        *(k.to_bytes() for k in node.store.thread_keys(thread)),
    ]
    secrets += [s[:32] for s in secrets] + [s[32:] for s in secrets if len(s) > 32]
    node.close()
    for path in (tmp_path / "p").glob("profile.sqlite3*"):
        data = path.read_bytes()
        assert not [s for s in secrets if s in data], path


def test_a_damaged_master_key_is_a_clear_error(tmp_path: Path) -> None:
    Node.open(tmp_path / "p").close()
    (tmp_path / "p" / "master.key").write_bytes(b"short")
    with pytest.raises(ProfileError, match="damaged"):
        Node.open(tmp_path / "p")
    (tmp_path / "p" / "master.key").unlink()  # the failed open released the lock, too
    with pytest.raises(ProfileError, match="missing"):
        Node.open(tmp_path / "p")
    assert not (tmp_path / "p" / "master.key").exists()  # no new key that would hide the loss
    (tmp_path / "p" / "master.key").write_bytes(bytes(32))
    with pytest.raises(ProfileError, match="does not open"):
        Node.open(tmp_path / "p")


def test_a_database_that_is_not_sqlite_is_a_clear_error(tmp_path: Path) -> None:
    Node.open(tmp_path / "p").close()
    (tmp_path / "p" / "profile.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(ProfileError, match="cannot open"):
        Node.open(tmp_path / "p")
