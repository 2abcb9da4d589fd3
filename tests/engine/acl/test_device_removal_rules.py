"""Which device removals count (acl/device_rules.Removals), as a pure
Evaluation: the same on every peer whatever order the bindings arrived in, a
device's second binding cannot undo its removal, an admit of a removed
device holds nothing, and removals of made-up devices are bounded."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.engine.acl.test_policy import causal_order
from threads_desktop.engine.acl.control_ops import (
    ACL_ENTITY,
    Admit,
    Genesis,
    Grant,
    Invite,
    Keys,
    Undevice,
    binding_message,
    join_message,
    make_bind,
    owner_random,
)
from threads_desktop.engine.acl.devices import MAX_DEVICES, DeviceCert, issue_cert, sign_removal
from threads_desktop.engine.acl.policy import AclEvent, Evaluation
from threads_desktop.engine.core.ids import PeerId, ThreadId, ThreadVariant
from threads_desktop.engine.core.keys import Identity, SigningKey
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.eventstore.stamps import stamp

NONCE = bytes(16)
FOUNDER = Identity.from_seeds(bytes([1]) * 32, bytes([11]) * 32)
DEVICE = Identity.from_seeds(bytes([2]) * 32, bytes([12]) * 32)  # Mallory's device
PERSON = SigningKey.from_seed(bytes([3]) * 32)  # Mallory's person key (an admin of the thread)
MADE_UP = SigningKey.from_seed(bytes([4]) * 32)  # a person key nobody was ever granted anything
L0, LA, LB = (SigningKey.from_seed(bytes([i]) * 32).peer_id for i in (21, 22, 23))
THREAD = ThreadId.from_random(ThreadVariant.ACCESS_CONTROLLED, owner_random(FOUNDER.peer_id, NONCE))
X = str(SigningKey.from_seed(bytes([9]) * 32).peer_id)


def ev(log: PeerId, seq: int, deps: dict[PeerId, int], *ops: object, t: int = 0) -> AclEvent:
    return AclEvent(log.raw, seq, stamp(1000 + t, log, seq), (1000 + t) << 16, {k.raw: v for k, v in deps.items()},
                    tuple(ops))  # type: ignore[arg-type]


def two_bindings(second: DeviceCert | None) -> list[AclEvent]:
    """The founder makes Mallory's person an admin; her device binds log A
    with her certificate and log B with `second`; her person removes the
    device; concurrently, log A grants X read."""
    person = str(PERSON.peer_id)
    f1 = ev(L0, 1, {}, make_bind(FOUNDER, THREAD, L0), Genesis(NONCE), t=1)
    f2 = ev(L0, 2, {}, Grant(person, Role.WRITE), Grant(person, Role.WRITE, ACL_ENTITY), t=2)
    a1 = ev(LA, 1, {L0: 2}, make_bind(DEVICE, THREAD, LA, issue_cert(PERSON, DEVICE.peer_id, "phone", 5)), t=3)
    b1 = ev(LB, 1, {L0: 2}, make_bind(DEVICE, THREAD, LB, second), t=4)
    f3 = ev(L0, 3, {LA: 1, LB: 1}, Undevice(sign_removal(PERSON, DEVICE.peer_id, 7)), t=5)
    a2 = ev(LA, 2, {L0: 2}, Grant(X, Role.READ), t=6)  # concurrent with the removal
    b2 = ev(LB, 2, {L0: 2, LA: 1}, Grant(X, Role.FOLLOW), t=7)  # so is this
    return [f1, f2, a1, b1, f3, a2, b2]


def late_binding() -> list[AclEvent]:
    """A removal of DEVICE signed by a made-up person counts only once
    DEVICE binds a log under that person too (its own doing): the binding,
    wherever it comes in the order, turns DEVICE's earlier concurrent grant
    invalid."""
    person = str(PERSON.peer_id)
    f1 = ev(L0, 1, {}, make_bind(FOUNDER, THREAD, L0), Genesis(NONCE), t=1)
    f2 = ev(L0, 2, {}, Grant(person, Role.WRITE), Grant(person, Role.WRITE, ACL_ENTITY), t=2)
    a1 = ev(LA, 1, {L0: 2}, make_bind(DEVICE, THREAD, LA, issue_cert(PERSON, DEVICE.peer_id, "phone", 5)), t=3)
    f3 = ev(L0, 3, {LA: 1}, Undevice(sign_removal(MADE_UP, DEVICE.peer_id, 7)), t=4)
    a2 = ev(LA, 2, {L0: 2}, Grant(X, Role.READ), t=5)  # concurrent with the removal
    b1 = ev(LB, 1, {L0: 2}, make_bind(DEVICE, THREAD, LB, issue_cert(MADE_UP, DEVICE.peer_id, "x", 1)), t=6)
    return [f1, f2, a1, f3, a2, b1]


def incrementally(events: list[AclEvent]) -> Evaluation:
    """As the gate judges: one event at a time, all over again when extend says so."""
    evaluation = Evaluation(THREAD, [])
    for n, event in enumerate(events, 1):
        if not evaluation.extend(event):
            evaluation = Evaluation(THREAD, events[:n])
    return evaluation


def outcome(evaluation: Evaluation) -> object:
    device = str(DEVICE.peer_id)
    return (evaluation.removals.is_removed(device),
            {(e.log, e.seq): evaluation.final.valid[i] for i, e in enumerate(evaluation.events)},
            sorted(evaluation.current().roles(X)))


def test_verdicts_do_not_depend_on_the_order_two_bindings_of_one_device_arrived_in() -> None:
    f1, f2, a1, b1, f3, a2, b2 = two_bindings(None)
    one = Evaluation(THREAD, [f1, f2, a1, b1, f3, a2, b2])
    two = Evaluation(THREAD, [f1, f2, b1, a1, f3, a2, b2])
    assert outcome(one) == outcome(two)
    assert one.removals.is_removed(str(DEVICE.peer_id))
    assert Role.READ not in one.current().roles(X)  # the removed device's concurrent grant is refused


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["none", "made-up", "late"]), st.integers(0, 10_000))
def test_a_device_with_two_bindings_is_judged_the_same_in_any_causal_order(second: str, seed: int) -> None:
    if second == "late":
        events = late_binding()
    else:
        events = two_bindings(None if second == "none" else issue_cert(MADE_UP, DEVICE.peer_id, "x", 1))
    reference = Evaluation(THREAD, events)
    assert reference.removals.is_removed(str(DEVICE.peer_id))
    for attempt in range(3):
        order = causal_order(events, random.Random(seed * 5 + attempt))
        assert outcome(Evaluation(THREAD, order)) == outcome(reference)
        assert outcome(incrementally(order)) == outcome(reference)


def test_a_second_binding_under_a_made_up_person_leaves_the_devices_epochs_clean() -> None:
    f1, f2, a1, b1, _f3, _a2, _b2 = two_bindings(issue_cert(MADE_UP, DEVICE.peer_id, "x", 1))
    keys = ev(L0, 3, {LA: 1, LB: 1}, Keys(1, ((str(DEVICE.peer_id), b"box", True),)), t=5)
    evaluation = Evaluation(THREAD, [f1, f2, a1, b1, keys])
    assert evaluation.clean(1)  # the device is its person's, who reads


def test_an_admit_of_a_removed_device_holds_nothing() -> None:
    f1, f2, a1, _b1, _f3, _a2, _b2 = two_bindings(None)
    invite = SigningKey.from_seed(bytes([5]) * 32)
    public = invite.peer_id.public_key
    offer = ev(L0, 3, {LA: 1}, Invite(public, Role.WRITE, 0, 5, 0), t=5)
    removal = ev(L0, 4, {LA: 1}, Undevice(sign_removal(PERSON, DEVICE.peer_id, 7)), t=6)
    exchange = DEVICE.exchange_public_key()
    bind_sig = DEVICE.signing.sign(binding_message(THREAD, LB, DEVICE.peer_id, exchange))
    admit = Admit(public, LB, DEVICE.peer_id, exchange, bind_sig,
                  invite.sign(join_message(THREAD, public, LB, DEVICE.peer_id)), None)
    again = ev(L0, 5, {LA: 1}, admit, t=7)  # the founder lets the removed device in with a fresh link
    evaluation = Evaluation(THREAD, [f1, f2, a1, offer, removal, again])
    assert not evaluation.final.valid[-1]
    assert "removed" in str(evaluation.final.reasons[-1])
    assert str(DEVICE.peer_id) not in evaluation.current().members()


def test_removals_of_devices_bound_nowhere_count_for_a_bound_person_only_and_at_most_max_devices() -> None:
    f1, f2, a1, *_ = two_bindings(None)
    person = PERSON.peer_id
    made_up = [ev(LA, 2 + n, {L0: 2}, Undevice(sign_removal(PERSON, SigningKey.generate().peer_id, 9)), t=10 + n)
               for n in range(MAX_DEVICES + 3)]
    stranger = SigningKey.generate()  # removes itself: no person of the thread
    itself = ev(LA, MAX_DEVICES + 5, {L0: 2}, Undevice(sign_removal(stranger, stranger.peer_id, 9)), t=200)
    evaluation = Evaluation(THREAD, [f1, f2, a1, *made_up, itself])
    assert len(evaluation.removals.removed_devices(str(person))) == MAX_DEVICES
    assert not evaluation.removals.is_removed(str(stranger.peer_id))
