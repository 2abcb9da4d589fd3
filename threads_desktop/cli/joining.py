"""`join LINK`: hand the link to the profile, then wait (up to --wait
seconds) for a member to let this profile in, saying where it stands; the
exit code says how it ended (JOIN_EXIT_CODES, listed in `join --help`).

A profile no process serves is brought online for the wait (as `sync`
does); in the process serving it (the app, `serve`) the wait is a trio task
of its engine thread, which meanwhile runs the join's network loop."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from threads_desktop.cli.registry import StopRequested

if TYPE_CHECKING:
    from threads_desktop.engine.core.ids import ThreadId
    from threads_desktop.engine.core.members import JoinState
    from threads_desktop.engine.node import Node

JOINED = 0
STILL_WAITING = 75  # EX_TEMPFAIL: nothing went wrong, nobody let us in yet
# Refused, by the engine's reason (AdmissionAnswer.reason).
REFUSED_EXIT_CODES = {"used-up": 3, "expired": 4, "revoked": 5, "declined": 6, "removed": 7}
REFUSED_OTHERWISE = 8
DEFAULT_WAIT = 60.0
POLL_SECONDS = 0.25  # how often the join's state is read while waiting (a local query)

APPROVAL_HINT = "an admin will let you in by hand; you may have to wait"
_REFUSALS = {"used-up": "this invite was used up", "expired": "this invite has expired",
             "revoked": "this invite was revoked"}

JOIN_EPILOG = f"""\
exit codes:
  {JOINED}   let in (the album or chat then syncs from the members)
  1   the link is damaged, or this profile is already in it
  {REFUSED_EXIT_CODES['used-up']}   refused: the invite was used up
  {REFUSED_EXIT_CODES['expired']}   refused: the invite has expired
  {REFUSED_EXIT_CODES['revoked']}   refused: the invite was revoked
  {REFUSED_EXIT_CODES['declined']}   refused: an admin declined the request
  {REFUSED_EXIT_CODES['removed']}   refused: this profile was removed from it
  {REFUSED_OTHERWISE}   refused for another reason
  {STILL_WAITING}  still waiting when --wait ran out (the join goes on whenever the profile is online)"""


def join_arguments(join: argparse.ArgumentParser) -> None:
    join.add_argument("link", metavar="LINK")
    join.add_argument("--wait", type=float, default=DEFAULT_WAIT, metavar="SECONDS",
                      help=f"how long to wait for a member to let you in (default {DEFAULT_WAIT:g}; 0: do not "
                           "wait)")
    join.add_argument("--name", metavar="NAME", help="with a device link: this computer's name among your devices "
                                                    "(default: its host name)")
    from threads_desktop.cli.devices import JOIN_EPILOG as DEVICE_EPILOG

    join.epilog = JOIN_EPILOG + "\n\n" + DEVICE_EPILOG
    join.formatter_class = argparse.RawDescriptionHelpFormatter


def status_words(state: JoinState) -> str:
    """Where a join stands, for the terminal."""
    if state.status == "waiting-approval":
        return f"waiting for {state.inviter} to approve you" if state.inviter else "waiting for an admin to approve you"
    if state.status == "admitted":
        return "let in"
    if state.status == "refused":
        return refusal_words(state)
    return "waiting for a member to let you in"


def refusal_words(state: JoinState) -> str:
    if state.reason == "declined":
        return f"{state.inviter} declined your request" if state.inviter else "an admin declined your request"
    if state.reason == "removed":
        return "you were removed from it before you could join"
    return _REFUSALS.get(state.reason or "", "the invite no longer lets anyone in")


def exit_code(state: JoinState | None) -> int | None:
    """How a join ended, or None while it waits (None state: complete)."""
    if state is None or state.status == "admitted":
        return JOINED
    if state.status == "refused":
        return REFUSED_EXIT_CODES.get(state.reason or "", REFUSED_OTHERWISE)
    return None


async def join(node: Node, args: argparse.Namespace, _stop: StopRequested | None) -> int:
    import trio

    from threads_desktop.engine.acl.links import InviteLink
    from threads_desktop.engine.persons.device_links import is_device_link

    if is_device_link(args.link):  # another computer of yours (issue 19)
        from threads_desktop.cli.devices import join_as_device

        return await join_as_device(node, args)
    link = InviteLink.parse(args.link.strip())
    earlier = node.join_state(link.thread_id)
    if earlier is not None and earlier.status in ("waiting", "waiting-approval"):
        thread_id = link.thread_id  # joined with it before: wait on (a refused one takes the new link)
    else:
        thread_id = node.join(link)
    print(thread_id, flush=True)
    if link.approve:  # said before any wait, so the person knows why it may be long
        print(APPROVAL_HINT, file=sys.stderr, flush=True)
    if node.network is not None or args.wait <= 0:  # served: its network runs the join already
        return await _wait(node, thread_id, args.wait)
    from threads_desktop.serving import ServedProfile

    # Only dialing out is needed: as `sync`, listen where nobody else reaches.
    served = ServedProfile(listen=["/ip4/127.0.0.1/tcp/0"], lan_discovery=False, pull_interval=5.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(served.run, node)
        code = await _wait(node, thread_id, args.wait)
        nursery.cancel_scope.cancel()
    return code


async def _wait(node: Node, thread_id: ThreadId, wait: float) -> int:
    import trio

    said: str | None = None
    with trio.move_on_after(max(0.0, wait)):
        while True:
            state = node.join_state(thread_id)
            code = exit_code(state)
            if state is not None and (words := status_words(state)) != said:
                said = words
                print(words, file=sys.stderr, flush=True)
            if code == JOINED:
                if state is None or state.status != "admitted" or said != "let in":
                    print("let in", file=sys.stderr, flush=True)
                return JOINED
            if code is not None:
                print(f"threads-desktop: cannot join: {said}; ask for a new link", file=sys.stderr, flush=True)
                return code
            if wait <= 0:
                break
            await trio.sleep(POLL_SECONDS)
    print(f"threads-desktop: still {said or 'waiting for a member to let you in'}"
          + (f" after {wait:g} s" if wait > 0 else "")
          + "; the join goes on whenever this profile is online (the app, or serve)", file=sys.stderr, flush=True)
    return STILL_WAITING


def request_refusal_words(reason: str | None) -> str:
    """Why an admin's device refused someone, after their name."""
    return {"used-up": "used an invite that was used up", "expired": "used an invite that had expired",
            "revoked": "used an invite that was revoked", "declined": "was declined",
            "removed": "had been removed"}.get(reason or "", "was refused")
