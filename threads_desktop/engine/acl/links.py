"""Invite links: `threads://join/<thread ID>?name=...&from=...&addr=...#<secret>`.

A link is how someone joins a thread without being added by peer ID first.
It carries no keys: only the seed of an invite identity and the role it
offers, plus hints (a display name, addresses of the inviter and other
admins to ask, the inviter's display name). The joiner proves to an admin
that it holds the seed; the admin checks the invite against the ACL as it
stands (uses left, not expired, not revoked), records the admission and
seals the keys to the joiner (engine/acl/admission.py). So a link that is
spent gives nothing, however long it lives in a chat history.

The secret travels in the fragment, which browsers and most link handlers
never send anywhere: base64url without padding of `payload || check`, where
payload is the DAG-CBOR map `{"v": 2, "role", "invite"}` (plus `"approve":
true` when an admin approves each joiner by hand, so the joiner can be told
beforehand; absent otherwise, so links without it are byte for byte as
before) and check is the
first 4 bytes of sha256("threads/1/invite-link" || thread ID || payload).
Version 1 links carried the thread's keys too (`"keys"`); they are refused
with a word to ask for a new one.

The check only catches a link that was cut short or mistyped on its way; it
is no defence against an attacker, who can recompute it. The names and
addresses are unchecked hints. `from` came later: links without it still
parse. An unknown lowercase query key is skipped, so later additions stay
readable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import re
import unicodedata
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from threads_desktop.engine.codec import cbor
from threads_desktop.engine.core.errors import FileWriteError, InvalidInputError, InvalidLinkError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.text import is_clean_name, name_from_peer

if TYPE_CHECKING:
    import segno

PREFIX = "threads://join/"
VERSION = 2
OLDER_VERSION = 1  # carried the thread's keys
MAX_LINK_LENGTH = 4096
MAX_NAME_LENGTH = 120
MAX_INVITER_LENGTH = 64  # a display name (modules/profiles.py)
MAX_ADDRESSES = 8
MAX_ADDRESS_LENGTH = 256
INVITE_SEED_LENGTH = 32
CHECK_LENGTH = 4
_CHECK_LABEL = b"threads/1/invite-link"
# Four base64 characters per three bytes: no payload of a valid link is larger.
_MAX_PAYLOAD_SIZE = MAX_LINK_LENGTH * 3 // 4
# Roles a link may grant: delete is for members added by peer ID, and a link
# granting no access would be pointless.
LINK_ROLES = (Role.FOLLOW, Role.READ, Role.WRITE)
_PAYLOAD_KEYS = frozenset({"v", "role", "invite"})
_OPTIONAL_PAYLOAD_KEYS = frozenset({"approve"})  # written only when true
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# A link as messengers pass it on: the prefix, then link characters, maybe
# broken over lines (and indented) where the messenger wrapped it.
_LINK_START = re.compile(re.escape(PREFIX))
_LINK_PIECE = re.compile(r"[!-~]+")
_LINE_BREAK = re.compile(r"[ \t]*\r?\n[ \t>]*")
_TRAILING = ".,;:!?)]}>'\""
_MAX_PIECES = 8  # lines one link may be wrapped over
_QR_SCALE = 4  # pixels per module: a version-25 code is about 500 px wide
_QR_BORDER = 4  # the quiet zone the QR standard asks for, in modules


@dataclass(frozen=True)
class InviteLink:
    """What a link offers. Invalid fields raise InvalidLinkError on creation,
    so every instance has a link (if it fits in MAX_LINK_LENGTH)."""

    thread_id: ThreadId
    role: Role
    invite_seed: bytes = field(repr=False)  # the secret
    name: str | None = None
    addresses: tuple[str, ...] = ()
    inviter: str | None = None  # the display name of whoever made the link
    approve: bool = False  # an admin lets each joiner in by hand (the invite's `approve`)

    def __post_init__(self) -> None:
        _check_fields(self)

    def to_uri(self) -> str:
        payload = cbor.encode({
            "v": VERSION,
            "role": self.role.label,
            "invite": self.invite_seed,
            **({"approve": True} if self.approve else {}),
        })
        fragment = base64.urlsafe_b64encode(payload + _check(self.thread_id, payload)).rstrip(b"=").decode("ascii")
        query = [] if self.name is None else [("name", self.name)]
        query += [] if self.inviter is None else [("from", self.inviter)]
        query += [("addr", address) for address in self.addresses]
        # ':' and '/' are legal in a query and keep addresses readable.
        encoded = "&".join(f"{key}={urllib.parse.quote(value, safe='/:')}" for key, value in query)
        uri = f"{PREFIX}{self.thread_id}{'?' + encoded if encoded else ''}#{fragment}"
        if len(uri) > MAX_LINK_LENGTH:
            raise InvalidLinkError(f"the link would be longer than {MAX_LINK_LENGTH} characters: "
                                   "a shorter name or fewer addresses")
        return uri

    @classmethod
    def parse(cls, text: str) -> InviteLink:
        """The link in `text`, strictly; InvalidLinkError (only) for anything else."""
        try:
            return _parse(text)
        except InvalidLinkError:
            raise
        except InvalidInputError as exc:  # a thread ID or key that its own type refused
            raise InvalidLinkError(f"invalid invite link: {exc}") from exc

    @classmethod
    def find(cls, text: str) -> InviteLink:
        """The link somewhere in `text` (a message pasted whole: words around
        it, trailing punctuation, wrapped over lines). InvalidLinkError when
        no link there parses; its message is that of the likeliest one."""
        if not isinstance(text, str):
            raise InvalidLinkError("an invite link is text")
        first_error: InvalidLinkError | None = None
        for candidate in _candidates(text[:MAX_LINK_LENGTH * 4]):
            try:
                return cls.parse(candidate)
            except InvalidLinkError as exc:
                first_error = first_error or exc
        if first_error is not None:
            raise first_error
        raise InvalidLinkError(f"no invite link: none starts with {PREFIX}")


def _candidates(text: str) -> list[str]:
    """What each `threads://join/` in `text` may be followed by: the unbroken
    run of link characters, then that run joined with the next lines' runs
    (a wrapped link), each also without trailing punctuation. Longest first,
    so a link cut by a line break is tried whole before its first line."""
    found: list[str] = []
    for start in _LINK_START.finditer(text):
        position, pieces = start.start(), []
        for _ in range(_MAX_PIECES):
            piece = _LINK_PIECE.match(text, position)
            if piece is None:
                break
            pieces.append(piece.group(0))
            gap = _LINE_BREAK.match(text, piece.end())
            if gap is None:
                break
            position = gap.end()
        joined = ["".join(pieces[:n]) for n in range(len(pieces), 0, -1)]
        for candidate in joined:
            found += [candidate] + ([candidate.rstrip(_TRAILING)] if candidate[-1] in _TRAILING else [])
    return found


def qr_png_bytes(text: str) -> bytes:
    """A PNG of `text` as a QR code."""
    buffer = io.BytesIO()
    _qr(text).save(buffer, kind="png", scale=_QR_SCALE, border=_QR_BORDER)
    return buffer.getvalue()


def check_qr_path(path: Path) -> None:
    """Refuse a path write_qr could not write (wrong kind, no such folder,
    not ours to write in), so a caller can check before it makes anything."""
    kind = path.suffix.lower().removeprefix(".")
    if kind not in ("png", "svg"):
        raise InvalidInputError(f"a QR code is saved as .png or .svg, not {path.name!r}")
    folder = path.parent
    if not folder.is_dir():
        raise InvalidInputError(f"there is no folder {folder} to save the QR code in")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InvalidInputError(f"you cannot save files in {folder}")
    if path.is_dir():
        raise InvalidInputError(f"{path} is a folder, not a file name for the QR code")


def write_qr(text: str, path: Path) -> None:
    """`text` as a QR code in a .png or .svg file. Written aside and renamed
    into place: a failure leaves no partial file (and no earlier file lost)."""
    check_qr_path(path)
    code = _qr(text)
    staging = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        code.save(str(staging), kind=path.suffix.lower().removeprefix("."), scale=_QR_SCALE, border=_QR_BORDER)
        os.replace(staging, path)
    except OSError as exc:
        staging.unlink(missing_ok=True)
        raise FileWriteError(f"cannot save the QR code as {path}: {exc.strerror or exc}") from None


def _qr(text: str) -> segno.QRCode:
    # Error correction M survives a smudged or glare-struck screen; segno
    # raises it further when the version chosen has room to spare. Imported
    # here: with what it imports (urllib, http.client, xml) it was 17-23 ms
    # of CPU before the app's window, for a code only an invite shows.
    import segno

    try:
        return segno.make_qr(text, error="m")
    except segno.DataOverflowError:
        raise InvalidInputError("the text is too long for a QR code") from None


def _check(thread_id: ThreadId, payload: bytes) -> bytes:
    return hashlib.sha256(_CHECK_LABEL + thread_id.raw + payload).digest()[:CHECK_LENGTH]


def _check_fields(link: InviteLink) -> None:
    if not isinstance(link.thread_id, ThreadId):
        raise InvalidLinkError("an invite link needs a thread ID")
    if not isinstance(link.role, Role) or link.role not in LINK_ROLES:
        raise InvalidLinkError(f"an invite link cannot grant the role {link.role!r}")
    if not isinstance(link.invite_seed, bytes) or len(link.invite_seed) != INVITE_SEED_LENGTH:
        raise InvalidLinkError(f"the invite seed is {INVITE_SEED_LENGTH} bytes")
    if not isinstance(link.approve, bool):
        raise InvalidLinkError("whether an admin approves each joiner is true or false")
    if link.name is not None:
        if not isinstance(link.name, str) or not 1 <= len(link.name) <= MAX_NAME_LENGTH:
            raise InvalidLinkError(f"the name is 1 to {MAX_NAME_LENGTH} characters")
        # Shown to the user: no line breaks or other control characters; and
        # no lone surrogates, which UTF-8 (hence the link) cannot carry.
        if any(unicodedata.category(char) in ("Cc", "Cs") for char in link.name):
            raise InvalidLinkError("the name contains control characters")
    if link.inviter is not None and not is_clean_name(link.inviter, MAX_INVITER_LENGTH):
        raise InvalidLinkError(f"the inviter's name is 1 to {MAX_INVITER_LENGTH} visible characters")
    if not isinstance(link.addresses, tuple) or len(link.addresses) > MAX_ADDRESSES:
        raise InvalidLinkError(f"an invite link carries at most {MAX_ADDRESSES} addresses")
    for address in link.addresses:
        if (
            not isinstance(address, str)
            or not 1 <= len(address) <= MAX_ADDRESS_LENGTH
            or not address.startswith("/")
            or not is_printable_ascii(address)
        ):
            raise InvalidLinkError(f"an address is a multiaddr ('/...') of at most {MAX_ADDRESS_LENGTH} characters")


def is_printable_ascii(text: str) -> bool:
    return all("!" <= char <= "~" for char in text)


def _parse(text: Any) -> InviteLink:
    if not isinstance(text, str):
        raise InvalidLinkError("an invite link is text")
    if len(text) > MAX_LINK_LENGTH:
        raise InvalidLinkError(f"the link is longer than {MAX_LINK_LENGTH} characters")
    # Links we make are plain ASCII without spaces; anything else was mangled.
    if not is_printable_ascii(text):
        raise InvalidLinkError("the link contains spaces or characters a link never has")
    if not text.startswith(PREFIX):
        raise InvalidLinkError(f"not an invite link: it does not start with {PREFIX}")
    rest, hash_mark, fragment = text[len(PREFIX):].partition("#")
    if not hash_mark or not fragment:
        raise InvalidLinkError("the link is incomplete: the secret after '#' is missing")
    path, question_mark, query = rest.partition("?")
    try:
        thread_id = ThreadId.parse(path)
    except InvalidInputError as exc:
        raise InvalidLinkError(f"the link does not name a thread: {exc}") from None
    name, inviter, addresses = _parse_query(query) if question_mark else (None, None, ())
    payload = decode_fragment(fragment)
    if _check(thread_id, payload[:-CHECK_LENGTH]) != payload[-CHECK_LENGTH:]:
        raise InvalidLinkError("the link is truncated or altered")
    role, seed, approve = _parse_payload(payload[:-CHECK_LENGTH])
    return InviteLink(thread_id, role, seed, name, addresses, inviter, approve)


# What a later version may add to the query: lowercase words. Ignored here,
# so that a link made by a newer app still opens in this one (0.1.0 refused
# any key it did not know, so links with `from` do not open there).
_LATER_KEY = re.compile(r"[a-z][a-z0-9-]{0,19}")


def query_values(query: str, keys: Iterable[str]) -> dict[str, list[str]]:
    """A link's query, strictly: each known key's values, percent-decoded
    (UTF-8); a key a later version may add is skipped; anything else is an
    InvalidLinkError. Shared with device links (engine/persons/device_links.py)."""
    values: dict[str, list[str]] = {key: [] for key in keys}
    for pair in query.split("&"):
        key, equals, value = pair.partition("=")
        if not equals:
            raise InvalidLinkError(f"malformed query part {pair[:20]!r} (expected key=value)")
        if key not in values:
            if _LATER_KEY.fullmatch(key):
                continue  # a key a later version added: a hint this one does without
            raise InvalidLinkError(f"malformed query key {key[:20]!r}")
        if _PERCENT.search(value):
            raise InvalidLinkError(f"malformed percent-escape in {key}")
        try:
            decoded = urllib.parse.unquote(value, errors="strict")
        except UnicodeDecodeError:
            raise InvalidLinkError(f"the {key} is not UTF-8") from None
        values[key].append(decoded)
    return values


def _parse_query(query: str) -> tuple[str | None, str | None, tuple[str, ...]]:
    values = query_values(query, ("name", "from", "addr"))
    names, inviters, addresses = values["name"], values["from"], values["addr"]
    if len(names) > 1:
        raise InvalidLinkError("the link names the thread more than once")
    if len(inviters) > 1:
        raise InvalidLinkError("the link names its inviter more than once")
    if len(addresses) > MAX_ADDRESSES:
        raise InvalidLinkError(f"the link has more than {MAX_ADDRESSES} addresses")
    # Lengths and characters are checked by InviteLink itself.
    # The inviter's name is a hint shown to the joiner: cleaned as display
    # names are when read, never a reason to refuse the link.
    inviter = name_from_peer(inviters[0], MAX_INVITER_LENGTH) if inviters else None
    return (names[0] if names else None), inviter, tuple(addresses)


def decode_fragment(fragment: str) -> bytes:
    """A link's secret: base64url in one spelling, longer than its check (shared with device links)."""
    if not _BASE64URL.fullmatch(fragment):
        raise InvalidLinkError("the link is altered: its secret is not base64url")
    try:
        data = base64.urlsafe_b64decode(fragment + "=" * (-len(fragment) % 4))
    except binascii.Error:
        raise InvalidLinkError("the link is truncated or altered") from None
    # One spelling per value: otherwise the last character could change
    # (its unused bits) and the link still open.
    if base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii") != fragment:
        raise InvalidLinkError("the link is truncated or altered")
    if len(data) <= CHECK_LENGTH:
        raise InvalidLinkError("the link is truncated or altered")
    return data


