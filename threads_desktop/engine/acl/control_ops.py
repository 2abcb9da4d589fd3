"""The payload of a control event, `{"type": "acl", "ops": [op, ...]}`, read
strictly, and the signed messages some ops carry.

Control events are the only events a follower can open (their header is
sealed with the follow key), so membership, invites, admissions, leaving and
key deliveries are visible to every member while content stays with readers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from threads_desktop.engine.acl.devices import DeviceCert, DeviceRemoval
from threads_desktop.engine.codec import cbor
from threads_desktop.engine.core.errors import InvalidInputError, SchemaError, SignatureError
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.core.keys import Identity
from threads_desktop.engine.core.members import Role

ACL_EVENT = "acl"
ACL_ENTITY = "acl"  # the ACL's own entity: write on it is what editing the ACL needs
MAX_ACL_OPS = 64
MAX_BOXES = 1000
MAX_BOX_BYTES = 4096
MAX_INVITE_USES = 1000
OWNER_NONCE_BYTES = 16
_BINDING_DOMAIN = "threads/1/log-binding"
_JOIN_DOMAIN = "threads/1/join"
_THREAD_ID_DOMAIN = b"threads/1/thread-id"


@dataclass(frozen=True, slots=True)
class Bind:
    """First op of every log: the device (identity) that writes it, and the
    X25519 key that keys are sealed to, signed by the identity key. `cert`:
    the device's certificate when it is not its person's first device (the
    log's member is then the person)."""

    identity: PeerId
    exchange: bytes
    signature: bytes
    cert: DeviceCert | None = None


@dataclass(frozen=True, slots=True)
class Genesis:
    """The thread's founder: the thread ID is derived from its identity and
    this nonce, so nobody else can claim to have founded it."""

    nonce: bytes


@dataclass(frozen=True, slots=True)
class Grant:
    peer: str
    role: Role
    entity: str | None = None  # None: the whole thread


@dataclass(frozen=True, slots=True)
class Revoke:
    peer: str
    role: Role
    entity: str | None = None


@dataclass(frozen=True, slots=True)
class SetDefault:
    role: Role
    entity: str | None = None


@dataclass(frozen=True, slots=True)
class Invite:
    key: bytes  # the invite's Ed25519 public key; its seed travels in the link
    role: Role
    expires_ms: int  # 0: never
    uses: int
    epoch: int  # the newest clean key epoch when it was made (links no longer carry keys)
    approve: bool = False  # admins ask their user before admitting anyone with it


@dataclass(frozen=True, slots=True)
class Uninvite:
    key: bytes


@dataclass(frozen=True, slots=True)
class Join:
    invite: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class Admit:
    """An admin lets a joiner in with an invite. `signature` is the joiner's,
    made with the invite key over `join_message` (it held the link);
    `bind_signature` is the joiner's identity's over `binding_message` (it
    owns `exchange`, the key the same event's key box is sealed to)."""

    invite: bytes
    log: PeerId
    identity: PeerId
    exchange: bytes
    bind_signature: bytes
    signature: bytes
    cert: DeviceCert | None = None  # a device of a person: the role is the person's


@dataclass(frozen=True, slots=True)
class Undevice:
    """A device is no device of its person any more (issue 19). Any member's
    log may carry it: its authority is the person key's signature."""

    removal: DeviceRemoval


@dataclass(frozen=True, slots=True)
class Leave:
    """A member takes every role from itself."""


@dataclass(frozen=True, slots=True)
class Keys:
    """Thread keys sealed to members' X25519 keys (rotation, promotion, or a
    member who joined with older keys). Each box holds every epoch up to
    `epoch` that the member's role needs; `with_read` says (in the clear, so
    admins know who still lacks what) whether it holds read keys."""

    epoch: int
    boxes: tuple[tuple[str, bytes, bool], ...]


AclOp = Bind | Genesis | Grant | Revoke | SetDefault | Invite | Uninvite | Join | Admit | Leave | Keys | Undevice
REVOCATIONS = (Revoke, Uninvite, Leave, Undevice)  # ops that only take rights away


def is_acl_payload(payload: Any) -> bool:
    return isinstance(payload, dict) and payload.get("type") == ACL_EVENT


def acl_payload(*ops: AclOp) -> dict[str, Any]:
    return {"type": ACL_EVENT, "ops": [_op_value(op) for op in ops]}


def parse_acl_payload(payload: Any) -> list[AclOp]:
    if not isinstance(payload, dict) or set(payload) != {"type", "ops"} or payload["type"] != ACL_EVENT:
        raise SchemaError("a control event is {type: acl, ops: [...]}")
    ops = payload["ops"]
    if not isinstance(ops, list) or not 0 < len(ops) <= MAX_ACL_OPS:
        raise SchemaError(f"a control event holds 1 to {MAX_ACL_OPS} ops")
    return [_parse_op(op) for op in ops]


def _parse_op(value: Any) -> AclOp:
    if not isinstance(value, dict) or not isinstance(value.get("op"), str):
        raise SchemaError("an ACL op is a map with an 'op' name")
    name = value["op"]
    fields = _FIELDS.get(name)
    if fields is None:
        raise SchemaError(f"unknown ACL op {name!r}")
    required, optional = fields
    if not required <= set(value) <= required | optional | {"op"}:
        raise SchemaError(f"an ACL {name} op has fields {sorted(required | optional)}")
    if name == "bind":
        return Bind(_peer(value["identity"]), _bytes(value["exchange"], 32), _bytes(value["sig"], 64),
                    _cert(value))
    if name == "genesis":
        return Genesis(_bytes(value["nonce"], OWNER_NONCE_BYTES))
    if name in ("grant", "revoke"):
        role = _role(value["role"], lowest=Role.FOLLOW)
        peer = str(_peer_text(value["peer"]))
        entity = _entity(value.get("entity"))
        return Grant(peer, role, entity) if name == "grant" else Revoke(peer, role, entity)
    if name == "default":
        return SetDefault(_role(value["role"], lowest=Role.NO_ACCESS), _entity(value.get("entity")))
    if name == "invite":
        role = _role(value["role"], lowest=Role.FOLLOW)
        if role > Role.WRITE:
            raise SchemaError("an invite offers follow, read or write")
        expires, uses = value["expires"], value["uses"]
        if type(expires) is not int or not 0 <= expires < 1 << 48:
            raise SchemaError("an invite's expiry is Unix milliseconds (0: never)")
        if type(uses) is not int or not 0 < uses <= MAX_INVITE_USES:
            raise SchemaError(f"an invite has 1 to {MAX_INVITE_USES} uses")
        # One spelling: the key is there (true) only when admins must approve.
        if "approve" in value and value["approve"] is not True:
            raise SchemaError("an invite's approve field is true or absent")
        return Invite(_bytes(value["key"], 32), role, expires, uses, _epoch(value["epoch"]), "approve" in value)
    if name == "uninvite":
        return Uninvite(_bytes(value["key"], 32))
    if name == "join":
        return Join(_bytes(value["invite"], 32), _bytes(value["sig"], 64))
    if name == "admit":
        return Admit(_bytes(value["invite"], 32), _peer(value["log"]), _peer(value["identity"]),
                     _bytes(value["exchange"], 32), _bytes(value["bind"], 64), _bytes(value["sig"], 64),
                     _cert(value))
    if name == "undevice":
        return Undevice(DeviceRemoval.from_value(value["removal"]))
    if name == "leave":
        return Leave()
    boxes = value["boxes"]
    if not isinstance(boxes, list) or not 0 < len(boxes) <= MAX_BOXES:
        raise SchemaError(f"a keys op holds 1 to {MAX_BOXES} boxes")
    parsed = []
    for item in boxes:
        if not isinstance(item, list) or len(item) != 3 or not isinstance(item[1], bytes) \
                or not 0 < len(item[1]) <= MAX_BOX_BYTES or not isinstance(item[2], bool):
            raise SchemaError("a key box is [member, sealed bytes, with read keys?]")
        parsed.append((_peer_text(item[0]), item[1], item[2]))
    return Keys(_epoch(value["epoch"]), tuple(parsed))


_FIELDS: dict[str, tuple[set[str], set[str]]] = {
    "bind": ({"identity", "exchange", "sig"}, {"cert"}),
    "genesis": ({"nonce"}, set()),
    "grant": ({"peer", "role"}, {"entity"}),
    "revoke": ({"peer", "role"}, {"entity"}),
    "default": ({"role"}, {"entity"}),
    "invite": ({"key", "role", "expires", "uses", "epoch"}, {"approve"}),
    "uninvite": ({"key"}, set()),
    "join": ({"invite", "sig"}, set()),
    "admit": ({"invite", "log", "identity", "exchange", "bind", "sig"}, {"cert"}),
    "undevice": ({"removal"}, set()),
    "leave": (set(), set()),
    "keys": ({"epoch", "boxes"}, set()),
}


def _op_value(op: AclOp) -> dict[str, Any]:
    if isinstance(op, Bind):
        bind = {"op": "bind", "identity": op.identity.raw, "exchange": op.exchange, "sig": op.signature}
        return bind if op.cert is None else {**bind, "cert": op.cert.to_value()}
    if isinstance(op, Genesis):
        return {"op": "genesis", "nonce": op.nonce}
    if isinstance(op, (Grant, Revoke)):
        value = {"op": "grant" if isinstance(op, Grant) else "revoke", "peer": op.peer, "role": op.role.label}
        return value if op.entity is None else {**value, "entity": op.entity}
    if isinstance(op, SetDefault):
        value = {"op": "default", "role": op.role.label}
        return value if op.entity is None else {**value, "entity": op.entity}
    if isinstance(op, Invite):
        invite: dict[str, Any] = {"op": "invite", "key": op.key, "role": op.role.label, "expires": op.expires_ms,
                                  "uses": op.uses, "epoch": op.epoch}
        return {**invite, "approve": True} if op.approve else invite
    if isinstance(op, Uninvite):
        return {"op": "uninvite", "key": op.key}
    if isinstance(op, Join):
        return {"op": "join", "invite": op.invite, "sig": op.signature}
    if isinstance(op, Admit):
        admit = {"op": "admit", "invite": op.invite, "log": op.log.raw, "identity": op.identity.raw,
                 "exchange": op.exchange, "bind": op.bind_signature, "sig": op.signature}
        return admit if op.cert is None else {**admit, "cert": op.cert.to_value()}
    if isinstance(op, Undevice):
        return {"op": "undevice", "removal": op.removal.to_value()}
    if isinstance(op, Leave):
        return {"op": "leave"}
    return {"op": "keys", "epoch": op.epoch, "boxes": [[peer, box, read] for peer, box, read in op.boxes]}


def _bytes(value: Any, length: int) -> bytes:
    if not isinstance(value, bytes) or len(value) != length:
        raise SchemaError(f"expected {length} bytes")
    return value


def _epoch(value: Any) -> int:
    if type(value) is not int or not 0 <= value < 1 << 63:
        raise SchemaError("an epoch is an unsigned 63-bit integer")
    return value


def _cert(op: dict[str, Any]) -> DeviceCert | None:
    """An op's certificate: absent, or a certificate (one spelling: no null).
    Its signature is checked where it counts (acl/policy.py)."""
    return DeviceCert.from_value(op["cert"]) if "cert" in op else None


def _peer(value: Any) -> PeerId:
    if not isinstance(value, bytes):
        raise SchemaError("a member is named by its peer ID bytes")
    peer = PeerId(value)  # InvalidIdError for anything but an Ed25519 peer ID
    return peer


def _peer_text(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 64:
        raise SchemaError("a member is named by its peer ID")
    return str(PeerId.parse(value))


def _role(value: Any, *, lowest: Role) -> Role:
    role = Role.parse(value)
    if role < lowest:
        raise SchemaError(f"role {role.label} cannot be used here")
    return role


def _entity(value: Any) -> str | None:
    """None (the thread), the ACL entity, or one document: `collection/id`."""
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= 256 \
            or (value != ACL_ENTITY and value.count("/") < 1):
        raise SchemaError("an ACL entity is 'acl' or 'collection/id'")
    return value


def document_entity(collection: str, doc_id: str) -> str:
    return f"{collection}/{doc_id}"


# --- what the ops sign, and the founder's thread ID -------------------------------------------


def binding_message(thread_id: ThreadId, log_id: PeerId, identity: PeerId, exchange: bytes) -> bytes:
    return cbor.encode([_BINDING_DOMAIN, thread_id.raw, log_id.raw, identity.raw, exchange])


def make_bind(identity: Identity, thread_id: ThreadId, log_id: PeerId, cert: DeviceCert | None = None) -> Bind:
    """The first op of our log in a thread (with our device certificate, if we have one)."""
    exchange = identity.exchange_public_key()
    return Bind(identity.peer_id, exchange,
                identity.signing.sign(binding_message(thread_id, log_id, identity.peer_id, exchange)), cert)


def join_message(thread_id: ThreadId, invite_key: bytes, log_id: PeerId, identity: PeerId) -> bytes:
    return cbor.encode([_JOIN_DOMAIN, thread_id.raw, invite_key, log_id.raw, identity.raw])


def verify(public_key: bytes, signature: bytes, message: bytes, what: str) -> None:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        raise SignatureError(f"the {what} signature does not verify") from None


def owner_random(founder: PeerId, nonce: bytes) -> bytes:
    """The 32 'random' bytes of a thread ID: a hash of its founder and a nonce."""
    if len(nonce) != OWNER_NONCE_BYTES:
        raise InvalidInputError(f"a founder nonce is {OWNER_NONCE_BYTES} bytes")
    return hashlib.sha256(_THREAD_ID_DOMAIN + founder.raw + nonce).digest()


def is_founder(thread_id: ThreadId, founder: PeerId, nonce: bytes) -> bool:
    return thread_id.raw[-32:] == owner_random(founder, nonce)


def roles_up_to(role: Role) -> Sequence[Role]:
    """What granting `role` grants: it and every role below it."""
    return [r for r in Role if Role.FOLLOW <= r <= role]


def roles_from(role: Role) -> Sequence[Role]:
    """What revoking `role` revokes: it and every role above it."""
    return [r for r in Role if r >= max(role, Role.FOLLOW)]
