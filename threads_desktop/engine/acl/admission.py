"""What a joiner asks an admin for, and what the admin answers: the two
messages of `/threads/join/1.0.0` (engine/net/joining.py carries them).

A link holds no keys, only an invite secret. The joiner proves it holds the
secret (a signature with the invite key over the join message, naming its
new log and its identity) and owns the X25519 key keys will be sealed to
(its identity's signature over the log binding). An admin checks the invite
against the ACL as it stands, writes an admit event, and answers with the
keys sealed to that X25519 key.

Both messages are DAG-CBOR maps read strictly: every field typed and
bounded, no field unknown or missing, so a stranger's bytes cost little and
change nothing when they are wrong.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from threads_desktop.engine.acl.control_ops import MAX_BOX_BYTES, binding_message, join_message, verify
from threads_desktop.engine.acl.device_rules import certified_person
from threads_desktop.engine.acl.devices import DeviceCert
from threads_desktop.engine.codec import cbor
from threads_desktop.engine.core.errors import InvalidInputError, SchemaError
from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.core.members import REFUSAL_REASONS, AdmissionStatus, Role
from threads_desktop.engine.core.text import is_clean_name, name_from_peer

MAX_REQUEST_BYTES = 4096
MAX_ANSWER_BYTES = 8192
MAX_JOINER_NAME = 64  # a display name (modules/profiles.py)
VERSION = 1
ANSWER_ROLES = (Role.FOLLOW, Role.READ, Role.WRITE)  # what an invite can grant
_REQUEST_FIELDS = frozenset({"v", "thread", "invite", "log", "identity", "exchange", "bind", "sig"})


@dataclass(frozen=True, slots=True)
class AdmissionRequest:
    """A joiner asks to be admitted with an invite. Fields are checked on
    creation (SchemaError), signatures by `verify`."""

    thread_id: ThreadId
    invite_key: bytes  # the invite's public key
    log_id: PeerId  # the joiner's log in the thread, made when it took the link
    identity: PeerId
    exchange: bytes  # the joiner's X25519 key: keys are sealed to it
    bind_sig: bytes  # identity's signature over binding_message(thread, log, identity, exchange)
    sig: bytes  # the invite key's signature over join_message(thread, invite, log, identity)
    name: str | None = None  # the joiner's display name, for an admin's user to see
    cert: DeviceCert | None = None  # a device of a person (issue 19): the role is the person's

    def __post_init__(self) -> None:
        if not isinstance(self.thread_id, ThreadId):
            raise SchemaError("an admission request names a thread")
        if not isinstance(self.log_id, PeerId) or not isinstance(self.identity, PeerId):
            raise SchemaError("an admission request names a log and an identity")
        _check_bytes(self.invite_key, 32, "invite key")
        _check_bytes(self.exchange, 32, "exchange key")
        _check_bytes(self.bind_sig, 64, "binding signature")
        _check_bytes(self.sig, 64, "invite signature")
        if self.name is not None and not is_clean_name(self.name, MAX_JOINER_NAME):
            raise SchemaError(f"a joiner's name is 1 to {MAX_JOINER_NAME} visible characters")
        if self.cert is not None and not isinstance(self.cert, DeviceCert):
            raise SchemaError("an admission request's certificate is a device certificate")

    @property
    def member(self) -> str:
        """Whom the admission lets in: the joiner's person."""
        return str(self.identity if self.cert is None else self.cert.person)

    def verify(self) -> None:
        """SignatureError unless the joiner held the invite's secret and owns
        the exchange key for this log."""
        verify(self.invite_key, self.sig, join_message(self.thread_id, self.invite_key, self.log_id, self.identity),
               "invite")
        verify(self.identity.public_key, self.bind_sig,
               binding_message(self.thread_id, self.log_id, self.identity, self.exchange), "binding")
        certified_person(self.identity, self.cert)

    def to_bytes(self) -> bytes:
        value: dict[str, Any] = {"v": VERSION, "thread": self.thread_id.raw, "invite": self.invite_key,
                                 "log": self.log_id.raw, "identity": self.identity.raw, "exchange": self.exchange,
                                 "bind": self.bind_sig, "sig": self.sig}
        if self.name is not None:
            value["name"] = self.name
        if self.cert is not None:
            value["cert"] = self.cert.to_value()
        return cbor.encode(value)

    @classmethod
    def from_bytes(cls, data: bytes) -> AdmissionRequest:
        """The request in `data`; an InvalidInputError for anything else."""
        value = _decode(data, MAX_REQUEST_BYTES, "an admission request")
        if not _REQUEST_FIELDS <= set(value) <= _REQUEST_FIELDS | {"name", "cert"}:
            raise SchemaError(f"an admission request has the fields {sorted(_REQUEST_FIELDS)} (and name, cert)")
        if type(value["v"]) is not int or value["v"] != VERSION:
            raise SchemaError("an admission request of another version")
        name = None
        if "name" in value:
            if not isinstance(value["name"], str) or len(value["name"]) > 4 * MAX_JOINER_NAME:
                raise SchemaError("a joiner's name is text")
            name = name_from_peer(value["name"], MAX_JOINER_NAME)  # a hint: cleaned, never a refusal
        try:
            return cls(ThreadId(_raw(value["thread"], "thread")), _raw(value["invite"], "invite"),
                       PeerId(_raw(value["log"], "log")), PeerId(_raw(value["identity"], "identity")),
                       _raw(value["exchange"], "exchange"), _raw(value["bind"], "bind"), _raw(value["sig"], "sig"),
                       name, DeviceCert.from_value(value["cert"]) if "cert" in value else None)
        except InvalidInputError as exc:  # an ID its own type refused
            raise SchemaError(f"malformed admission request: {exc}") from None


