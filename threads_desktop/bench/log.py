"""`threads-desktop bench log`: append and ingest rates of the event log, each
against its floor, the raw cost of the same crypto and SQLite work measured
in the same run (absolute times on a shared machine are noise; ratios hold)."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.engine.logstore.envelopes import Envelope
from threads_desktop.engine.logstore.store import NewEvent
from threads_desktop.engine.node import Node

BATCH = 100  # appends per transaction (group commit), and ingest page size
_EACH_TX_LIMIT = 2000  # one transaction per append is slow: measure fewer


def chat_payload(index: int) -> dict[str, Any]:
    text = (f"message {index}: " + "the quick brown fox jumps over the lazy dog " * 3)[:140]
    return {"type": "chat.message", "text": text, "reply_to": None}


def run(events: int, rounds: int = 3) -> dict[str, Any]:
    """Measure `rounds` times on fresh profiles; for each figure keep the round
    with the median ratio. The floor is timed right after the work in each
    round, so a machine that slows down for a while skews one round, not the
    figure."""
    results = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory(prefix="threads-bench-") as tmp:
            writer = Node.open(Path(tmp) / "writer")
            reader = Node.open(Path(tmp) / "reader")
            try:
                results.append(_measure(writer, reader, events, Path(tmp)))
            finally:
                writer.close()
                reader.close()
    combined = dict(results[0])
    for name in ("append", "append_one_transaction_each", "ingest"):
        ranked = sorted((r[name] for r in results), key=lambda rates: rates["ratio_to_floor"])
        combined[name] = {**ranked[len(ranked) // 2], "ratios_of_all_rounds": [r["ratio_to_floor"] for r in ranked]}
    combined["rounds"] = rounds
    return combined


def _measure(writer: Node, reader: Node, events: int, tmp: Path) -> dict[str, Any]:
    thread = writer.create_thread(ThreadKind.CHAT, "bench").thread_id
    store = writer.store
    hlc = iter(range(1, 10 * events + 10))

    started = time.perf_counter()
    for start in range(0, events, BATCH):
        store.append_many(thread, [NewEvent(chat_payload(i), next(hlc))
                                   for i in range(start, min(events, start + BATCH))])
    append_seconds = time.perf_counter() - started

    each = min(events, _EACH_TX_LIMIT)
    started = time.perf_counter()
    for i in range(each):
        store.append(thread, chat_payload(i), hlc=next(hlc))
    append_each_seconds = time.perf_counter() - started

    log_id = store.own_log(thread)
    assert log_id is not None
    envelopes: list[Envelope] = []
    while len(envelopes) < events + 1:
        stored = store.records_after(thread, log_id, len(envelopes), limit=1000)
        envelopes.extend(r.envelope for r in stored)
        if not stored:
            break
    envelopes = envelopes[:events + 1]  # the thread's first event, then the batched ones
    reader.store.create_thread(thread, writer.store.thread_keys(thread)[0])

    started = time.perf_counter()
    for start in range(0, len(envelopes), BATCH):
        page = envelopes[start:start + BATCH]
        outcomes = reader.store.ingest_many(thread, page)
        if any(isinstance(o, Exception) for o in outcomes):
            raise RuntimeError(f"bench ingest refused a record: {outcomes}")
        for envelope in page:  # a reader decrypts what it ingests
            reader.store.read_event(thread, envelope)
    ingest_seconds = time.perf_counter() - started
    ingested = len(envelopes)

    floor = _Floor(envelopes[1:], tmp / "floor.sqlite3")
    sign, verify, verify_parallel = floor.signatures()
    aes_encrypt, aes_decrypt = floor.aes()
    sha = floor.hashes()
    inserts_batched = floor.sqlite(batch=BATCH)
    inserts_each = floor.sqlite(batch=1, limit=each)

    n = len(envelopes) - 1
    append_floor = sign + aes_encrypt + sha + inserts_batched
    append_each_floor = (sign + aes_encrypt + sha) * each / n + inserts_each
    ingest_floor = (verify_parallel + aes_decrypt + sha + inserts_batched) * ingested / n
    return {
        "events": events,
        "body_bytes": len(envelopes[1].body),
        "append": _rates(events, append_seconds, append_floor, f"append_many, {BATCH} events per transaction"),
        "append_one_transaction_each": _rates(each, append_each_seconds, append_each_floor,
                                              "every append committed alone"),
        "ingest": _rates(ingested, ingest_seconds, ingest_floor,
                         f"pages of {BATCH}: decode, verify, decrypt, store"),
        "raw_per_second": {
            "ed25519_sign": n / sign,
            "ed25519_verify_one_core": n / verify,
            "ed25519_verify_all_cores": n / verify_parallel,
            "aes_gcm_encrypt": 3 * n / aes_encrypt,
            "aes_gcm_decrypt": 3 * n / aes_decrypt,
            "sha256": 4 * n / sha,
            "sqlite_record_rows_batched": n / inserts_batched,
            "sqlite_record_rows_one_transaction_each": each / inserts_each,
        },
        "cores": os.cpu_count(),
    }


def _rates(count: int, seconds: float, floor_seconds: float, how: str) -> dict[str, Any]:
    return {
        "events_per_second": round(count / seconds),
        "floor_events_per_second": round(count / floor_seconds),
        "ratio_to_floor": round(seconds / floor_seconds, 2),
        "how": how,
    }


class _Floor:
    """The raw operations an append or ingest performs, with nothing around
    them: per event one signature (or verification), three AES-GCM
    operations of the real sizes, four SHA-256 hashes, and one record row
    inserted with its log's head updated."""

    def __init__(self, envelopes: list[Envelope], db_path: Path) -> None:
        self._envelopes = envelopes
        self._db_path = db_path

    def signatures(self) -> tuple[float, float, float]:
        key = Ed25519PrivateKey.generate()
        messages = [os.urandom(120) for _ in self._envelopes]
        sign = _timed(lambda: [key.sign(m) for m in messages])
        signatures = [key.sign(m) for m in messages]
        public = key.public_key()
        pairs = list(zip(signatures, messages, strict=True))
        verify = _timed(lambda: [public.verify(s, m) for s, m in pairs])
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            verify_parallel = _timed(lambda: list(pool.map(lambda p: public.verify(*p), pairs, chunksize=16)))
        return sign, verify, verify_parallel

    def aes(self) -> tuple[float, float]:
        key = AESGCM(os.urandom(32))
        nonce = os.urandom(12)
        sizes = [(len(e.record) - 30, len(e.header) - 30, len(e.body) - 30) for e in self._envelopes]
        plains = [[os.urandom(s) for s in triple] for triple in sizes]
        # Per event: a fresh content key and three nonces, three encryptions.
        encrypt = _timed(lambda: [(os.urandom(32), [key.encrypt(os.urandom(12), p, b"x") for p in triple])
                                  for triple in plains])
        sealed = [[key.encrypt(nonce, p, b"x") for p in triple] for triple in plains]
        decrypt = _timed(lambda: [key.decrypt(nonce, c, b"x") for triple in sealed for c in triple])
        return encrypt, decrypt

    def hashes(self) -> float:
        return _timed(lambda: [hashlib.sha256(b).digest() for e in self._envelopes for b in e.blocks()])

    def sqlite(self, *, batch: int, limit: int | None = None) -> float:
        envelopes = self._envelopes[:limit]
        path = self._db_path.with_suffix(f".{batch}")
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("CREATE TABLE logs (id INTEGER PRIMARY KEY, head BLOB, seq INTEGER) STRICT")
        connection.execute("CREATE TABLE records (log INTEGER, seq INTEGER, cid BLOB UNIQUE, record BLOB,"
                           " event BLOB, header BLOB, body BLOB, PRIMARY KEY (log, seq)) STRICT, WITHOUT ROWID")
        connection.execute("INSERT INTO logs VALUES (1, NULL, 0)")
        rows = [(seq, hashlib.sha256(e.record).digest(), *e.blocks()) for seq, e in enumerate(envelopes, 1)]

        def insert_all() -> None:
            # The same statements the store runs: per batch, one head update
            # and the records in one executemany.
            for start in range(0, len(rows), batch):
                chunk = rows[start:start + batch]
                connection.execute("BEGIN IMMEDIATE")
                connection.execute("UPDATE logs SET head = ?, seq = ? WHERE id = 1", (chunk[-1][1], chunk[-1][0]))
                connection.executemany("INSERT INTO records VALUES (1, ?, ?, ?, ?, ?, ?)", chunk)
                connection.execute("COMMIT")

        try:
            return _timed(insert_all)
        finally:
            connection.close()


def _timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started
