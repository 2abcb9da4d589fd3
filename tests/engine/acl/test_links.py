"""Invite links: they round-trip, carry no keys (only the invite's secret),
and anything mistyped, truncated or altered fails with InvalidLinkError alone."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import unicodedata
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any

import dag_cbor
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threads_desktop.engine.acl.links import (
    LINK_ROLES,
    MAX_ADDRESSES,
    MAX_LINK_LENGTH,
    InviteLink,
    qr_png_bytes,
    write_qr,
)
from threads_desktop.engine.codec import cbor
from threads_desktop.engine.core.errors import InvalidInputError, InvalidLinkError
from threads_desktop.engine.core.ids import ThreadId, ThreadVariant
from threads_desktop.engine.core.members import Role

THREAD_ID = ThreadId.from_random(ThreadVariant.ACCESS_CONTROLLED, bytes(range(32)))
SEED = bytes(range(100, 132))
ADDRESS = "/ip4/192.168.1.20/tcp/4001/p2p/12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK"
VECTOR = ("threads://join/bafyaaaicamcakbqhbaequcymbuha6earcijrifiwc4mbsgq3dqor4hy?name=Summer&from=Alice"
          "&addr=/ip4/192.168.1.20/tcp/4001/p2p/12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK"
          "#o2F2AmRyb2xlZXdyaXRlZmludml0ZVggZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1-f4CBgoMJE2PX")
# The same link from an invite whose joiners an admin approves by hand.
APPROVE_VECTOR = ("threads://join/bafyaaaicamcakbqhbaequcymbuha6earcijrifiwc4mbsgq3dqor4hy?name=Summer&from=Alice"
                  "&addr=/ip4/192.168.1.20/tcp/4001/p2p/12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK"
                  "#pGF2AmRyb2xlZXdyaXRlZmludml0ZVggZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1-f4CBgoNnYXBwcm92ZfWHzapQ")


def _link(role: Role = Role.WRITE, **extra: Any) -> InviteLink:
    return InviteLink(THREAD_ID, role, SEED, **extra)


def _with_payload(payload: bytes, thread_id: ThreadId = THREAD_ID, query: str = "") -> str:
    """A link around any payload, with the right check (computed here from the spec)."""
    check = hashlib.sha256(b"threads/1/invite-link" + thread_id.raw + payload).digest()[:4]
    fragment = base64.urlsafe_b64encode(payload + check).rstrip(b"=").decode()
    return f"threads://join/{thread_id}{query}#{fragment}"


def _fragment_payload(uri: str) -> Any:
    fragment = uri.partition("#")[2]
    return dag_cbor.decode(base64.urlsafe_b64decode(fragment + "=" * (-len(fragment) % 4))[:-4])


# --- strategies --------------------------------------------------------------------------

_key32 = st.binary(min_size=32, max_size=32)
_names = st.none() | st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=120)
_addresses = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=60).map(lambda s: "/" + s)
# Display names as profiles write them: visible characters, single spaces.
_inviters = st.none() | st.text(st.characters(exclude_categories=("Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp")),
                                min_size=1, max_size=64).map(
    lambda s: unicodedata.normalize("NFC", " ".join(s.split()))).filter(lambda s: 1 <= len(s) <= 64)


@st.composite
def links(draw: st.DrawFn) -> InviteLink:
    role = draw(st.sampled_from(LINK_ROLES))
    thread_id = ThreadId.from_random(draw(st.sampled_from(ThreadVariant)), draw(_key32))
    addresses = tuple(draw(st.lists(_addresses, max_size=MAX_ADDRESSES)))
    return InviteLink(thread_id, role, draw(_key32), draw(_names), addresses, draw(_inviters), draw(st.booleans()))


_cbor_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64 - 1) | st.binary(max_size=40) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=20,
)


# --- round trips ---------------------------------------------------------------------------

@pytest.mark.parametrize("role", [Role.FOLLOW, Role.READ, Role.WRITE])
def test_a_link_round_trips(role: Role) -> None:
    link = _link(role, name="Holiday 2024 — Crète & co", addresses=(ADDRESS, "/ip6/::1/tcp/4001"))
    uri = link.to_uri()
    assert uri.startswith(f"threads://join/{THREAD_ID}?name=Holiday%202024%20%E2%80%94%20Cr%C3%A8te%20%26%20co&addr=/ip4/")
    assert InviteLink.parse(uri) == link


def test_a_bare_link_has_no_query() -> None:
    link = _link(Role.READ)
    assert "?" not in link.to_uri()
    assert InviteLink.parse(link.to_uri()) == link


@given(links())
def test_any_valid_link_round_trips(link: InviteLink) -> None:
    uri = link.to_uri()
    assert len(uri) <= MAX_LINK_LENGTH
    assert InviteLink.parse(uri) == link


def test_the_fragment_is_the_documented_payload() -> None:
    assert _fragment_payload(_link(Role.READ).to_uri()) == {"v": 2, "role": "read", "invite": SEED}


def test_the_link_format_matches_its_test_vector() -> None:
    """docs/PROTOCOL.md §"Invite links" gives this vector: a fixed thread ID
    (random part bytes 0..31), seed (bytes 100..131), name, inviter and address."""
    link = _link(Role.WRITE, name="Summer", inviter="Alice", addresses=(ADDRESS,))
    assert link.to_uri() == VECTOR
    assert InviteLink.parse(VECTOR) == link


def test_a_link_whose_joiners_are_approved_by_hand_matches_its_test_vector() -> None:
    """docs/PROTOCOL.md §"Invite links", second vector: the first one with
    `"approve": true` added to the payload (and so another check)."""
    link = _link(Role.WRITE, name="Summer", inviter="Alice", addresses=(ADDRESS,), approve=True)
    assert link.to_uri() == APPROVE_VECTOR
    assert InviteLink.parse(APPROVE_VECTOR) == link and InviteLink.parse(APPROVE_VECTOR).approve
    assert not InviteLink.parse(VECTOR).approve  # a link without it is as before, byte for byte
    assert _fragment_payload(APPROVE_VECTOR) == {"v": 2, "role": "write", "invite": SEED, "approve": True}
    assert "approve" not in _fragment_payload(VECTOR)


@given(links())
def test_the_approval_flag_survives_the_round_trip_and_is_written_only_when_set(link: InviteLink) -> None:
    payload = _fragment_payload(link.to_uri())
    assert ("approve" in payload) is link.approve
    assert InviteLink.parse(link.to_uri()).approve is link.approve


def test_the_seed_stays_out_of_repr() -> None:
    link = _link()
    assert SEED.hex() not in repr(link) and repr(SEED) not in repr(link)


def test_a_link_of_the_version_that_carried_keys_is_refused_with_a_word_to_ask_for_a_new_one() -> None:
    old = {"v": 1, "role": "read", "invite": SEED, "keys": [[0, os.urandom(32), os.urandom(32)]]}
    with pytest.raises(InvalidLinkError, match="made by an older version of Threads Desktop; ask for a new one"):
        InviteLink.parse(_with_payload(cbor.encode(old), query="?name=Summer"))


@pytest.mark.parametrize(
    "extra",
    [
        {"invite_seed": SEED[:31]},
        {"role": Role.DELETE},
        {"role": Role.NO_ACCESS},
        {"name": ""},
        {"name": "x" * 121},
        {"name": "two\nlines"},
        {"name": "\ud800"},
        {"addresses": ("ip4/1.2.3.4",)},
        {"addresses": ("/" + "x" * 256,)},
        {"addresses": ("/has space",)},
        {"addresses": (ADDRESS,) * (MAX_ADDRESSES + 1)},
        {"addresses": [ADDRESS]},
        {"approve": 1},
    ],
)
def test_a_link_refuses_bad_fields(extra: dict[str, Any]) -> None:
    fields: dict[str, Any] = {"thread_id": THREAD_ID, "role": Role.READ, "invite_seed": SEED}
    with pytest.raises(InvalidLinkError):
        InviteLink(**(fields | extra))


def test_to_uri_refuses_a_link_longer_than_the_limit() -> None:
    addresses = tuple("/" + "x" * 255 for _ in range(MAX_ADDRESSES))
    assert len(_link(addresses=addresses, name="x" * 120).to_uri()) <= MAX_LINK_LENGTH
    with pytest.raises(InvalidLinkError):  # 120 emoji of 12 link characters each, and the addresses
        _link(addresses=addresses, name="\U0001F600" * 120, inviter="\U0001F600" * 64).to_uri()


# --- corruption --------------------------------------------------------------------------------

@given(links(), st.data())
def test_any_truncation_fails(link: InviteLink, data: st.DataObject) -> None:
    uri = link.to_uri()
    length = data.draw(st.integers(0, len(uri) - 1))
    with pytest.raises(InvalidLinkError):
        InviteLink.parse(uri[:length])


@settings(max_examples=300)
@given(links(), st.data())
def test_any_change_to_the_thread_id_or_fragment_fails(link: InviteLink, data: st.DataObject) -> None:
    uri = link.to_uri()
    start = uri.index("#") + 1
    spans = [range(len("threads://join/"), len("threads://join/") + len(str(link.thread_id))), range(start, len(uri))]
    index = data.draw(st.sampled_from(spans[0]) | st.sampled_from(spans[1]))
    char = data.draw(st.characters().filter(lambda c: c != uri[index]))
    with pytest.raises(InvalidLinkError):
        InviteLink.parse(uri[:index] + char + uri[index + 1 :])


@given(st.text(max_size=300) | st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=300))
def test_random_text_is_refused(text: str) -> None:
    with pytest.raises(InvalidLinkError):
        InviteLink.parse(text)


@given(st.text(st.sampled_from("=&%/?#name addr;+x2F" + "Aa0_-é"), max_size=60), st.text(max_size=60))
def test_random_text_after_a_valid_prefix_is_refused(query: str, fragment: str) -> None:
    with pytest.raises(InvalidLinkError):
        InviteLink.parse(f"threads://join/{THREAD_ID}?{query}#{fragment}")


@given(st.binary(max_size=3000))
def test_random_bytes_as_the_fragment_are_refused(data: bytes) -> None:
    fragment = base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    with pytest.raises(InvalidLinkError):
        InviteLink.parse(f"threads://join/{THREAD_ID}#{fragment}")


@given(st.binary(max_size=3000))
def test_random_bytes_with_a_valid_check_are_refused(payload: bytes) -> None:
    with pytest.raises(InvalidLinkError):
        InviteLink.parse(_with_payload(payload))


@given(_cbor_values)
def test_random_dag_cbor_with_a_valid_check_is_refused(value: Any) -> None:
    with pytest.raises(InvalidLinkError):
        InviteLink.parse(_with_payload(cbor.encode(value)))


@given(st.sampled_from(["v", "role", "invite", "approve"]), _cbor_values)
def test_any_field_of_the_wrong_kind_is_refused(field: str, value: Any) -> None:
    payload = _fragment_payload(_link(Role.READ).to_uri())
    payload[field] = value
    try:
        InviteLink.parse(_with_payload(cbor.encode(payload)))
    except InvalidLinkError:
        return
    # The only changes that may still parse: the same version, another reading role, another seed.
    assert (
        (field == "v" and type(value) is int and value == 2)
        or (field == "role" and value in ("read", "write"))
        or (field == "invite" and isinstance(value, bytes) and len(value) == 32)
        or (field == "approve" and value is True)
    )


@pytest.mark.parametrize(
    "change",
    [
        {"v": 1},
        {"v": 3},
        {"v": True},
        {"v": 2.0},
        {"role": "delete"},
        {"role": "no-access"},
        {"role": "READ"},
        {"invite": SEED[:31]},
        {"extra": 1},
        {"keys": [[0, os.urandom(32), os.urandom(32)]]},  # keys: only version 1 carried them
        {"approve": False},  # never written: a link without approval leaves the flag out
        {"approve": 1},
        {"approve": "true"},
        {"approve": None},
    ],
)
def test_a_payload_breaking_the_rules_is_refused(change: dict[str, Any]) -> None:
    payload = _fragment_payload(_link(Role.READ).to_uri()) | change
    with pytest.raises(InvalidLinkError):
        InviteLink.parse(_with_payload(cbor.encode(payload)))


def test_a_payload_without_a_field_is_refused() -> None:
    payload = _fragment_payload(_link().to_uri())
    del payload["invite"]
    with pytest.raises(InvalidLinkError, match="missing or unknown"):
        InviteLink.parse(_with_payload(cbor.encode(payload)))


def test_an_altered_link_says_so() -> None:
    uri = _link().to_uri()
    altered = uri[:-5] + ("A" if uri[-5] != "A" else "B") + uri[-4:]
    with pytest.raises(InvalidLinkError, match="truncated or altered"):
        InviteLink.parse(altered)


# --- the shape of the link ---------------------------------------------------------------------

def _uri(**extra: Any) -> str:
    return _link(**extra).to_uri()


@pytest.mark.parametrize(
    "text",
    [
        _uri().replace("threads://", "thread://"),
        _uri().replace("threads://", "THREADS://"),
        _uri().replace("threads://", "https://"),
        _uri().replace("://join/", "://joins/"),
        _uri().replace("://join/", "://join//"),
        _uri().replace("://join/", ":/join/"),
        _uri().replace(str(THREAD_ID), str(THREAD_ID) + "/x"),
        _uri().replace(str(THREAD_ID), str(THREAD_ID).upper()),
        _uri().replace(str(THREAD_ID), ""),
        _uri().partition("#")[0],
        _uri().partition("#")[0] + "#",
        _uri().replace("#", "?#"),
        _uri().replace("#", "?name#"),
        _uri().replace("#", "?name=a&#"),
        _uri().replace("#", "?token#"),
        _uri().replace("#", "?Name=abc#"),
        _uri().replace("#", "?name=a&name=b#"),
        _uri().replace("#", "?name=%E2%80#"),  # not UTF-8
        _uri().replace("#", "?name=50%#"),
        _uri().replace("#", "?name=a%0Ab#"),  # a line break
        _uri().replace("#", "?addr=ip4/1.2.3.4#"),
        _uri().replace("#", "?addr=#"),
        _uri().replace("#", f"?addr=/{'x' * 256}#"),
        _uri().replace("#", "?" + "&".join([f"addr={ADDRESS}"] * (MAX_ADDRESSES + 1)) + "#"),
        _uri().replace("#", f"?name={'x' * 121}#"),
        _uri() + "=",
        _uri() + " ",
        " " + _uri(),
        _uri() + "#",
        _uri(name="x").replace("name=x", "name=\u00e9"),  # raw non-ASCII
        _uri().replace("#", "?name=" + "x" * 4096 + "#"),
    ],
)
def test_a_malformed_link_is_refused(text: str) -> None:
    with pytest.raises(InvalidLinkError):
        InviteLink.parse(text)


def test_only_text_is_a_link() -> None:
    for value in (None, b"threads://join/", 42):
        with pytest.raises(InvalidLinkError):
            InviteLink.parse(value)  # type: ignore[arg-type]


def test_query_values_are_percent_decoded() -> None:
    uri = _uri().replace("#", "?addr=%2Fdns4%2Fexample.org%2Ftcp%2F4001&name=a%2Bb+c#")
    link = InviteLink.parse(uri)
    assert link.addresses == ("/dns4/example.org/tcp/4001",)
    assert link.name == "a+b+c"  # '+' is not a space here: we never write it for one


# --- the inviter's name, and links inside messages ------------------------------------------

def test_a_link_names_who_made_it_and_a_link_without_that_still_parses() -> None:
    link = _link(name="Trip", inviter="Alice Émile", addresses=(ADDRESS,))
    uri = link.to_uri()
    assert "&from=Alice%20%C3%89mile&addr=" in uri
    assert InviteLink.parse(uri).inviter == "Alice Émile"
    old = uri.replace("&from=Alice%20%C3%89mile", "")  # as links were made before the inviter's name
    assert InviteLink.parse(old) == replace(link, inviter=None)


@pytest.mark.parametrize(("inviter", "shown"), [("", None), (" Alice", "Alice"), ("Al  ice", "Al ice"),
                                               ("A\u202eB", "A B"), ("x" * 65, "x" * 64), ("A\nB", "A B"),
                                               ("\u200b", None)])
def test_an_inviters_name_is_made_clean_when_written_and_cleaned_when_read(inviter: str, shown: str | None) -> None:
    with pytest.raises(InvalidLinkError):
        _link(inviter=inviter)  # we write only names as profiles keep them
    # A link made elsewhere: the name is a hint, cleaned as display names are, never a reason to refuse.
    parsed = InviteLink.parse(_link().to_uri().replace("#", "?from=" + urllib.parse.quote(inviter) + "#"))
    assert parsed.inviter == shown


@given(st.text(max_size=200))
def test_any_inviters_name_in_a_link_is_read_as_a_name_a_profile_could_keep(raw: str) -> None:
    from threads_desktop.engine.modules.profiles import name_from_peer

    parsed = InviteLink.parse(_link().to_uri().replace("#", "?from=" + urllib.parse.quote(raw) + "#"))
    assert parsed.inviter == name_from_peer(raw)


@given(links(), st.sampled_from(["", "Join my album: ", "Hi!\n\nHere: <", "« "]),
       st.sampled_from(["", ".", " ", "!", ">", " — see you\nBob", "\nThanks!", ")."]),
       st.integers(0, 3), st.sampled_from(["\n", "\r\n", "\n  ", " \n> "]))
def test_a_link_is_found_in_a_message_around_it_even_wrapped_over_lines(
        link: InviteLink, before: str, after: str, breaks: int, line_break: str) -> None:
    uri = link.to_uri()
    cuts = sorted({len(uri) * (n + 1) // (breaks + 1) for n in range(breaks)} - {len(uri)})
    lines = [uri[a:b] for a, b in zip([0, *cuts], [*cuts, len(uri)], strict=True)]
    wrapped = line_break.join(lines)
    assert InviteLink.find(before + wrapped + after) == link


@given(st.text(max_size=300))
def test_text_without_a_link_is_refused_by_find(text: str) -> None:
    with pytest.raises(InvalidLinkError):
        InviteLink.find(text)


# --- QR codes ----------------------------------------------------------------------------------

def _largest_qr_link() -> str:
    """The longest ASCII name and eight full addresses.

    (A name of 120 non-ASCII characters, six link characters each, would not
    fit with eight addresses: the UI must then offer fewer addresses.)"""
    addresses = tuple(f"{ADDRESS[:-4]}{i:04d}" for i in range(MAX_ADDRESSES))
    return _uri(role=Role.WRITE, name="x" * 120, addresses=addresses)


def test_a_qr_code_is_written_as_png_and_svg(tmp_path: Path) -> None:
    uri = _uri(name="Album", addresses=(ADDRESS,))
    write_qr(uri, tmp_path / "link.png")
    assert (tmp_path / "link.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    write_qr(uri, tmp_path / "link.SVG")
    assert ET.parse(tmp_path / "link.SVG").getroot().tag == "{http://www.w3.org/2000/svg}svg"
    assert qr_png_bytes(uri).startswith(b"\x89PNG\r\n\x1a\n")


def test_a_qr_code_needs_a_known_format(tmp_path: Path) -> None:
    for name in ("link.jpg", "link", "link.png.txt"):
        with pytest.raises(InvalidInputError):
            write_qr("x", tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_the_largest_ascii_link_fits_in_a_qr_code(tmp_path: Path) -> None:
    uri = _largest_qr_link()
    write_qr(uri, tmp_path / "link.png")  # segno raises when the data does not fit
    assert qr_png_bytes(uri)


def test_text_too_long_for_a_qr_code_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        qr_png_bytes("x" * MAX_LINK_LENGTH)


@pytest.mark.parametrize("uri", [_uri(role=Role.FOLLOW), _largest_qr_link()])
def test_a_qr_code_decodes_to_the_exact_link(uri: str) -> None:
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image

    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr_png_bytes(uri))))
    assert [result.text for result in results] == [uri]
    assert InviteLink.parse(results[0].text).to_uri() == uri


def test_a_query_key_a_later_version_adds_is_skipped_and_the_link_still_opens() -> None:
    link = InviteLink.parse(_uri(name="Lisbon").replace("#", "&colour=blue&x-2=%E2%9C%88#"))
    assert link.name == "Lisbon"
    with pytest.raises(InvalidLinkError):  # only lowercase words: anything else is damage
        InviteLink.parse(_uri().replace("#", "?Colour=blue#"))