def _parse_payload(payload: bytes) -> tuple[Role, bytes, bool]:
    try:
        value = cbor.decode(payload, max_size=_MAX_PAYLOAD_SIZE, max_depth=3)
    except InvalidInputError as exc:
        raise InvalidLinkError(f"the link's secret is malformed: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidLinkError("the link's secret has missing or unknown fields")
    version = value.get("v")
    # `type(...) is int`: bool is an int in Python, and true is not 1 in CBOR.
    if type(version) is int and version == OLDER_VERSION:
        raise InvalidLinkError("this link was made by an older version of Threads Desktop; ask for a new one")
    if type(version) is int and version > VERSION:
        raise InvalidLinkError("the link was made by a newer version of Threads")
    if not _PAYLOAD_KEYS <= set(value) <= _PAYLOAD_KEYS | _OPTIONAL_PAYLOAD_KEYS \
            or type(version) is not int or version != VERSION:
        raise InvalidLinkError("the link's secret has missing or unknown fields")
    roles = {role.label: role for role in LINK_ROLES}
    if not isinstance(value["role"], str) or value["role"] not in roles:
        raise InvalidLinkError("the link grants a role invite links cannot grant")
    seed = value["invite"]
    if not isinstance(seed, bytes) or len(seed) != INVITE_SEED_LENGTH:
        raise InvalidLinkError(f"the link's invite seed is not {INVITE_SEED_LENGTH} bytes")
    # Only `true`, and only when set: one spelling per link (false is never written).
    if "approve" in value and value["approve"] is not True:
        raise InvalidLinkError("the link's secret has a malformed approval flag")
    return roles[value["role"]], seed, "approve" in value
