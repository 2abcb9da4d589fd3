"""Issue 15 end to end, in the lab, with real `threads-desktop serve` peers
and the real CLI: friends behind different home routers share an album by
link, with no company server.

F runs on the public host (a follower the user runs on a server) and is A's
relay (`relay add`); it backs up A's album. A, behind router 1, invites B,
behind router 2, by link: the link carries A's relayed address, so B needs
no setting at all. B sees the photos, originals included; B adds one and A
sees it. F restarts midway; where the routers let the two punch a direct
connection, A and B carry on with F gone.
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from PIL import Image

from threads_desktop.bench.lab import GLOBAL_LOOKING, Home, Lab, Peer, home_networks
from threads_desktop.bench.netns import stop_process

STEP_SECONDS = 90.0  # any one step: a reservation, a join, photos crossing (a punch missed 45 s under load)
POLL_SECONDS = 0.25
PHOTOS = 3
T = TypeVar("T")


def poll(what: str, probe: Callable[[], T | None], peers: list[Peer], seconds: float = STEP_SECONDS) -> T:
    end = time.monotonic() + seconds
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > end:
            pytest.fail(f"{what}: not within {seconds:g} s\n" + "\n".join(p.log(25) for p in peers))
        time.sleep(POLL_SECONDS)


def photo_files(folder: Path, count: int, start: int = 0) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(start, start + count):
        buffer = io.BytesIO()
        Image.frombytes("RGB", (320, 240), os.urandom(320 * 240 * 3)).save(buffer, "JPEG", quality=85)
        path = folder / f"photo-{number}.jpg"
        path.write_bytes(buffer.getvalue())
        paths.append(str(path))
    return paths


class Friends:
    """F (public follower and relay), A and B (behind routers 1 and 2)."""

    def __init__(self, lab: Lab, root: Path) -> None:
        self.lab, self.root = lab, root
        [self.a_host], [self.b_host] = (router.hosts for router in lab.routers)
        self.f = self._serve("F", lab.pub)
        self.a = self._serve("A", self.a_host)
        self.b = self._serve("B", self.b_host)

    @property
    def peers(self) -> list[Peer]:
        return [self.f, self.a, self.b]

    def _serve(self, name: str, host: Any) -> Peer:
        peer = self.lab.serve(host, self.root / name, "--no-mdns", "--pull-interval", "5")
        peer.ready()
        return peer

    def restart_f(self) -> None:
        stop_process(self.f.process)
        self.f = self._serve("F", self.lab.pub)

    def cli(self, peer: Peer, *args: str, timeout: float = STEP_SECONDS, expect: int = 0) -> str:
        assert peer.node is not None and peer.data_dir is not None
        return self.lab.cli(peer.node, peer.data_dir, *args, timeout=timeout, expect=expect)

    def json(self, peer: Peer, *args: str) -> Any:
        return json.loads(self.cli(peer, *args, "--json"))

    def photos(self, peer: Peer, album: str) -> list[dict[str, Any]]:
        try:
            return list(self.json(peer, "show", album)["items"])
        except AssertionError:  # not joined yet, as far as the records go
            return []

    def connection(self, of: Peer, to: Peer) -> str | None:
        to_id = to.ready()["serving"]
        for peer in self.json(of, "peers")["peers"]:
            if peer["peer_id"] == to_id:
                return str(peer["connection"])
        return None


@pytest.fixture
def friends(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Friends]:
    a_kind, b_kind = request.param
    with home_networks(Home(a_kind), Home(b_kind), prefixes=GLOBAL_LOOKING, ipv6=False) as lab:
        yield Friends(lab, tmp_path)


def share_album(friends: Friends) -> str:
    """A's album with PHOTOS photos, backed up by F, which A uses as relay;
    B joined by A's link (once it carries A's relayed address). Returns the album."""
    a, b, f = friends.a, friends.b, friends.f
    f_address = next(x for x in f.ready()["addresses"] if f"/ip4/{friends.lab.pub.ip}/" in x)
    friends.cli(a, "relay", "add", f_address)
    album = friends.cli(a, "create", "album", "Lisbon").strip()
    friends.cli(a, "add", album, *photo_files(friends.root / "photos", PHOTOS))
    # --wait 0: the join goes on in the served profile (exit 75: still waiting).
    friends.cli(f, "join", friends.cli(a, "invite", album, "--role", "follow").strip(), "--wait", "0", expect=75)

    def relayed_link() -> str | None:
        if not any("/p2p-circuit" in x for x in friends.json(a, "id")["addresses"]):
            return None
        return friends.cli(a, "invite", album, "--role", "write").strip()

    link = poll("A holds a reservation on F", relayed_link, friends.peers)
    assert "p2p-circuit" in link or "%2Fp2p-circuit" in link  # B needs no setting: the link says how
    friends.cli(b, "join", link, "--wait", "0", expect=75)
    return album


def originals_everywhere(friends: Friends, album: str, count: int) -> None:
    """A and B each hold `count` photos, every original included."""
    for name, peer in (("A", friends.a), ("B", friends.b)):
        def complete(peer: Peer = peer) -> bool | None:
            items = friends.photos(peer, album)
            return (len(items) == count and all(i["original_here"] for i in items)) or None

        poll(f"{count} photos with their originals on {name}", complete, friends.peers)


ROUTER_PAIRS = [("port_preserving", "port_preserving"), ("port_remapping", "port_remapping"),
                ("symmetric", "symmetric")]


@pytest.mark.parametrize("friends", ROUTER_PAIRS, indirect=True, ids=lambda p: "-".join(p))
def test_friends_behind_two_home_routers_share_an_album_by_link(friends: Friends) -> None:
    a, b = friends.a, friends.b
    album = share_album(friends)
    originals_everywhere(friends, album, PHOTOS)

    friends.cli(b, "add", album, *photo_files(friends.root / "from-b", 1, start=100))
    originals_everywhere(friends, album, PHOTOS + 1)

    # F restarts midway: A reserves again and the album keeps moving.
    friends.restart_f()
    friends.cli(a, "add", album, *photo_files(friends.root / "more", 1, start=200))
    originals_everywhere(friends, album, PHOTOS + 2)

    a_kind, b_kind = friends.lab.routers[0].kind, friends.lab.routers[1].kind
    if "symmetric" in (a_kind, b_kind):
        # No punch gets through a symmetric NAT: whenever B and A are
        # connected (B pulls from A every few seconds), it is through F.
        def connected() -> str | None:
            kind = friends.connection(b, a)
            return kind if kind in ("relay", "internet") else None

        assert poll("B connected to A", connected, friends.peers) == "relay"
        return
    # Endpoint-independent routers on both sides: the relayed connection is
    # upgraded to a direct one, and A and B carry on without F.
    poll("a direct connection between A and B", lambda: friends.connection(b, a) == "internet" or None,
         friends.peers)
    stop_process(friends.f.process)
    friends.cli(b, "add", album, *photo_files(friends.root / "without-f", 1, start=300))
    originals_everywhere(friends, album, PHOTOS + 3)


@pytest.mark.parametrize("friends", [("upnp", "symmetric")], indirect=True, ids=lambda p: "-".join(p))
def test_behind_a_upnp_router_a_friend_dials_directly(friends: Friends) -> None:
    a, b = friends.a, friends.b
    album = share_album(friends)
    originals_everywhere(friends, album, PHOTOS)
    # A's router mapped its port and F dialled it back there, so A's links
    # name the mapping. B sits behind a symmetric NAT, where no punch can
    # work: a direct connection can only be B dialling A's mapped address.
    assert poll("B's direct connection to A", lambda: friends.connection(b, a) == "internet" or None,
                friends.peers)
    stop_process(friends.f.process)
    friends.cli(b, "add", album, *photo_files(friends.root / "from-b", 1, start=100))
    originals_everywhere(friends, album, PHOTOS + 1)
