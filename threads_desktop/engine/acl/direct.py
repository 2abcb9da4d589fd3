"""Direct invites: an invite link sealed to one known peer's X25519 key and
signed by the inviter's identity, so the invitee sees who invites it to what,
and accepts or declines. (Sync carries the sealed bytes to the peer.)"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from threads_desktop.engine.acl.control_ops import verify
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.codec import cbor
from threads_desktop.engine.core.errors import SchemaError
from threads_desktop.engine.core.ids import PeerId
from threads_desktop.engine.core.keys import Identity
from threads_desktop.engine.crypto.sealedbox import open_sealed_box, seal_to

_DOMAIN = "threads/1/direct-invite"
MAX_DIRECT_INVITE_BYTES = 4096


@dataclass(frozen=True, slots=True)
class DirectInvite:
    sender: str
    link: InviteLink


def _message(sender: PeerId, recipient: PeerId, link_text: str) -> bytes:
    return cbor.encode([_DOMAIN, sender.raw, recipient.raw, link_text])


def seal_direct_invite(sender: Identity, recipient: PeerId, recipient_exchange: bytes, link: InviteLink) -> bytes:
    text = link.to_uri()
    signature = sender.signing.sign(_message(sender.peer_id, recipient, text))
    return seal_to(recipient_exchange, cbor.encode({"from": sender.peer_id.raw, "link": text, "sig": signature}))


def open_direct_invite(recipient: Identity, sealed: bytes) -> DirectInvite:
    """Raises an InvalidInputError (DecryptionError, SignatureError,
    InvalidLinkError...) for anything but a well-formed invite to us."""
    if len(sealed) > MAX_DIRECT_INVITE_BYTES:
        raise SchemaError("a direct invite is at most 4 KiB")
    value: Any = cbor.decode(open_sealed_box(recipient.exchange, sealed), max_size=MAX_DIRECT_INVITE_BYTES)
    if not isinstance(value, dict) or set(value) != {"from", "link", "sig"} or not isinstance(value["from"], bytes) \
            or not isinstance(value["link"], str) or not isinstance(value["sig"], bytes):
        raise SchemaError("a direct invite holds from, link and sig")
    sender = PeerId(value["from"])
    verify(sender.public_key, value["sig"], _message(sender, recipient.peer_id, value["link"]), "direct invite")
    return DirectInvite(str(sender), InviteLink.parse(value["link"]))
