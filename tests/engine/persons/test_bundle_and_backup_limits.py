"""Limits of the person's bundle and backup that must not bite the person
(review of issue 19, findings 8, 9a, 9b): a thread with more than 1024
epochs still goes into a bundle; an export never writes through a link
planted in the folder; a certificate the device book has no room for is
refused, not handed out unrecorded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import trio

from tests.engine.persons.test_two_devices import OpenNode
from threads_desktop.engine.acl.devices import MAX_DEVICES
from threads_desktop.engine.core.errors import InvalidInputError
from threads_desktop.engine.core.ids import ThreadId, ThreadVariant
from threads_desktop.engine.core.keys import SigningKey, ThreadKey
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.persons.backup import open_backup
from threads_desktop.engine.persons.bundle import BundleThread, PersonBundle
from threads_desktop.engine.persons.flows import export_backup


def test_a_thread_of_more_than_a_thousand_epochs_goes_into_a_bundle() -> None:
    keys = tuple(ThreadKey(os.urandom(32), os.urandom(32), epoch=e) for e in range(1500))
    thread = BundleThread(ThreadId.from_random(ThreadVariant.ACCESS_CONTROLLED, os.urandom(32)), None, None, keys)
    bundle = PersonBundle(person_seed=bytes(32), name=None, devices=(), threads=(thread,))

    assert len(PersonBundle.from_bytes(bundle.to_bytes()).threads[0].keys) == 1500


def test_an_export_never_writes_through_a_link_planted_at_the_staging_name(
        open_node: OpenNode, tmp_path: Path) -> None:
    laptop = open_node("laptop")
    laptop.create_thread(ThreadKind.CHAT, "Notes")
    victim = tmp_path / "victim.txt"
    victim.write_text("mine")
    path = tmp_path / "alice.threads-backup"
    os.symlink(victim, path.with_name(f".{path.name}.{os.getpid()}.part"))  # where the export used to stage

    trio.run(export_backup, laptop, path, "correct horse battery staple")

    assert victim.read_text() == "mine"
    assert not path.is_symlink()
    assert PersonBundle.from_bytes(open_backup(path.read_bytes(), "correct horse battery staple")).threads


def test_a_certificate_the_device_book_has_no_room_for_is_refused(open_node: OpenNode) -> None:
    laptop = open_node("laptop")
    for n in range(MAX_DEVICES):  # the laptop is the first device: no certificate, no row of its own
        laptop.persons.issue_cert(SigningKey.generate().peer_id, f"device {n}")
    one_too_many = SigningKey.generate().peer_id

    with pytest.raises(InvalidInputError):
        laptop.persons.issue_cert(one_too_many, "one too many")

    assert str(one_too_many) not in {d.device_id for d in laptop.persons.devices()}
