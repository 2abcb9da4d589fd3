"""A served profile keeps syncing and answering while it imports: the
photos are prepared off the engine thread (Photos.import_files), so a
forwarded `add` of hundreds of photos holds neither the network nor other
commands."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

from tests.e2e.served import ServedPeer, cli, eventually
from tests.engine.modules.images import image_bytes
from threads_desktop.control_socket import CONTROL_SOCKET_NAME, ControlReply, call_control_socket
from threads_desktop.engine.profile import DATABASE_NAME

PHOTOS = 300
LATE_SECONDS = 1.0  # the most a peer's message or an `ls` may wait behind the import
STEP_SECONDS = 0.02


def _command(peer: ServedPeer, *argv: str) -> ControlReply:
    """A command through the control socket, as the CLI forwards it, without
    the CLI process' start-up in the measurement."""
    reply = call_control_socket(peer.data_dir / CONTROL_SOCKET_NAME, argv, timeout=60.0)
    assert reply.exit_code == 0, reply.stderr
    return reply


def _photo_count(peer: ServedPeer, album: str) -> int:
    return len(json.loads(_command(peer, "show", album, "--json").stdout)["items"])


def _blocks_stored(peer: ServedPeer) -> int:
    """Whether the import has stored photos yet, read from the profile's
    SQLite file by a connection of our own (WAL: a reader never waits on
    the writer), so asking does not wait on the busy process."""
    with closing(sqlite3.connect(peer.data_dir / DATABASE_NAME, timeout=10)) as db:
        return int(db.execute("SELECT count(*) FROM thread_blocks").fetchone()[0])


def _texts(peer: ServedPeer, chat: str) -> list[str]:
    return [item["text"] for item in json.loads(_command(peer, "show", chat, "--json").stdout)["items"]]


def test_a_served_profile_applies_a_peers_message_and_answers_ls_within_a_second_while_importing(
        tmp_path: Path) -> None:
    folder = tmp_path / "camera"
    folder.mkdir()
    for i in range(PHOTOS):  # a distinct size per photo: nearby seeds can JPEG-compress alike
        (folder / f"IMG_{i:04}.jpg").write_bytes(image_bytes("JPEG", size=(640 + i, 480), seed=i))
    a, b = ServedPeer(tmp_path / "a"), ServedPeer(tmp_path / "b")
    album = cli(a.data_dir, "create", "album", "Archive").stdout.strip()
    chat = cli(a.data_dir, "create", "chat", "Us").stdout.strip()
    a.start()
    b.start()
    adding: subprocess.Popen[str] | None = None
    try:
        cli(b.data_dir, "join", cli(a.data_dir, "invite", chat, "--role", "write").stdout.strip())
        # A join returns before the chat's first events arrive: until then b cannot tell it is a chat.
        eventually(lambda: json.loads(_command(b, "show", chat, "--json").stdout)["thread"]["kind"] == "chat",
                   peers=(a, b))
        _command(b, "say", chat, "before")
        eventually(lambda: _texts(a, chat) == ["before"], peers=(a, b))  # the two are connected

        adding = subprocess.Popen([sys.executable, "-m", "threads_desktop", "--data-dir", str(a.data_dir), "add",
                                   album, str(folder)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        eventually(lambda: _blocks_stored(a) > 0 or adding.poll() is not None, every=0.05, peers=(a,))
        assert adding.poll() is None, "the import ended before it could be measured"

        ls_seconds: list[float] = []

        def timed_ls() -> None:
            started = time.monotonic()
            assert _command(a, "ls").stdout.count("\n") == 2  # the album and the chat
            ls_seconds.append(time.monotonic() - started)

        lister = threading.Thread(target=timed_ls)
        lister.start()  # at the same time as the message
        _command(b, "say", chat, "during")
        said = time.monotonic()
        eventually(lambda: "during" in _texts(a, chat), timeout=60, every=STEP_SECONDS, peers=(a, b))
        message_seconds = time.monotonic() - said
        lister.join(60)
        still_importing = adding.poll() is None
        print(f"\nwhile importing {PHOTOS} photos: ls answered in {ls_seconds[0]:.2f} s, "
              f"a peer's message was applied in {message_seconds:.2f} s")

        out, err = adding.communicate(timeout=300)
        assert adding.returncode == 0, err
        assert len(out.split()) == PHOTOS and _photo_count(a, album) == PHOTOS
    finally:
        if adding is not None and adding.poll() is None:
            adding.kill()
            adding.wait(timeout=30)
        a.kill()
        b.kill()
    assert ls_seconds[0] < LATE_SECONDS
    assert message_seconds < LATE_SECONDS
    assert still_importing, "the import ended before the message was applied: nothing was measured"
