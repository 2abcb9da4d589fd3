"""The issue's scenarios with every peer a separate `serve` process on
127.0.0.1, driven through the CLI (which reaches each served profile over
its control socket), as a user or a script would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.served import ServedPeer, cli, cli_json, eventually
from tests.engine.modules.images import image_bytes


def _photos(folder: Path, count: int, *, start: int = 0, size: tuple[int, int] = (640, 480)) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + count):
        path = folder / f"photo{i:03}.jpg"
        # A distinct size per photo: nearby seeds can JPEG-compress alike.
        path.write_bytes(image_bytes("JPEG", size=(size[0] + i, size[1]), seed=i))
        paths.append(str(path))
    return paths


def _view(data_dir: Path, thread: str) -> list[Any]:
    """What a user sees of a thread, without who-is-me details."""
    items = cli_json(data_dir, "show", thread)["items"]
    for item in items:
        item.pop("original_here", None)
    return sorted(items, key=lambda i: i.get("id", ""))


def _texts(data_dir: Path, thread: str) -> list[str]:
    return sorted(i["text"] for i in cli_json(data_dir, "show", thread)["items"])


def test_two_peers_share_an_album_and_a_chat_and_converge_after_offline_edits(tmp_path: Path) -> None:
    a, b = ServedPeer(tmp_path / "a"), ServedPeer(tmp_path / "b")
    album = cli(a.data_dir, "create", "album", "Holiday").stdout.strip()
    chat = cli(a.data_dir, "create", "chat", "Us").stdout.strip()
    a.start()
    b.start()
    try:
        for thread in (album, chat):
            link = cli(a.data_dir, "invite", thread, "--role", "write").stdout.strip()
            assert "addr=/ip4/127.0.0.1/" in link
            cli(b.data_dir, "join", link)
        cli(a.data_dir, "add", album, *_photos(tmp_path / "from_a", 2))
        cli(b.data_dir, "add", album, *_photos(tmp_path / "from_b", 1, start=10))
        cli(a.data_dir, "say", chat, "hello from a")
        cli(b.data_dir, "say", chat, "hello from b")
        eventually(lambda: len(_view(b.data_dir, album)) == 3 and len(_view(a.data_dir, album)) == 3)
        eventually(lambda: _texts(a.data_dir, chat) == _texts(b.data_dir, chat) == ["hello from a", "hello from b"])
        eventually(lambda: all(i["original_here"] for i in cli_json(b.data_dir, "show", album)["items"]))
        assert a.stop() == 0 and b.stop() == 0
        # Both offline: each edits on its own.
        cli(a.data_dir, "say", chat, "a, offline")
        cli(b.data_dir, "say", chat, "b, offline")
        cli(b.data_dir, "add", album, *_photos(tmp_path / "offline_b", 1, start=20))
        a.start()
        b.start()
        eventually(lambda: _view(a.data_dir, album) == _view(b.data_dir, album) and len(_view(a.data_dir, album)) == 4)
        eventually(lambda: _texts(a.data_dir, chat) == _texts(b.data_dir, chat)
                   == ["a, offline", "b, offline", "hello from a", "hello from b"])
    finally:
        a.kill()
        b.kill()


def test_a_reader_gets_fifty_photos_from_the_follower_alone(tmp_path: Path) -> None:
    writer, follower, reader = (ServedPeer(tmp_path / n) for n in ("writer", "follower", "reader"))
    album = cli(writer.data_dir, "create", "album", "Backup me").stdout.strip()
    for peer in (writer, follower, reader):
        peer.start()
    try:
        cli(follower.data_dir, "join", cli(writer.data_dir, "invite", album, "--role", "follow").stdout.strip())
        cli(reader.data_dir, "join", cli(writer.data_dir, "invite", album, "--role", "read").stdout.strip())
        eventually(lambda: len(cli_json(writer.data_dir, "members", album)["members"]) == 3)
        eventually(lambda: cli_json(reader.data_dir, "show", album)["thread"]["name"] == "Backup me")
        # Before it goes offline the reader has heard of the follower (from the
        # writer's heads, or the follower's own hello), as a reader online for
        # a while would: that is how it finds it later with the writer gone.
        eventually(lambda: _knows(reader.data_dir, follower.peer_id))
        assert reader.stop() == 0
        cli(writer.data_dir, "add", album, *_photos(tmp_path / "fifty", 50, size=(320, 240)))
        # The follower holds every record and block of the writer (it reads none of them).
        writer_logs = cli_json(writer.data_dir, "ls")[0]["events"]
        eventually(lambda: cli_json(follower.data_dir, "ls")[0]["events"] == writer_logs, timeout=90)
        eventually(lambda: _blocks(follower.data_dir) >= _blocks(writer.data_dir), timeout=90)
        assert writer.stop() == 0
        reader.start()
        eventually(lambda: len(_view(reader.data_dir, album)) == 50, timeout=90)
        eventually(lambda: all(i["original_here"] for i in cli_json(reader.data_dir, "show", album)["items"]),
                   timeout=90, peers=(reader, follower))
        writer.start()  # only to compare views
        assert _view(reader.data_dir, album) == _view(writer.data_dir, album)
    finally:
        for peer in (writer, follower, reader):
            peer.kill()


def _knows(data_dir: Path, peer_id: str) -> bool:
    import sqlite3

    from threads_desktop.engine.core.ids import PeerId

    with sqlite3.connect(f"file:{data_dir / 'profile.sqlite3'}?mode=ro", uri=True) as sql:
        return sql.execute("SELECT 1 FROM thread_peers WHERE peer_id = ?",
                           (PeerId.parse(peer_id).raw,)).fetchone() is not None


def _blocks(data_dir: Path, priority: int | None = None) -> int:
    """Photo blocks held (of previews: priority 0, of originals: 1)."""
    import sqlite3

    # Read-only look at the file the served process writes (WAL lets readers in).
    with sqlite3.connect(f"file:{data_dir / 'profile.sqlite3'}?mode=ro", uri=True) as sql:
        if priority is None:
            return int(sql.execute("SELECT count(*) FROM thread_blocks").fetchone()[0])
        return int(sql.execute("SELECT count(*) FROM thread_blocks WHERE priority = ?", (priority,)).fetchone()[0])


def test_a_served_profile_fetches_only_previews_of_an_album_joined_by_cli_when_it_chose_so(tmp_path: Path) -> None:
    """The originals choice belongs to the profile: made in the app, it holds
    for `serve` and for an album joined by a CLI command, with no window
    running to push it into the new thread."""
    from threads_desktop.engine.core.types import FetchOriginals
    from threads_desktop.engine.node import Node

    writer, reader = ServedPeer(tmp_path / "writer"), ServedPeer(tmp_path / "reader")
    chooser = Node.open(reader.data_dir)  # what the app's Settings dialog does
    chooser.set_fetch_originals(FetchOriginals.ON_DEMAND)
    chooser.close()
    album = cli(writer.data_dir, "create", "album", "Trip").stdout.strip()
    cli(writer.data_dir, "add", album, *_photos(tmp_path / "pics", 3))
    for peer in (writer, reader):
        peer.start()
    try:
        cli(reader.data_dir, "join", cli(writer.data_dir, "invite", album, "--role", "read").stdout.strip())
        previews = _blocks(writer.data_dir, priority=0)
        eventually(lambda: _blocks(reader.data_dir, priority=0) == previews, peers=(writer, reader))
        assert len(_view(reader.data_dir, album)) == 3
        assert not any(i["original_here"] for i in cli_json(reader.data_dir, "show", album)["items"])
        assert _blocks(reader.data_dir, priority=1) == 0
    finally:
        for peer in (writer, reader):
            peer.kill()
