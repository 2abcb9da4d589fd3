"""What the user may name as a relay: a peer's address ending in its ID,
`/ip4|ip6|dns|dns4|dns6/HOST/tcp/PORT/p2p/ID`. Checked before it is stored
(Settings, `threads-desktop relay add`), with a message in the user's words."""

from __future__ import annotations

import ipaddress

import multiaddr

from threads_desktop.engine.core.errors import InvalidIdError, InvalidInputError
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.logstore.local_settings import MAX_RELAY_ADDRESS_CHARS

_HOSTS = ("ip4", "ip6", "dns", "dns4", "dns6")
_EXAMPLE = "/ip4/203.0.113.5/tcp/4141/p2p/ followed by the relay's ID."


def check_relay_address(text: str) -> tuple[str, PeerId]:
    """The address in its canonical spelling and the relay's peer ID;
    InvalidInputError saying what is wrong otherwise."""
    text = text.strip() if isinstance(text, str) else ""
    if not text:
        raise InvalidInputError("Type the relay's address. One looks like " + _EXAMPLE)
    if len(text) > MAX_RELAY_ADDRESS_CHARS:
        raise InvalidInputError(f"That address is too long (at most {MAX_RELAY_ADDRESS_CHARS} characters).")
    try:
        address = multiaddr.Multiaddr(text)
        parts = [(p.name, address.value_for_protocol(p.code)) for p in address.protocols()]
    except Exception:  # noqa: BLE001 - the parser raises several types
        raise InvalidInputError("That is not a relay address. One looks like " + _EXAMPLE) from None
    names = [name for name, _value in parts]
    if len(parts) != 3 or names[0] not in _HOSTS or names[1] != "tcp" or names[2] != "p2p":
        raise InvalidInputError("A relay address is a host, a TCP port and the relay's ID, like " + _EXAMPLE)
    host, port, peer_text = (str(value) for _name, value in parts)
    if names[0] in ("ip4", "ip6") and ipaddress.ip_address(host).is_unspecified:
        raise InvalidInputError(f"{host} is not an address others can reach: give the relay's own address.")
    if not 1 <= int(port) <= 65535:
        raise InvalidInputError("The port of a relay address is between 1 and 65535.")
    try:
        peer = PeerId.parse(peer_text)
    except InvalidIdError:
        raise InvalidInputError("The ID at the end of that address is not a Threads peer ID.") from None
    return str(address), peer
