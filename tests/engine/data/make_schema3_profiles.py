"""How tests/engine/data/schema3/ was made: run once with the code of commit
0041ea3 (schema 3, the version before the migrations), which the tests then
open with today's code. Kept as the record of what the profiles hold, not to
be run again (today's code writes schema 4 and later).

- reader: a member of a's chat holding an event sealed with a key epoch it does
  not hold yet (waiting, unreadable), and an album of its own with one photo;
- follower: follows a's chat, so it stores events it cannot open (opaque);
- a: the chat's founder, to write more after the migration; and new-key.hex,
  the key epoch the reader does not hold yet.

Each profile is its master key and an SQL dump of its database (text:
reviewable, and a few KiB where the file itself is hundreds).
"""

from __future__ import annotations

import io
import os
import sqlite3
import sys
import tempfile
from pathlib import Path

from PIL import Image

from tests.engine.eventstore.peers import join, message_id, start_thread, sync
from threads_desktop.engine.core.keys import ThreadKey
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.db.documents import db_event
from threads_desktop.engine.node import Node


def _dump(node: Node, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    directory = node.profile.directory
    (out / "master.key").write_bytes((directory / "master.key").read_bytes())
    node.close()
    connection = sqlite3.connect(directory / "profile.sqlite3")
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    assert version == 3, version
    (out / "profile.sql").write_text("\n".join(connection.iterdump()) + "\n")
    connection.close()


def main(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        a, reader, follower = (Node.open(Path(folder) / name) for name in ("a", "reader", "follower"))
        chat = start_thread(a, ThreadKind.CHAT, "Us")
        join(a, reader, chat)
        a.chat(chat).post("before the new key")
        follower.membership.join(__import__("threads_desktop.engine.acl.links", fromlist=["InviteLink"])
                                 .InviteLink.parse(a.membership.invite(chat, Role.FOLLOW).to_uri()))
        sync(a, follower, chat)
        sync(follower, a, chat)
        new_key = ThreadKey(a.store.thread_keys(chat)[0].follow, os.urandom(32), epoch=1)
        a.add_thread_key(chat, new_key)
        a.commit(chat, [db_event({"op": "create", "c": "message", "id": message_id(a, chat, 1),
                                  "set": {"text": "under the new key"}})], key=new_key)
        sync(a, reader, chat)
        sync(a, follower, chat)
        album = start_thread(reader, ThreadKind.ALBUM, "Trip")
        picture = io.BytesIO()
        Image.new("RGB", (64, 48), (200, 120, 40)).save(picture, "JPEG")
        photo = Path(folder) / "beach.jpg"
        photo.write_bytes(picture.getvalue())
        reader.photos(album).add_files([photo])
        assert reader.events.waiting_count(chat) == 1
        (target / "new-key.hex").write_text(f"{new_key.follow.hex()} {(new_key.read or b'').hex()} {new_key.epoch}\n")
        _dump(a, target / "a")
        _dump(reader, target / "reader")
        _dump(follower, target / "follower")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
