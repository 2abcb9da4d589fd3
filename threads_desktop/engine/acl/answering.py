"""An admin's side of admissions (issue 16): judging a joiner's request
against the ACL as it stands, writing the admit event with the keys its role
needs, and the waiting or refused requests our person approves or declines.
The joiner's side is in pending_joins.py; Membership delegates to both."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from threads_desktop.engine.acl import admission, admitting
from threads_desktop.engine.acl.admission import AdmissionAnswer, AdmissionRequest
from threads_desktop.engine.acl.book import InviteTerms
from threads_desktop.engine.acl.control_ops import Admit, Keys, acl_payload
from threads_desktop.engine.acl.device_book import DeviceBook
from threads_desktop.engine.acl.gate import AccessGate
from threads_desktop.engine.acl.keybox import seal_key_box
from threads_desktop.engine.acl.policy import Evaluation
from threads_desktop.engine.core.errors import AccessDeniedError, InvalidInputError, NotFoundError
from threads_desktop.engine.core.ids import ThreadId, ThreadVariant
from threads_desktop.engine.core.keys import ThreadKey
from threads_desktop.engine.core.members import AdmissionStatus, JoinRequest, Role
from threads_desktop.engine.logstore.database import Database
from threads_desktop.engine.logstore.store import LogStore

MAX_JOIN_REQUESTS = 64  # waiting or refused requests kept a thread


class AdmissionAnswers:
    """Membership's admin side of admissions; the key holdings it needs
    (the clean key, healing) and the admin checks stay Membership's."""

    def __init__(self, database: Database, store: LogStore, gate: AccessGate, devices: DeviceBook, *,
                 commit: Callable[[ThreadId, Sequence[Any]], None], clean_key: Callable[[ThreadId], ThreadKey | None],
                 heal: Callable[[ThreadId], bool], admin_here: Callable[[Evaluation], bool],
                 require_admin: Callable[[ThreadId], None], now_ms: Callable[[], int],
                 removed: Callable[[Evaluation, AdmissionRequest], bool]) -> None:
        self._db = database
        self._sql: sqlite3.Connection = database.connection
        self._store = store
        self._gate = gate
        self._devices = devices
        self._commit = commit
        self._clean_key = clean_key
        self._heal = heal
        self._admin_here = admin_here
        self._require_admin = require_admin
        self._now_ms = now_ms
        self._removed = removed  # a device its person removed: never admitted, nothing sealed to it

    def answer_admission(self, request: AdmissionRequest, from_peer: str) -> AdmissionAnswer:
        """As an admin, judge a joiner's request against the ACL as it stands
        and, if its invite still holds, write the admit event (in one write
        transaction). UNKNOWN reveals nothing: no such thread or invite
        here, a request that does not verify, or we are no admin."""
        del from_peer  # the request names and proves its joiner; where it came from changes nothing
        unknown = AdmissionAnswer(AdmissionStatus.UNKNOWN)
        thread_id = request.thread_id
        try:
            request.verify()
        except InvalidInputError:
            return unknown
        with self._db.write() as sql:
            if thread_id.variant is not ThreadVariant.ACCESS_CONTROLLED or not sql.execute(
                    "SELECT 1 FROM threads WHERE id = ?", (thread_id.raw,)).fetchone():
                return unknown
            evaluation = self._gate.evaluation(thread_id)
            book = evaluation.current()
            terms = book.invites.get(request.invite_key)
            if terms is None or not self._admin_here(evaluation) \
                    or not self._store.thread_keys(thread_id)[0].can_read:
                return unknown
            if self._removed(evaluation, request):
                return unknown  # removal is final: no way back in, and never a key sealed to it
            if admitting.admitted(evaluation, request.invite_key, str(request.identity)) \
                    and terms.role in book.roles(request.member) \
                    and not evaluation.removals.is_removed(str(request.identity)):
                # Asked again (an answer lost on the way): the same answer, but
                # only while it still holds the role; removed, demoted or gone,
                # its old link is judged like any other (refused).
                return self._admitted_answer(thread_id, request, terms.role)
            request_id = admission.request_id(request)
            recorded = sql.execute("SELECT status, reason FROM join_requests WHERE thread_id = ? AND request_id = ?",
                                   (thread_id.raw, request_id)).fetchone()
            reason = self._refusal(evaluation, request, terms)
            if reason is None and recorded == ("refused", "declined"):
                reason = "declined"  # a person said no: asking again changes nothing
            if reason is not None:
                self._record_request(request, "refused", reason)
                return AdmissionAnswer(AdmissionStatus.REFUSED, reason=reason)
            if terms.approve:
                self._record_request(request, "waiting", None)
                return AdmissionAnswer(AdmissionStatus.WAITING_APPROVAL)
            return self._admit(request, terms.role)

    def _refusal(self, evaluation: Evaluation, request: AdmissionRequest, terms: InviteTerms) -> str | None:
        """admitting.refusal, and a removal of the device we saw elsewhere
        (a hello, a bundle) that is not in this thread yet."""
        reason = admitting.refusal(evaluation, request, terms, self._now_ms())
        cert = request.cert
        if reason is None and cert is not None and request.identity in self._devices.device_list(cert.person).removed(
                cert.person):
            reason = "removed"
        return reason

    def _admit(self, request: AdmissionRequest, role: Role) -> AdmissionAnswer:
        """Write the admit event: the admit and the keys the role needs,
        sealed to the joiner. The gate judges it like any other event; a
        refusal (used up meanwhile, say) writes nothing."""
        thread_id = request.thread_id
        if self._removed(self._gate.evaluation(thread_id), request):
            return AdmissionAnswer(AdmissionStatus.UNKNOWN)
        if self._clean_key(thread_id) is None:
            self._heal(thread_id)  # never hand out an epoch someone removed may hold
        clean = self._clean_key(thread_id)
        if clean is None:
            return AdmissionAnswer(AdmissionStatus.UNKNOWN)
        try:
            box = self._seal_for_role(thread_id, request.exchange, role)
        except InvalidInputError:
            return AdmissionAnswer(AdmissionStatus.UNKNOWN)  # an exchange key nothing can be sealed to
        admit = Admit(request.invite_key, request.log_id, request.identity, request.exchange, request.bind_sig,
                      request.sig, request.cert)
        try:
            self._commit(thread_id, [acl_payload(admit, Keys(clean.epoch, ((str(request.identity), box,
                                                                            role >= Role.READ),)))])
        except AccessDeniedError as exc:
            reason = admission.refusal_reason(str(exc))
            self._record_request(request, "refused", reason)
            return AdmissionAnswer(AdmissionStatus.REFUSED, reason=reason)
        self._sql.execute("DELETE FROM join_requests WHERE thread_id = ? AND request_id = ?",
                          (thread_id.raw, admission.request_id(request)))
        return AdmissionAnswer(AdmissionStatus.ADMITTED, box, role)

    def _admitted_answer(self, thread_id: ThreadId, request: AdmissionRequest, role: Role) -> AdmissionAnswer:
        try:
            return AdmissionAnswer(AdmissionStatus.ADMITTED, self._seal_for_role(thread_id, request.exchange, role),
                                   role)
        except InvalidInputError:
            return AdmissionAnswer(AdmissionStatus.UNKNOWN)

    def _seal_for_role(self, thread_id: ThreadId, exchange: bytes, role: Role) -> bytes:
        """Every epoch we hold (newest first), follow-only for a follower."""
        keys = [key for key in self._store.thread_keys(thread_id) if key.can_read]
        return seal_key_box(exchange, thread_id, keys if role >= Role.READ else [k.follow_only() for k in keys])

    def _record_request(self, request: AdmissionRequest, status: str, reason: str | None) -> None:
        """Keep a waiting or refused request for admins to see: one row per
        joiner and invite, at most MAX_JOIN_REQUESTS a thread (oldest go).
        Declines are bounded apart: a joiner a person said no to must not
        make room for itself with requests under fresh identities."""
        thread = request.thread_id.raw
        self._sql.execute(
            "INSERT INTO join_requests (thread_id, request_id, peer, name, invite_key, request, status, reason,"
            " at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET name = COALESCE(excluded.name,"
            " name), request = excluded.request, status = excluded.status, reason = excluded.reason,"
            " at_ms = excluded.at_ms",
            (thread, admission.request_id(request), str(request.identity), request.name, request.invite_key,
             request.to_bytes(), status, reason, self._now_ms()))
        for declined in (True, False):
            self._sql.execute(
                "DELETE FROM join_requests WHERE thread_id = ? AND (reason IS 'declined') = ? AND request_id NOT IN"
                " (SELECT request_id FROM join_requests WHERE thread_id = ? AND (reason IS 'declined') = ?"
                " ORDER BY at_ms DESC, request_id LIMIT ?)", (thread, declined, thread, declined, MAX_JOIN_REQUESTS))

    def join_requests(self, thread_id: ThreadId) -> list[JoinRequest]:
        """Joiners waiting for our person's approval, and refusals, oldest first."""
        return [JoinRequest(request_id, peer, name, invite_key, status, reason, at_ms)
                for request_id, peer, name, invite_key, status, reason, at_ms in self._sql.execute(
                    "SELECT request_id, peer, name, invite_key, status, reason, at_ms FROM join_requests"
                    " WHERE thread_id = ? ORDER BY at_ms, request_id", (thread_id.raw,))]

    def approve_join(self, thread_id: ThreadId, request_id: bytes) -> AdmissionAnswer:
        """Our person lets a waiting joiner in: the admit is written now, and
        the joiner is ADMITTED when it asks again. REFUSED if the invite no
        longer holds (used up, expired, revoked meanwhile)."""
        with self._db.write() as sql:
            row = sql.execute("SELECT request, status FROM join_requests WHERE thread_id = ? AND request_id = ?",
                              (thread_id.raw, request_id)).fetchone()
            if row is None or row[1] != "waiting":
                raise NotFoundError("nobody is waiting with that request")
            self._require_admin(thread_id)
            request = AdmissionRequest.from_bytes(row[0])
            evaluation = self._gate.evaluation(thread_id)
            terms = evaluation.current().invites.get(request.invite_key)
            if terms is None:
                raise NotFoundError("that invite is not in this album or chat")
            reason = self._refusal(evaluation, request, terms)
            if reason is not None:
                self._record_request(request, "refused", reason)
                return AdmissionAnswer(AdmissionStatus.REFUSED, reason=reason)
            return self._admit(request, terms.role)

    def decline_join(self, thread_id: ThreadId, request_id: bytes) -> None:
        """Our person says no: the joiner is REFUSED ("declined") when it asks again."""
        with self._db.write() as sql:
            if not sql.execute("UPDATE join_requests SET status = 'refused', reason = 'declined', at_ms = ?"
                               " WHERE thread_id = ? AND request_id = ? AND status = 'waiting'",
                               (self._now_ms(), thread_id.raw, request_id)).rowcount:
                raise NotFoundError("nobody is waiting with that request")
