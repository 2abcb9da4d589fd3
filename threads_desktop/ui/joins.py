"""How a join by link and a joiner's request are said to a person: the
status line of a pending album in the sidebar, the page that explains it,
and the reason an admin sees for a refused attempt. The engine's machine
words (JoinState.status/reason, JoinRequest.reason) become sentences here
and nowhere else."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication

from threads_desktop.engine.core.members import JoinState


def _t(text: str) -> str:
    return QCoreApplication.translate("Joins", text)


def _inviter(state: JoinState) -> str | None:
    return state.inviter.strip() or None if state.inviter else None


def join_status_line(state: JoinState) -> str:
    """One short line: where the join stands."""
    if state.status == "waiting-approval":
        inviter = _inviter(state)
        return (_t("Waiting for %1 to approve you").replace("%1", inviter) if inviter
                else _t("Waiting for an admin to approve you"))
    if state.status == "admitted":
        return _t("Let in: fetching it…")
    if state.status == "refused":
        return refusal_line(state)
    return _t("Waiting for a member to let you in")


def refusal_line(state: JoinState) -> str:
    """Why the link let us in no further, as the link's holder reads it."""
    reason = state.reason
    if reason == "used-up":
        return _t("This invite was used up")
    if reason == "expired":
        return _t("This invite has expired")
    if reason == "revoked":
        return _t("This invite was revoked")
    if reason == "declined":
        inviter = _inviter(state)
        return (_t("%1 declined your request").replace("%1", inviter) if inviter
                else _t("An admin declined your request"))
    if reason == "removed":
        return _t("You were removed before you could join")
    return _t("This invite no longer works")


def join_explanation(state: JoinState) -> str:
    """The page of a pending album: what is happening and what to do (the
    status line itself is shown above it)."""
    if state.status == "refused":
        inviter = _inviter(state)
        return (_t("Ask %1 for a new link and paste it with “Join with a new link…”, or remove this from your "
                   "list. Nothing of the album came to this device.").replace("%1", inviter) if inviter else
                _t("Ask the person who invited you for a new link and paste it with “Join with a new link…”, or "
                   "remove this from your list. Nothing of the album came to this device."))
    if state.status == "waiting-approval":
        inviter = _inviter(state)
        who = inviter if inviter else _t("an admin")
        return _t("Someone in it got your request. %1 decides whether to let you in; you can close the app "
                  "meanwhile, the answer comes when you are both online.").replace("%1", who[:1].upper() + who[1:])
    if state.status == "admitted":
        return _t("You were let in. The photos and messages come over from the members now.")
    return _t("Nobody who can let you in has answered yet: a member has to be online at the same time as you. "
              "It happens by itself; you can close the app meanwhile.")


def request_refusal_words(reason: str | None) -> str:
    """Why we (an admin) refused someone, for the members dialog: it
    follows the person's name ("Bob: used an invite that was used up")."""
    if reason == "used-up":
        return _t("used an invite that was used up")
    if reason == "expired":
        return _t("used an invite that had expired")
    if reason == "revoked":
        return _t("used an invite that was revoked")
    if reason == "declined":
        return _t("was declined")
    if reason == "removed":
        return _t("had been removed")
    return _t("was refused")
