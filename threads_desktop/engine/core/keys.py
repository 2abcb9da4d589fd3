"""Key material: a user's identity, a log's key pair and a thread's keys."""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from threads_desktop.engine.core.errors import InvalidInputError
from threads_desktop.engine.core.ids import PeerId

SYMMETRIC_KEY_LENGTH = 32
_RAW = serialization.Encoding.Raw
_RAW_PUBLIC = serialization.PublicFormat.Raw
_RAW_PRIVATE = serialization.PrivateFormat.Raw
_NO_ENCRYPTION = serialization.NoEncryption()


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 key pair; its peer ID names a log or a user."""

    private: Ed25519PrivateKey = field(repr=False)
    peer_id: PeerId = field(init=False)

    def __post_init__(self) -> None:
        public = self.private.public_key().public_bytes(_RAW, _RAW_PUBLIC)
        object.__setattr__(self, "peer_id", PeerId.from_public_key(public))

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> SigningKey:
        if len(seed) != 32:
            raise InvalidInputError("an Ed25519 seed is 32 bytes")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    def seed(self) -> bytes:
        return self.private.private_bytes(_RAW, _RAW_PRIVATE, _NO_ENCRYPTION)

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)


@dataclass(frozen=True)
class Identity:
    """A user: Ed25519 for signing (its peer ID is the user ID) and X25519 for
    sealed boxes (keys sent to this user)."""

    signing: SigningKey
    exchange: X25519PrivateKey = field(repr=False)

    @classmethod
    def generate(cls) -> Identity:
        return cls(SigningKey.generate(), X25519PrivateKey.generate())

    @classmethod
    def from_seeds(cls, signing_seed: bytes, exchange_seed: bytes) -> Identity:
        if len(exchange_seed) != 32:
            raise InvalidInputError("an X25519 private key is 32 bytes")
        return cls(SigningKey.from_seed(signing_seed), X25519PrivateKey.from_private_bytes(exchange_seed))

    @property
    def peer_id(self) -> PeerId:
        return self.signing.peer_id

    def exchange_seed(self) -> bytes:
        return self.exchange.private_bytes(_RAW, _RAW_PRIVATE, _NO_ENCRYPTION)

    def exchange_public_key(self) -> bytes:
        return self.exchange.public_key().public_bytes(_RAW, _RAW_PUBLIC)


@dataclass(frozen=True, slots=True)
class ThreadKey:
    """Follow key (records) and read key (headers), valid from `epoch` on.

    A follower holds only the follow key: it can verify and relay records but
    read nothing inside them.
    """

    follow: bytes = field(repr=False)
    read: bytes | None = field(repr=False)
    epoch: int = 0
    # Ciphers built once per key, not once per event.
    follow_cipher: AESGCM = field(init=False, repr=False, compare=False)
    read_cipher: AESGCM | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.follow) != SYMMETRIC_KEY_LENGTH:
            raise InvalidInputError("a follow key is 32 bytes")
        if self.read is not None and len(self.read) != SYMMETRIC_KEY_LENGTH:
            raise InvalidInputError("a read key is 32 bytes")
        if self.epoch < 0:
            raise InvalidInputError("a key epoch is not negative")
        object.__setattr__(self, "follow_cipher", AESGCM(self.follow))
        object.__setattr__(self, "read_cipher", AESGCM(self.read) if self.read is not None else None)

    @classmethod
    def from_bytes(cls, data: bytes, epoch: int = 0) -> ThreadKey:
        """From follow key || read key (64 bytes) or a follow key alone (32)."""
        if len(data) == 2 * SYMMETRIC_KEY_LENGTH:
            return cls(data[:32], data[32:], epoch)
        if len(data) == SYMMETRIC_KEY_LENGTH:
            return cls(data, None, epoch)
        raise InvalidInputError("a thread key is 32 or 64 bytes")

    def to_bytes(self) -> bytes:
        return self.follow + (self.read or b"")

    @property
    def can_read(self) -> bool:
        return self.read is not None

    def follow_only(self) -> ThreadKey:
        return ThreadKey(self.follow, None, self.epoch)
