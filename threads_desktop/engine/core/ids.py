"""Thread IDs and libp2p peer IDs (identities and logs), parsed strictly."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import base58

from threads_desktop.engine.core.errors import InvalidIdError
from threads_desktop.engine.core.multibase import decode_base32, encode_base32

THREAD_ID_VERSION = 1
THREAD_ID_RANDOM_LENGTH = 32

# libp2p's protobuf PublicKey {Type: Ed25519 (1), Data: 32 bytes}, and the
# identity multihash that wraps keys of up to 42 bytes: this is how libp2p
# turns an Ed25519 key into a peer ID ("12D3KooW...").
_ED25519_PROTOBUF_PREFIX = b"\x08\x01\x12\x20"
_IDENTITY_MULTIHASH_PREFIX = b"\x00\x24"
PEER_ID_LENGTH = 2 + 4 + 32


class ThreadVariant(enum.IntEnum):
    RAW = 0x55
    ACCESS_CONTROLLED = 0x70


@dataclass(frozen=True, slots=True)
class ThreadId:
    """`uvarint(1) || uvarint(variant) || 32 random bytes`."""

    raw: bytes

    def __post_init__(self) -> None:
        # Both varints are below 0x80, so each is exactly one byte.
        if (
            len(self.raw) != 2 + THREAD_ID_RANDOM_LENGTH
            or self.raw[0] != THREAD_ID_VERSION
            or self.raw[1] not in ThreadVariant._value2member_map_
        ):
            raise InvalidIdError("not a version 1 thread ID of a known variant")

    @classmethod
    def from_random(cls, variant: ThreadVariant, random32: bytes) -> ThreadId:
        if len(random32) != THREAD_ID_RANDOM_LENGTH:
            raise InvalidIdError("a thread ID needs 32 random bytes")
        return cls(bytes([THREAD_ID_VERSION, int(variant)]) + random32)

    @classmethod
    def parse(cls, text: str) -> ThreadId:
        return cls(decode_base32(text, "thread ID"))

    def __repr__(self) -> str:
        return f"ThreadId({self})"

    @property
    def variant(self) -> ThreadVariant:
        return ThreadVariant(self.raw[1])

    def __str__(self) -> str:
        return encode_base32(self.raw)


@dataclass(frozen=True, slots=True)
class PeerId:
    """A libp2p peer ID of an Ed25519 key: identity multihash of its protobuf."""

    raw: bytes

    def __post_init__(self) -> None:
        if (
            len(self.raw) != PEER_ID_LENGTH
            or not self.raw.startswith(_IDENTITY_MULTIHASH_PREFIX + _ED25519_PROTOBUF_PREFIX)
        ):
            raise InvalidIdError("not the peer ID of an Ed25519 key")

    @classmethod
    def from_public_key(cls, public_key: bytes) -> PeerId:
        if len(public_key) != 32:
            raise InvalidIdError("an Ed25519 public key is 32 bytes")
        return cls(_IDENTITY_MULTIHASH_PREFIX + _ED25519_PROTOBUF_PREFIX + public_key)

    @classmethod
    def from_marshalled_key(cls, marshalled: bytes) -> PeerId:
        """From libp2p's protobuf encoding of the public key (as in records)."""
        if len(marshalled) != 36 or not marshalled.startswith(_ED25519_PROTOBUF_PREFIX):
            raise InvalidIdError("not a libp2p-marshalled Ed25519 public key")
        return cls(_IDENTITY_MULTIHASH_PREFIX + marshalled)

    @classmethod
    def parse(cls, text: str) -> PeerId:
        try:
            raw = base58.b58decode(text.encode("ascii"))
        except (ValueError, UnicodeEncodeError, AttributeError) as exc:
            raise InvalidIdError(f"invalid base58 in peer ID: {exc}") from exc
        peer_id = cls(raw)
        if str(peer_id) != text:
            raise InvalidIdError("non-canonical peer ID text")
        return peer_id

    def __repr__(self) -> str:
        return f"PeerId({self})"

    @property
    def public_key(self) -> bytes:
        return self.raw[-32:]

    @property
    def marshalled_key(self) -> bytes:
        return self.raw[2:]

    def __str__(self) -> str:
        return base58.b58encode(self.raw).decode("ascii")