@dataclass(frozen=True, slots=True)
class AdmissionAnswer:
    """ADMITTED carries the keys box and the role; REFUSED carries a reason
    (a word of REFUSAL_REASONS); the others carry nothing."""

    status: AdmissionStatus
    box: bytes | None = None
    role: Role | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.status, AdmissionStatus):
            raise SchemaError("an admission answer has a status")
        admitted = self.status is AdmissionStatus.ADMITTED
        if admitted != (self.box is not None) or admitted != (self.role is not None):
            raise SchemaError("an admission answer carries a key box and a role exactly when it admits")
        if self.box is not None and (not isinstance(self.box, bytes) or not 0 < len(self.box) <= MAX_BOX_BYTES):
            raise SchemaError(f"a key box is 1 to {MAX_BOX_BYTES} bytes")
        if self.role is not None and self.role not in ANSWER_ROLES:
            raise SchemaError("an admission grants follow, read or write")
        refused = self.status is AdmissionStatus.REFUSED
        if refused != (self.reason is not None) or (refused and self.reason not in REFUSAL_REASONS):
            raise SchemaError(f"a refusal has one of the reasons {', '.join(REFUSAL_REASONS)}")

    def to_bytes(self) -> bytes:
        value: dict[str, Any] = {"status": self.status.value}
        if self.box is not None and self.role is not None:
            value |= {"box": self.box, "role": self.role.label}
        if self.reason is not None:
            value["reason"] = self.reason
        return cbor.encode(value)

    @classmethod
    def from_bytes(cls, data: bytes) -> AdmissionAnswer:
        """The answer in `data`; an InvalidInputError for anything else."""
        value = _decode(data, MAX_ANSWER_BYTES, "an admission answer")
        if not {"status"} <= set(value) <= {"status", "box", "role", "reason"}:
            raise SchemaError("an admission answer has a status, and a box and role or a reason")
        statuses = {status.value: status for status in AdmissionStatus}
        if not isinstance(value["status"], str) or value["status"] not in statuses:
            raise SchemaError("unknown admission status")
        # Present means given: a null is no spelling of "absent".
        box = value.get("box")
        if "box" in value and not isinstance(box, bytes):
            raise SchemaError("a key box is bytes")
        role = None if "role" not in value else Role.parse(value["role"])
        reason = value.get("reason")
        if "reason" in value and not isinstance(reason, str):
            raise SchemaError("a refusal's reason is a word")
        return cls(statuses[value["status"]], box, role, reason)


def _decode(data: Any, limit: int, what: str) -> dict[str, Any]:
    if not isinstance(data, bytes) or len(data) > limit:
        raise SchemaError(f"{what} is at most {limit} bytes")
    value = cbor.decode(data, max_size=limit, max_depth=2)
    if not isinstance(value, dict):
        raise SchemaError(f"{what} is a map")
    return value


def _raw(value: Any, what: str) -> bytes:
    if not isinstance(value, bytes) or len(value) > 128:
        raise SchemaError(f"the {what} field is bytes")
    return value


def _check_bytes(value: Any, length: int, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != length:
        raise SchemaError(f"the {what} is {length} bytes")


def request_id(request: AdmissionRequest) -> bytes:
    """One per thread, invite and joiner: asking again replaces the request."""
    return hashlib.sha256(b"threads/1/join-request" + request.thread_id.raw + request.invite_key
                          + request.identity.raw).digest()[:16]


def refusal_reason(policy_reason: str) -> str:
    """The word (REFUSAL_REASONS) for the policy's reason an admit was refused."""
    if "used up" in policy_reason:
        return "used-up"
    if "expired" in policy_reason:
        return "expired"
    if "revo" in policy_reason or "no longer an admin" in policy_reason:
        return "revoked"
    return "removed"
