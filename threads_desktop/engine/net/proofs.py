"""Membership proofs and edges.

A proof is an HMAC keyed with a thread's follow key over the thread ID, both
peers' IDs (authenticated by Noise) and a fresh nonce. The asking peer sends
proofs only, never thread IDs: a peer that holds none of its threads learns
nothing, not even which threads exist. The answering peer finds the threads
it shares by recomputing the proofs for its own threads, and answers each
with a proof of its own under another label, so the asker knows the other
side holds the key too before it names the thread.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable

from threads_desktop.engine.core.ids import PeerId, ThreadId
from threads_desktop.engine.core.keys import ThreadKey
from threads_desktop.engine.logstore.store import LogHead

_ASK = b"threads/1/proof/ask"
_ANSWER = b"threads/1/proof/answer"
_EDGE = b"threads/1/edge"
PROOF_EPOCHS = 2  # newest follow keys a proof is made with (a peer may lag one rotation)
MAX_LENT_KEYS = 48  # keys lent in one match, as many epochs as a key box holds


def _mac(label: bytes, key: ThreadKey, thread_id: ThreadId, asker: PeerId, answerer: PeerId,
         nonce: bytes) -> bytes:
    message = b"".join((label, thread_id.raw, asker.raw, answerer.raw, nonce))
    return hmac.new(key.follow, message, hashlib.sha256).digest()


def ask_proof(key: ThreadKey, thread_id: ThreadId, asker: PeerId, answerer: PeerId, nonce: bytes) -> bytes:
    return _mac(_ASK, key, thread_id, asker, answerer, nonce)


def answer_proof(key: ThreadKey, thread_id: ThreadId, asker: PeerId, answerer: PeerId, nonce: bytes) -> bytes:
    return _mac(_ANSWER, key, thread_id, asker, answerer, nonce)


def proof_keys(keys: list[ThreadKey]) -> list[ThreadKey]:
    """The keys to prove with: the newest follow keys (keys come newest first;
    epochs may share a follow key, which needs one proof only)."""
    seen: set[bytes] = set()
    chosen: list[ThreadKey] = []
    for key in keys:
        if key.follow not in seen:
            seen.add(key.follow)
            chosen.append(key)
        if len(chosen) == PROOF_EPOCHS:
            break
    return chosen


def newer_keys(held: list[ThreadKey], proven: ThreadKey) -> list[ThreadKey]:
    """The keys of epochs newer than the one a member proved (held comes
    newest first), to lend it (PROTOCOL §34)."""
    return [k for k in held if k.epoch > proven.epoch][:MAX_LENT_KEYS]


def match_proofs(proofs: Iterable[bytes], held: Iterable[tuple[ThreadId, list[ThreadKey]]], asker: PeerId,
                 answerer: PeerId, nonce: bytes, *,
                 admit: Callable[[ThreadId, ThreadKey], bool] | None = None) -> dict[int, tuple[ThreadId, ThreadKey]]:
    """Which of the asker's proofs name a thread we hold, and with which key:
    {index in `proofs`: (thread, key)}, the first proof of each thread that
    `admit` takes (it is asked only about proofs that match)."""
    expected: dict[bytes, tuple[ThreadId, ThreadKey]] = {}
    for thread_id, keys in held:
        for key in keys:
            expected.setdefault(ask_proof(key, thread_id, asker, answerer, nonce), (thread_id, key))
    matches: dict[int, tuple[ThreadId, ThreadKey]] = {}
    seen_threads: set[ThreadId] = set()
    for index, proof in enumerate(proofs):
        found = expected.get(proof)
        if found is not None and found[0] not in seen_threads and (admit is None or admit(*found)):
            seen_threads.add(found[0])
            matches[index] = found
    return matches


def edge(heads: Iterable[LogHead]) -> bytes:
    """One hash of where every log of a thread stands: equal edges, nothing to sync."""
    digest = hashlib.sha256(_EDGE)
    for head in sorted(heads, key=lambda h: h.log_id.raw):
        if head.seq:
            digest.update(head.log_id.raw + head.seq.to_bytes(8, "big") + (head.head or b""))
    return digest.digest()
