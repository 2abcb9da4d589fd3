"""`threads-desktop peers` and `relay add|remove|list`: run directly on a
profile, and forwarded to the process serving it (a real served profile
with a real peer on 127.0.0.1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio

from tests.engine.net.running import serving, wait_until
from tests.test_cli import run
from threads_desktop.cli.commands import forwarding_handler
from threads_desktop.control_socket import CONTROL_SOCKET_NAME, ControlReply, call_control_socket
from threads_desktop.engine.core.keys import SigningKey
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.node import Node
from threads_desktop.serving import ServedProfile


def _ask(node: Node, *argv: str) -> ControlReply:
    return call_control_socket(node.profile.directory / CONTROL_SOCKET_NAME, list(argv), timeout=30)


def test_relays_are_added_listed_and_removed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile = str(tmp_path / "p")
    relay = f"/ip4/203.0.113.5/tcp/4141/p2p/{SigningKey.generate().peer_id}"
    assert run(capsys, "--data-dir", profile, "relay", "add", relay) == (0, relay + "\n", "")
    code, out, _ = run(capsys, "--data-dir", profile, "relay", "list", "--json")
    assert code == 0 and json.loads(out) == [relay]
    assert run(capsys, "--data-dir", profile, "relay", "list")[1] == relay + "\n"
    assert run(capsys, "--data-dir", profile, "relay", "remove", relay)[0] == 0
    code, _, err = run(capsys, "--data-dir", profile, "relay", "remove", relay)
    assert code == 1 and "not in the list" in err
    assert json.loads(run(capsys, "--data-dir", profile, "relay", "list", "--json")[1]) == []


@pytest.mark.parametrize(("address", "says"), [
    ("relay.example.org:4141", "not a relay address"),
    ("/ip4/203.0.113.5/tcp/4141", "the relay's ID"),
    ("/ip4/0.0.0.0/tcp/4141/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA", "not an address others"),
])
def test_a_bad_relay_address_is_refused_in_plain_words_and_nothing_is_stored(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], address: str, says: str) -> None:
    profile = str(tmp_path / "p")
    code, out, err = run(capsys, "--data-dir", profile, "relay", "add", address)
    assert code == 1 and out == "" and says in err and "Traceback" not in err
    assert json.loads(run(capsys, "--data-dir", profile, "relay", "list", "--json")[1]) == []


def test_peers_lists_nobody_before_anything_is_shared(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--data-dir", str(tmp_path / "p"), "peers", "--json")
    assert code == 0 and json.loads(out) == {"online": False, "reachability": None, "peers": []}
    code, out, err = run(capsys, "--data-dir", str(tmp_path / "p"), "peers")
    assert code == 0 and out == "" and "not online" in err and "no peers yet" in err


def test_peers_and_relay_forwarded_to_the_serving_process_tell_of_a_connected_peer(tmp_path: Path) -> None:
    a, b = Node.open(tmp_path / "a"), Node.open(tmp_path / "b")
    b.set_display_name("Bea")
    album = a.create_thread(ThreadKind.ALBUM, "Garden").thread_id
    served = ServedProfile(listen=["/ip4/127.0.0.1/tcp/0"], lan_discovery=False, commands=forwarding_handler)
    relay = f"/ip4/203.0.113.5/tcp/4141/p2p/{SigningKey.generate().peer_id}"

    async def main() -> list[ControlReply]:
        async with trio.open_nursery() as nursery:
            await nursery.start(served.run, a)
            async with serving(b):
                b.join(a.invite(album, Role.WRITE))
                await wait_until(a, lambda: any(d.name == "Bea" and d.threads[0].in_sync for d in a.devices()))
                replies = [await trio.to_thread.run_sync(_ask, a, *argv) for argv in (
                    ["peers", "--json"], ["peers"], ["relay", "add", relay], ["relay", "add", "nonsense"],
                    ["relay", "list", "--json"])]
            nursery.cancel_scope.cancel()
        return replies

    try:
        peers_json, peers_text, added, refused, listed = trio.run(main)
    finally:
        a.close()
        b.close()
    assert peers_json.exit_code == 0, peers_json.stderr
    listing = json.loads(peers_json.stdout)
    assert listing["online"] is True
    [bea] = listing["peers"]
    assert (bea["peer_id"], bea["name"], bea["connection"], bea["last_seen"]) == (
        str(b.identity.peer_id), "Bea", "same_network", None)
    [garden] = bea["threads"]
    assert (garden["name"], garden["kind"], garden["in_sync"], garden["transfer"]) == ("Garden", "album", True, None)
    assert peers_text.stdout.splitlines() == ["Bea  same network", "    Garden: in sync"]
    assert (added.exit_code, added.stdout) == (0, relay + "\n")
    assert refused.exit_code == 1 and "not a relay address" in refused.stderr
    assert json.loads(listed.stdout) == [relay]
