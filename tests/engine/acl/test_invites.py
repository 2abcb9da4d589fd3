"""Invites and joins: what a link grants, and what it must not."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.engine.eventstore.peers import WallClock, admit, force_commit, join, peer, start_thread, sync
from threads_desktop.engine.acl.control_ops import Admit, Join, acl_payload, join_message, make_bind
from threads_desktop.engine.acl.links import InviteLink
from threads_desktop.engine.core.errors import AccessDeniedError, InvalidLinkError, MissingKeyError
from threads_desktop.engine.core.keys import SigningKey
from threads_desktop.engine.core.members import AdmissionStatus, Role
from threads_desktop.engine.core.types import ChangeSet, ThreadKind
from threads_desktop.engine.node import Node

OpenNode = Callable[[str], Node]



def test_a_read_link_lets_the_joiner_read_but_not_write(open_node: OpenNode) -> None:
    a, reader = open_node("a"), open_node("reader")
    thread = start_thread(a)
    a.chat(thread).post("for your eyes")
    join(a, reader, thread, role=Role.READ)
    assert [m.data["text"] for m in reader.chat(thread).messages.find()] == ["for your eyes"]
    assert reader.membership.roles(thread) == {Role.FOLLOW, Role.READ}
    assert reader.get_thread(thread).can_read and not reader.get_thread(thread).can_write
    with pytest.raises(AccessDeniedError, match="may not write"):
        reader.chat(thread).post("let me in")
    force_commit(reader, thread, [{"type": "db", "ops": [
        {"op": "create", "c": "message", "id": "r" * 24, "set": {"text": "forced"}}]}])
    sync(reader, a, thread)
    assert [m.data["text"] for m in a.chat(thread).messages.find()] == ["for your eyes"]
    assert any("may not write" in reason for _, _, reason in a.events.refused(thread))


def test_a_follow_link_stores_and_relays_everything_and_decrypts_nothing(open_node: OpenNode) -> None:
    a, follower, late = open_node("a"), open_node("follower"), open_node("late")
    thread = start_thread(a, name="Family secrets 7Q")
    secrets = ["Family secrets 7Q", *(f"secret message number {i}" for i in range(5))]
    for text in secrets[1:]:
        a.chat(thread).post(text)
    join(a, follower, thread, role=Role.FOLLOW)
    assert follower.membership.members(thread)  # control events are open to followers
    assert not follower.get_thread(thread).can_read
    with pytest.raises(MissingKeyError):
        follower.chat(thread).post("x")
    # The follower relays: a reader who only ever talks to it gets everything.
    join(a, late, thread, role=Role.READ)  # keys and the invite from a...
    late_log = late.store.own_log(thread)
    assert late_log is not None
    sync(follower, late, thread)           # ...records from the follower
    assert sorted(m.data["text"] for m in late.chat(thread).messages.find()) == sorted(secrets[1:])
    assert late.get_thread(thread).name == secrets[0]
    follower.close()
    files = sorted(follower.profile.directory.glob("profile.sqlite3*"))
    assert files
    for path in files:  # not a message, not even the thread's name
        data = path.read_bytes()
        assert not any(text.encode() in data for text in secrets)


def test_an_expired_invite_grants_nothing(open_node: Callable[..., Node]) -> None:
    clock = WallClock()
    a, late = open_node("a", now_seconds=clock), open_node("late")
    thread = start_thread(a)
    link = a.membership.invite(thread, Role.WRITE, expires_in=60)
    clock.advance(3600)                                   # asked an hour later, by the admin's clock
    late.membership.join(link)
    assert admit(a, late, thread).reason == "expired"
    assert late.membership.pending_join(thread) == (False, "expired")
    assert late.list_threads() == []
    assert {m.peer_id for m in a.membership.members(thread)} == {peer(a)}


def test_a_used_up_invite_admits_only_its_first_joiner(open_node: OpenNode) -> None:
    a, first, second = open_node("a"), open_node("first"), open_node("second")
    thread = start_thread(a)
    link = a.membership.invite(thread, Role.WRITE, uses=1)
    for joiner in (first, second):
        joiner.membership.join(InviteLink.parse(link.to_uri()))
    assert [admit(a, joiner, thread).status for joiner in (first, second)] == [AdmissionStatus.ADMITTED,
                                                                                 AdmissionStatus.REFUSED]
    assert second.membership.pending_join(thread) == (False, "used-up")
    [invite] = a.membership.invites(thread)
    assert (invite.uses, invite.used) == (1, 1)


def test_a_revoked_invite_grants_nothing(open_node: OpenNode) -> None:
    a, joiner = open_node("a"), open_node("joiner")
    thread = start_thread(a)
    link = a.membership.invite(thread, Role.WRITE)
    a.membership.revoke_invite(thread, a.membership.invites(thread)[0].key)
    joiner.membership.join(link)
    assert admit(a, joiner, thread).reason == "revoked"
    assert joiner.membership.pending_join(thread) == (False, "revoked")
    assert a.membership.invites(thread)[0].revoked


def test_a_forged_join_signature_is_refused_and_grants_nothing(open_node: OpenNode) -> None:
    a, intruder = open_node("a"), open_node("intruder")
    thread = start_thread(a)
    link = a.membership.invite(thread, Role.WRITE)
    # The intruder takes the link's keys but signs its join with a key of its own.
    intruder.store.create_thread(thread, a.store.thread_keys(thread)[0])  # as a v1 link gave them
    log = intruder.store.create_own_log(thread)
    sync(a, intruder, thread)
    invite_public = SigningKey.from_seed(link.invite_seed).peer_id.public_key
    forged = SigningKey.generate().sign(join_message(thread, invite_public, log, intruder.identity.peer_id))
    force_commit(intruder, thread, [acl_payload(make_bind(intruder.identity, thread, log),
                                                Join(invite_public, forged))], control=True)
    sync(intruder, a, thread)
    assert {m.peer_id for m in a.membership.members(thread) if m.roles} == {peer(a)}
    assert any("join signature" in reason for _, _, reason in a.events.refused(thread))


def test_a_join_replayed_into_another_thread_does_not_verify(open_node: OpenNode) -> None:
    a, b = open_node("a"), open_node("b")
    first = start_thread(a)
    join(a, b, first)
    [admitted] = [op for e in a._services.gate.evaluation(first).events for op in e.ops if isinstance(op, Admit)]
    # In a second thread, b copies the invite signature of its admission
    # (and the invite key it names) into a join of its own.
    second = a.create_thread(ThreadKind.CHAT, "second").thread_id
    join(a, b, second, role=Role.READ)
    force_commit(b, second, [acl_payload(Join(admitted.invite, admitted.signature))], control=True)
    sync(b, a, second)
    assert any("no invite" in reason or "not seen" in reason or "signature" in reason
               for _, _, reason in a.events.refused(second))
    assert Role.WRITE not in a.membership.roles(second, peer(b))


def test_a_truncated_or_altered_link_is_refused_with_a_clear_error(open_node: OpenNode) -> None:
    a, joiner = open_node("a"), open_node("joiner")
    thread = start_thread(a)
    text = a.membership.invite(thread, Role.READ).to_uri()
    for broken in (text[:-5], text[:-1] + ("A" if text[-1] != "A" else "B"), text.replace("join", "jion")):
        with pytest.raises(InvalidLinkError):
            joiner.membership.join(InviteLink.parse(broken))
    assert joiner.list_threads() == []


def test_a_member_who_joined_with_keys_older_than_a_rotation_gets_the_new_ones(open_node: OpenNode) -> None:
    a, b, late = open_node("a"), open_node("b"), open_node("late")
    thread = start_thread(a)
    link = a.membership.invite(thread, Role.READ)   # made before the rotation
    join(a, b, thread, role=Role.READ)
    a.membership.revoke(thread, peer(b), Role.READ)  # rotates the read key
    a.chat(thread).post("after the rotation")
    late.membership.join(link)
    admit(a, late, thread)  # the admitter seals the keys of now, not of when the link was made
    sync(a, late, thread)
    assert [m.data["text"] for m in late.chat(thread).messages.find()] == ["after the rotation"]


def test_a_direct_invite_is_sealed_to_one_peer_which_accepts_or_declines(open_node: OpenNode) -> None:
    from threads_desktop.engine.codec import cbor
    from threads_desktop.engine.core.errors import DecryptionError, SignatureError
    from threads_desktop.engine.crypto.sealedbox import seal_to

    a, b, c = open_node("a"), open_node("b"), open_node("c")
    thread = start_thread(a, name="Family")
    card = b.identity_card()
    sealed = a.membership.invite_peer(thread, card.peer_id, card.exchange_public_key, Role.WRITE, name="Family")
    with pytest.raises(DecryptionError):
        c.membership.receive_invite(sealed)          # sealed to b alone
    invite = b.membership.receive_invite(sealed)
    assert invite.sender == peer(a) and invite.link.role is Role.WRITE and invite.link.name == "Family"
    [(invite_id, listed)] = b.membership.direct_invites()
    assert listed == invite
    b.membership.accept_invite(invite_id)
    assert b.membership.direct_invites() == []
    admit(a, b, thread)
    sync(a, b, thread)
    sync(b, a, thread)
    assert Role.WRITE in a.membership.roles(thread, peer(b))

    declined = a.membership.invite_peer(thread, str(c.identity.peer_id), c.identity_card().exchange_public_key,
                                        Role.READ)
    c.membership.receive_invite(declined)
    [(invite_id, _)] = c.membership.direct_invites()
    c.membership.decline_invite(invite_id)
    assert c.membership.direct_invites() == [] and c.list_threads() == []

    # Someone else's name on an invite: the signature does not verify.
    forged = seal_to(card.exchange_public_key, cbor.encode(
        {"from": a.identity.peer_id.raw, "link": invite.link.to_uri(), "sig": bytes(64)}))
    with pytest.raises(SignatureError):
        b.membership.receive_invite(forged)


def test_an_invite_whose_delivery_fails_is_never_made(open_node: OpenNode) -> None:
    a = open_node("a")
    thread = a.create_thread(ThreadKind.ALBUM, "Trip").thread_id
    before = a.get_thread(thread).event_count
    heard: list[object] = []
    a.subscribe(heard.append)

    def save_to_a_full_disk(link: InviteLink) -> None:
        Path("/dev/full").write_text(link.to_uri())  # ENOSPC, as a full disk says it

    with pytest.raises(OSError):
        a.invite(thread, Role.WRITE, deliver=save_to_a_full_disk)
    assert a.membership.invites(thread) == [] and a.get_thread(thread).event_count == before
    assert heard == []  # nobody (the network) was told of an invite that does not exist
    link = a.invite(thread, Role.WRITE, deliver=lambda link: None)
    assert [i.role for i in a.membership.invites(thread)] == [Role.WRITE] and link.thread_id == thread
    assert heard


def test_an_invite_lasts_at_most_ten_years(open_node: OpenNode) -> None:
    from threads_desktop.engine.core.errors import InvalidInputError

    a = open_node("a")
    thread = a.create_thread(ThreadKind.CHAT, "Family").thread_id
    with pytest.raises(InvalidInputError, match="at most 10 years"):
        a.invite(thread, Role.READ, expires_in=999999 * 604800)
    assert a.membership.invites(thread) == []
    a.invite(thread, Role.READ, expires_in=10 * 365 * 86400)
    assert len(a.membership.invites(thread)) == 1


def test_revoking_yourself_is_refused_in_a_persons_words(open_node: OpenNode) -> None:
    from threads_desktop.engine.core.errors import InvalidInputError

    a = open_node("a")
    thread = a.create_thread(ThreadKind.CHAT, "Family").thread_id
    before = a.get_thread(thread).event_count
    for role in (Role.FOLLOW, Role.READ, Role.WRITE, Role.DELETE):
        with pytest.raises(InvalidInputError, match=r"^you cannot take roles from yourself") as refused:
            a.membership.revoke(thread, str(a.identity.peer_id), role)
        assert "12D3KooW" not in str(refused.value)
    assert a.get_thread(thread).event_count == before


def test_declining_a_direct_invite_publishes_that_the_invites_changed(open_node: OpenNode) -> None:
    """The operation publishes its own change: no caller has to announce it."""
    a, b = open_node("a"), open_node("b")
    thread = start_thread(a, name="Family")
    card = b.identity_card()
    b.membership.receive_invite(a.membership.invite_peer(thread, card.peer_id, card.exchange_public_key, Role.READ))
    [(invite_id, _)] = b.membership.direct_invites()
    heard: list[ChangeSet] = []
    b.subscribe(heard.append)
    b.decline_invite(invite_id)
    assert b.membership.direct_invites() == [] and [changes.invites for changes in heard] == [True]


def test_a_link_names_where_other_admins_may_be_found(open_node: OpenNode) -> None:
    """A link holds no keys: its holder must reach an admin, so it names
    up to three other admins the inviter knows an address of (not members
    who are no admins)."""
    from tests.engine.eventstore.peers import with_second_admin

    a, b, c, thread = with_second_admin(open_node)
    address_of = {node: f"/ip4/192.168.1.{n}/tcp/4141/p2p/{peer(node)}" for n, node in enumerate((b, c), 2)}
    for node, address in address_of.items():
        a._services.addresses.add(node.identity.peer_id, [address], 3600)
    link = InviteLink.parse(a.invite(thread, Role.READ).to_uri())
    assert link.addresses == (address_of[b],)   # a is offline: no address of its own


def test_an_invite_whose_joiners_an_admin_approves_says_so_in_its_link(open_node: OpenNode) -> None:
    a = open_node("a")
    thread = start_thread(a)
    by_hand = InviteLink.parse(a.membership.invite(thread, Role.WRITE, approve_by_hand=True).to_uri())
    automatic = InviteLink.parse(a.membership.invite(thread, Role.WRITE).to_uri())
    assert by_hand.approve and not automatic.approve
    approving = {i.key: i.approve for i in a.membership.invites(thread)}  # the link says what the ACL holds
    assert approving == {SigningKey.from_seed(by_hand.invite_seed).peer_id.public_key: True,
                         SigningKey.from_seed(automatic.invite_seed).peer_id.public_key: False}
