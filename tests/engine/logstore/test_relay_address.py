"""What the user may name as a relay: checked before it is stored, with a
message in the user's words for anything else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from threads_desktop.engine.core.errors import InvalidInputError
from threads_desktop.engine.core.keys import SigningKey
from threads_desktop.engine.logstore.relay_address import check_relay_address


def test_a_host_port_and_peer_id_is_a_relay_address() -> None:
    who = SigningKey.generate().peer_id
    for text in (f"/ip4/203.0.113.5/tcp/4141/p2p/{who}", f" /ip6/2001:db8::5/tcp/4141/p2p/{who}\n",
                 f"/dns4/relay.example.org/tcp/443/p2p/{who}", f"/dns/relay.example.org/tcp/1/p2p/{who}"):
        address, peer = check_relay_address(text)
        assert peer == who and address == text.strip()


@pytest.mark.parametrize(("text", "says"), [
    ("", "Type the relay's address"),
    ("relay.example.org:4141", "not a relay address"),
    ("/ip4/203.0.113.5/tcp/4141", "a host, a TCP port and the relay's ID"),
    ("/ip4/203.0.113.5/udp/4141/p2p/{who}", "a host, a TCP port and the relay's ID"),
    ("/ip4/203.0.113.5/tcp/4141/p2p/{who}/p2p-circuit", "a host, a TCP port and the relay's ID"),
    ("/ip4/0.0.0.0/tcp/4141/p2p/{who}", "not an address others can reach"),
    ("/ip6/::/tcp/4141/p2p/{who}", "not an address others can reach"),
    ("/ip4/203.0.113.5/tcp/0/p2p/{who}", "between 1 and 65535"),
    ("/ip4/203.0.113.5/tcp/4141/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N", "not a Threads peer ID"),
    ("/ip4/203.0.113.5/tcp/4141/p2p/{who}" + "x" * 200, "too long"),
])
def test_anything_else_is_refused_saying_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(InvalidInputError, match=says):
        check_relay_address(text.replace("{who}", str(SigningKey.generate().peer_id)))


def _accepted_or_clearly_refused(text: str) -> None:
    try:
        address, _peer = check_relay_address(text)
    except InvalidInputError as exc:
        assert str(exc) and "Traceback" not in str(exc)
    else:
        assert check_relay_address(address)[0] == address  # the canonical spelling is stable


@given(st.text(max_size=300))
def test_any_text_is_a_relay_address_or_a_clear_refusal(text: str) -> None:
    _accepted_or_clearly_refused(text)


_PARTS = st.sampled_from(["ip4", "ip6", "dns", "dns4", "tcp", "udp", "p2p", "p2p-circuit", "0.0.0.0", "::1",
                          "1.2.3.4", "4141", "99999", str(SigningKey.generate().peer_id)])


@given(st.lists(_PARTS | st.text(max_size=12), max_size=8))
def test_address_like_text_is_a_relay_address_or_a_clear_refusal(parts: list[str]) -> None:
    _accepted_or_clearly_refused("/" + "/".join(parts))
