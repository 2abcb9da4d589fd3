"""Membership proofs and edges (proofs.py): a proof names one thread, for
one asker, one answerer and one nonce; answers are not asks; an edge is the
set of where the logs stand."""

from __future__ import annotations

from random import Random

from hypothesis import given, settings
from hypothesis import strategies as st

from threads_desktop.engine.core.ids import PeerId, ThreadId, ThreadVariant
from threads_desktop.engine.core.keys import ThreadKey
from threads_desktop.engine.logstore.store import LogHead
from threads_desktop.engine.net import paging, proofs, wire

threads = st.builds(lambda variant, raw: ThreadId.from_random(variant, raw),
                    st.sampled_from(list(ThreadVariant)), st.binary(min_size=32, max_size=32))
peers = st.builds(PeerId.from_public_key, st.binary(min_size=32, max_size=32))
keys = st.builds(ThreadKey, st.binary(min_size=32, max_size=32),
                 st.none() | st.binary(min_size=32, max_size=32), st.integers(min_value=0, max_value=2**63 - 1))
nonces = st.binary(min_size=wire.NONCE_LENGTH, max_size=wire.NONCE_LENGTH)


@settings(max_examples=100)
@given(keys, threads, peers, peers, nonces)
def test_a_proof_matches_its_thread_for_its_asker_answerer_and_nonce(
        key: ThreadKey, thread: ThreadId, asker: PeerId, answerer: PeerId, nonce: bytes) -> None:
    proof = proofs.ask_proof(key, thread, asker, answerer, nonce)
    assert len(proof) == wire.MAC_LENGTH
    assert proofs.match_proofs([proof], [(thread, [key])], asker, answerer, nonce) == {0: (thread, key)}


@settings(max_examples=75)
@given(keys, threads, peers, peers, nonces, st.data())
def test_a_proof_matches_nothing_else(key: ThreadKey, thread: ThreadId, asker: PeerId, answerer: PeerId,
                                      nonce: bytes, data: st.DataObject) -> None:
    proof = proofs.ask_proof(key, thread, asker, answerer, nonce)
    other_thread = data.draw(threads.filter(lambda t: t != thread), "other thread")
    other_key = data.draw(keys.filter(lambda k: k.follow != key.follow), "other key")
    other_peer = data.draw(peers.filter(lambda p: p not in (asker, answerer)), "other peer")
    other_nonce = data.draw(nonces.filter(lambda n: n != nonce), "other nonce")
    held = [(thread, [key])]
    assert proofs.match_proofs([proof], [(other_thread, [key])], asker, answerer, nonce) == {}
    assert proofs.match_proofs([proof], [(thread, [other_key])], asker, answerer, nonce) == {}
    assert proofs.match_proofs([proof], held, other_peer, answerer, nonce) == {}  # replayed by someone else
    assert proofs.match_proofs([proof], held, asker, other_peer, nonce) == {}  # shown to someone else
    assert proofs.match_proofs([proof], held, asker, answerer, other_nonce) == {}  # replayed later
    if asker != answerer:
        assert proofs.match_proofs([proof], held, answerer, asker, nonce) == {}  # reflected


@settings(max_examples=50)
@given(keys, threads, peers, peers, nonces)
def test_a_proof_is_keyed_by_the_follow_key_alone(
        key: ThreadKey, thread: ThreadId, asker: PeerId, answerer: PeerId, nonce: bytes) -> None:
    # A follower (no read key) and a reader prove the same thread alike;
    # the epoch number is not part of it either.
    follower = ThreadKey(key.follow, None, key.epoch + 1)
    assert proofs.ask_proof(key, thread, asker, answerer, nonce) == \
        proofs.ask_proof(follower, thread, asker, answerer, nonce)


@settings(max_examples=100)
@given(keys, threads, peers, peers, nonces)
def test_an_answer_proof_is_not_an_ask_proof(
        key: ThreadKey, thread: ThreadId, asker: PeerId, answerer: PeerId, nonce: bytes) -> None:
    ask = proofs.ask_proof(key, thread, asker, answerer, nonce)
    answer = proofs.answer_proof(key, thread, asker, answerer, nonce)
    assert answer != ask
    held = [(thread, [key])]
    # An answer sent back as an ask matches nothing, whichever way round.
    assert proofs.match_proofs([answer], held, asker, answerer, nonce) == {}
    assert proofs.match_proofs([answer], held, answerer, asker, nonce) == {}


@settings(max_examples=50)
@given(st.lists(st.tuples(threads, st.lists(keys, min_size=1, max_size=3)), min_size=1, max_size=5,
                unique_by=lambda held: held[0]),
       peers, peers, nonces, st.lists(st.binary(min_size=32, max_size=32), max_size=5), st.randoms())
