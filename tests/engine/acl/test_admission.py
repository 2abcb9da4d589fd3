"""The admission messages: strict codecs (whatever a stranger sends is a
clean InvalidInputError), and a request proves what it claims."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from threads_desktop.engine.acl.admission import (
    MAX_ANSWER_BYTES,
    MAX_REQUEST_BYTES,
    AdmissionAnswer,
    AdmissionRequest,
)
from threads_desktop.engine.acl.control_ops import binding_message, join_message
from threads_desktop.engine.codec import cbor
from threads_desktop.engine.core.errors import InvalidInputError, SignatureError
from threads_desktop.engine.core.ids import ThreadId, ThreadVariant
from threads_desktop.engine.core.keys import Identity, SigningKey
from threads_desktop.engine.core.members import REFUSAL_REASONS, AdmissionStatus, Role

THREAD = ThreadId.from_random(ThreadVariant.ACCESS_CONTROLLED, bytes(range(32)))

_bytes32 = st.binary(min_size=32, max_size=32)
_bytes64 = st.binary(min_size=64, max_size=64)
_peer_ids = _bytes32.map(lambda seed: SigningKey.from_seed(seed).peer_id)
_names = st.none() | st.sampled_from(["Bob", "Zoë Martin", "李雷", "x" * 64])
_cbor_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64 - 1) | st.binary(max_size=80) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=9),
    max_leaves=24,
)


@st.composite
def requests(draw: st.DrawFn) -> AdmissionRequest:
    thread = ThreadId.from_random(draw(st.sampled_from(ThreadVariant)), draw(_bytes32))
    return AdmissionRequest(thread, draw(_bytes32), draw(_peer_ids), draw(_peer_ids), draw(_bytes32),
                            draw(_bytes64), draw(_bytes64), draw(_names))


@st.composite
def answers(draw: st.DrawFn) -> AdmissionAnswer:
    status = draw(st.sampled_from(AdmissionStatus))
    if status is AdmissionStatus.ADMITTED:
        return AdmissionAnswer(status, draw(st.binary(min_size=1, max_size=4096)),
                               draw(st.sampled_from([Role.FOLLOW, Role.READ, Role.WRITE])))
    if status is AdmissionStatus.REFUSED:
        return AdmissionAnswer(status, reason=draw(st.sampled_from(REFUSAL_REASONS)))
    return AdmissionAnswer(status)


@given(requests())
def test_any_request_round_trips_within_its_limit(request: AdmissionRequest) -> None:
    data = request.to_bytes()
    assert len(data) <= MAX_REQUEST_BYTES
    assert AdmissionRequest.from_bytes(data) == request


@given(answers())
def test_any_answer_round_trips_within_its_limit(answer: AdmissionAnswer) -> None:
    data = answer.to_bytes()
    assert len(data) <= MAX_ANSWER_BYTES
    assert AdmissionAnswer.from_bytes(data) == answer


@given(st.binary(max_size=MAX_ANSWER_BYTES + 16))
def test_garbage_bytes_are_a_clean_error(data: bytes) -> None:
    for parse in (AdmissionRequest.from_bytes, AdmissionAnswer.from_bytes):
        try:
            parse(data)
        except InvalidInputError:
            continue


@given(_cbor_values)
def test_any_cbor_value_is_a_message_or_a_clean_error(value: Any) -> None:
    data = cbor.encode(value)
    for parse in (AdmissionRequest.from_bytes, AdmissionAnswer.from_bytes):
        try:
            parse(data)
        except InvalidInputError:
            continue


@given(requests(), st.sampled_from(["v", "thread", "invite", "log", "identity", "exchange", "bind", "sig", "name"]),
       _cbor_values)
def test_a_request_field_of_the_wrong_kind_is_refused(request: AdmissionRequest, field: str, value: Any) -> None:
    fields = cbor.decode(request.to_bytes(), max_size=MAX_REQUEST_BYTES)
    fields[field] = value
    try:
        parsed = AdmissionRequest.from_bytes(cbor.encode(fields))
    except InvalidInputError:
        return
    # What may still parse: a name (a hint, cleaned), or bytes of the right kind.
    assert field == "name" or parsed.to_bytes() == cbor.encode(fields)


@given(answers(), st.sampled_from(["status", "box", "role", "reason"]), _cbor_values)
def test_an_answer_field_of_the_wrong_kind_is_refused(answer: AdmissionAnswer, field: str, value: Any) -> None:
    fields = cbor.decode(answer.to_bytes(), max_size=MAX_ANSWER_BYTES)
    fields[field] = value
    try:
        parsed = AdmissionAnswer.from_bytes(cbor.encode(fields))
    except InvalidInputError:
        return
    assert parsed.to_bytes() == cbor.encode(fields)


@pytest.mark.parametrize("fields", [
    {"status": "admitted"},                                            # no keys
    {"status": "admitted", "box": b"x", "role": "delete"},
    {"status": "admitted", "box": b"x" * 4097, "role": "read"},
    {"status": "refused"},                                             # no reason
    {"status": "refused", "reason": "because"},
    {"status": "unknown", "box": b"x", "role": "read"},                # says more than it may
    {"status": "waiting-approval", "reason": "declined"},
    {"status": "ADMITTED", "box": b"x", "role": "read"},
])
def test_an_answer_breaking_the_rules_is_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError):
        AdmissionAnswer.from_bytes(cbor.encode(fields))


def test_oversized_messages_are_refused_before_decoding() -> None:
    with pytest.raises(InvalidInputError, match="at most"):
        AdmissionRequest.from_bytes(b"\xa0" + bytes(MAX_REQUEST_BYTES))
    with pytest.raises(InvalidInputError, match="at most"):
        AdmissionAnswer.from_bytes(b"\xa0" + bytes(MAX_ANSWER_BYTES))


def test_a_joiners_name_is_cleaned_as_display_names_are() -> None:
    request = _signed_request()
    fields = cbor.decode(request.to_bytes(), max_size=MAX_REQUEST_BYTES)
    fields["name"] = "  Bob\u202e\n the  builder " + "x" * 100
    parsed = AdmissionRequest.from_bytes(cbor.encode(fields))
    assert parsed.name is not None and parsed.name.startswith("Bob the builder") and len(parsed.name) == 64


def _signed_request(identity: Identity | None = None, invite: SigningKey | None = None) -> AdmissionRequest:
    identity = identity or Identity.generate()
    invite = invite or SigningKey.generate()
    log = SigningKey.generate().peer_id
    exchange = identity.exchange_public_key()
    invite_public = invite.peer_id.public_key
    return AdmissionRequest(THREAD, invite_public, log, identity.peer_id, exchange,
                            identity.signing.sign(binding_message(THREAD, log, identity.peer_id, exchange)),
                            invite.sign(join_message(THREAD, invite_public, log, identity.peer_id)), "Bob")


def test_a_request_proves_the_invite_and_the_exchange_key() -> None:
    request = _signed_request()
    request.verify()
    someone_else = Identity.generate().peer_id
    for forged in (
        AdmissionRequest(request.thread_id, request.invite_key, request.log_id, someone_else, request.exchange,
                         request.bind_sig, request.sig),                      # another identity
        AdmissionRequest(request.thread_id, request.invite_key, request.log_id, request.identity, os.urandom(32),
                         request.bind_sig, request.sig),                      # another exchange key
        AdmissionRequest(request.thread_id, SigningKey.generate().peer_id.public_key, request.log_id,
                         request.identity, request.exchange, request.bind_sig, request.sig),   # another invite
        AdmissionRequest(ThreadId.from_random(ThreadVariant.ACCESS_CONTROLLED, os.urandom(32)), request.invite_key,
                         request.log_id, request.identity, request.exchange, request.bind_sig, request.sig),
    ):
        with pytest.raises(SignatureError):
            forged.verify()