def test_matches_name_exactly_the_held_threads_proved_once_each(
        held: list[tuple[ThreadId, list[ThreadKey]]], asker: PeerId, answerer: PeerId, nonce: bytes,
        noise: list[bytes], random: Random) -> None:
    # The asker proves every held thread with every key, twice over, among random proofs.
    asked = [proofs.ask_proof(k, t, asker, answerer, nonce) for t, ks in held for k in ks] * 2 + noise
    random.shuffle(asked)
    matches = proofs.match_proofs(asked, held, asker, answerer, nonce)
    assert sorted(t.raw for t, _ in matches.values()) == sorted(t.raw for t, _ in held)
    for index, (thread, key) in matches.items():
        assert asked[index] == proofs.ask_proof(key, thread, asker, answerer, nonce)
        assert key in dict(held)[thread]
        # The first proof of each thread is the one matched.
        assert all(proofs.match_proofs([p], [(thread, dict(held)[thread])], asker, answerer, nonce) == {}
                   for p in asked[:index])


@settings(max_examples=50)
@given(st.lists(keys, min_size=2, max_size=4, unique_by=lambda k: k.follow), threads, peers, peers, nonces,
       st.data())
def test_admit_skips_a_refused_proof_and_takes_a_later_one_of_the_same_thread(
        held_keys: list[ThreadKey], thread: ThreadId, asker: PeerId, answerer: PeerId, nonce: bytes,
        data: st.DataObject) -> None:
    admitted = data.draw(st.sampled_from(held_keys), "admitted key")
    asked = [proofs.ask_proof(k, thread, asker, answerer, nonce) for k in held_keys]
    consulted: list[ThreadKey] = []

    def admit(t: ThreadId, k: ThreadKey) -> bool:
        assert t == thread
        consulted.append(k)
        return k.follow == admitted.follow

    index = held_keys.index(admitted)
    assert proofs.match_proofs(asked, [(thread, held_keys)], asker, answerer, nonce, admit=admit) == \
        {index: (thread, admitted)}
    assert consulted == held_keys[:index + 1]  # asked about matching proofs only, until one is taken
    assert proofs.match_proofs(asked, [(thread, held_keys)], asker, answerer, nonce, admit=lambda t, k: False) == {}


@settings(max_examples=30)
@given(st.lists(st.binary(min_size=32, max_size=32), max_size=paging.MAX_PROOFS), threads, keys, peers, peers,
       nonces)
def test_random_proofs_match_nothing(noise: list[bytes], thread: ThreadId, key: ThreadKey, asker: PeerId,
                                     answerer: PeerId, nonce: bytes) -> None:
    assert proofs.match_proofs(noise, [(thread, [key])], asker, answerer, nonce) == {}


@given(st.lists(keys, max_size=6))
def test_proof_keys_are_the_newest_distinct_follow_keys(held: list[ThreadKey]) -> None:
    chosen = proofs.proof_keys(held)
    distinct: list[bytes] = []
    for key in held:
        if key.follow not in distinct:
            distinct.append(key.follow)
    assert [k.follow for k in chosen] == distinct[:proofs.PROOF_EPOCHS]
    assert all(k in held for k in chosen)


# --- edges ----------------------------------------------------------------------------------

_logs = [PeerId.from_public_key(bytes([i]) * 32) for i in range(4)]
_cids = [bytes([1, 0x71, 0x12, 0x20]) + bytes([i]) * 32 for i in range(3)]


@st.composite
def log_heads(draw: st.DrawFn) -> list[LogHead]:
    """Where a thread's logs stand: each log once, a head iff seq > 0."""
    chosen = draw(st.lists(st.sampled_from(_logs), unique=True, max_size=len(_logs)))
    heads = []
    for log_id in chosen:
        seq = draw(st.integers(min_value=0, max_value=3))
        head = draw(st.sampled_from(_cids)) if seq else None
        heads.append(LogHead(log_id, head, seq, draw(st.booleans())))
    return draw(st.permutations(heads))


def _standing(heads: list[LogHead]) -> set[tuple[bytes, int, bytes | None]]:
    return {(h.log_id.raw, h.seq, h.head) for h in heads if h.seq}


@settings(max_examples=200)
@given(log_heads(), log_heads())
def test_edges_are_equal_iff_the_logs_stand_at_the_same_seqs_and_heads(
        first: list[LogHead], second: list[LogHead]) -> None:
    assert (proofs.edge(first) == proofs.edge(second)) == (_standing(first) == _standing(second))


@given(log_heads(), st.randoms())
def test_an_edge_ignores_order_writability_and_empty_logs(heads: list[LogHead], random: Random) -> None:
    shuffled = list(heads)
    random.shuffle(shuffled)
    relabelled = [LogHead(h.log_id, h.head, h.seq, not h.writable) for h in shuffled]
    empty = [LogHead(log_id, None, 0, True) for log_id in _logs if log_id not in {h.log_id for h in heads}]
    assert proofs.edge(heads) == proofs.edge(shuffled) == proofs.edge(relabelled) == proofs.edge(heads + empty)
    assert proofs.edge([h for h in heads if h.seq]) == proofs.edge(heads)


def test_an_edge_of_nothing_is_the_edge_of_empty_logs_only() -> None:
    assert proofs.edge([]) == proofs.edge([LogHead(_logs[0], None, 0, True)])
    assert proofs.edge([]) != proofs.edge([LogHead(_logs[0], _cids[0], 1, True)])
