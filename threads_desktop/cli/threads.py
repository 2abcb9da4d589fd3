"""The CLI commands that work inside one album or chat: add, say, show."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

from threads_desktop.engine.core.errors import InvalidInputError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import ThreadKind, ThreadSummary
from threads_desktop.engine.modules.photos import all_paths, comment_text, photo_camera, photo_caption, photo_name
from threads_desktop.engine.node import Node

INTERRUPTED = 130  # the exit code of a command stopped by Ctrl+C (128 + SIGINT)


@contextlib.contextmanager
def stop_on_interrupt() -> Iterator[Callable[[], bool]]:
    """While inside, the first Ctrl+C only asks to stop (the callable yielded
    turns True) and a second one interrupts at once. Only the main thread
    gets signals: elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    asked: list[str] = []  # "asked", then "said" once the user was told

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        # Only a flag: printing here could re-enter a write to stderr in progress.
        asked.append("asked")
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def stop_requested() -> bool:
        if asked and asked[-1] == "asked":
            asked.append("said")
            print("\nthreads-desktop: stopping after the photo being added (Ctrl+C again to stop at once)",
                  file=sys.stderr, flush=True)
        return bool(asked)

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield stop_requested
    finally:
        signal.signal(signal.SIGINT, previous)


async def add_photos(node: Node, args: argparse.Namespace, stop_requested: Callable[[], bool] | None = None) -> int:
    """`add`, as a trio task: a served profile's engine serves the network
    and other commands while the photos are prepared."""
    thread_id = ThreadId.parse(args.thread)
    if node.directory.kind(thread_id) is not ThreadKind.ALBUM:
        raise InvalidInputError("photos go into an album; this is a chat")
    paths = all_paths(args.files)
    stopped = stop_requested or (lambda: False)
    result = await node.photos(thread_id).import_files(
        paths, keep_gps=args.keep_gps, cancelled=stopped,
        progress=lambda done, total: print(f"\r{done}/{total}", end="", file=sys.stderr, flush=True))
    print(file=sys.stderr)
    for photo_id in result.added:
        print(photo_id)
    for name in result.duplicates:
        print(f"already in the album: {name}", file=sys.stderr)
    for name, reason in result.failed:
        print(f"not added: {name}: {reason}", file=sys.stderr)
    if result.stopped:
        print(f"Saved {len(result.added)} of {len(paths)} photos; {result.stopped}.", file=sys.stderr)
        return 1
    seen = len(result.added) + len(result.duplicates) + len(result.failed)
    if stopped() and seen < len(paths):
        print(f"stopped: {len(result.added)} of {len(paths)} photos added; "
              "add the same photos again to add the rest", file=sys.stderr)
        return INTERRUPTED
    return 0 if not result.failed else 1


def run_thread_command(node: Node, args: argparse.Namespace) -> int:
    """say and show (add is add_photos)."""
    thread_id = ThreadId.parse(args.thread)
    kind = node.directory.kind(thread_id)  # no counts: `say` in a big thread stays quick
    if args.command == "say":
        if kind is not ThreadKind.CHAT:
            raise InvalidInputError("messages go into a chat; this is an album")
        print(node.chat(thread_id).post(args.text))
        return 0
    summary = node.get_thread(thread_id)
    shown = _show(node, summary)
    if args.json:
        print(json.dumps(shown, indent=2, ensure_ascii=False))
    else:
        print(f"{summary.name} ({summary.kind.value if summary.kind else 'backup'})")
        for item in shown["items"]:
            print("  " + _line(item))
        for refused in shown["refused"]:
            print(f"  refused: {refused['log'][-6:]} #{refused['seq']}: {refused['reason']}")
    return 0


def _show(node: Node, summary: ThreadSummary) -> dict[str, Any]:
    thread_id, kind = summary.thread_id, summary.kind
    shown: dict[str, Any] = {"thread": summary.to_json(), "items": [], "refused": [
        {"log": str(log_id), "seq": seq, "reason": reason} for log_id, seq, reason in node.events.refused(thread_id)]}
    if kind is ThreadKind.CHAT:
        chat = node.chat(thread_id)
        shown["items"] = [chat.describe(m) for m in chat.history()]
    elif kind is ThreadKind.ALBUM:
        photos = node.photos(thread_id)
        for photo in photos.page():
            data = photo.data
            shown["items"].append({
                "id": photo.id, "name": photo_name(photo), "taken_at": data.get("taken_at"),
                "camera": photo_camera(photo), "size": [data["width"], data["height"]],
                "caption": photo_caption(photo), "author": str(photo.author),
                "original_here": photos.has_original(photo.id),
                "comments": [{"author": str(c.author), "text": comment_text(c)} for c in photos.comments_on(photo.id)],
                "reactions": {e: [str(p) for p in who] for e, who in photos.reactions.of(photo).items()},
            })
    return shown


def _line(item: dict[str, Any]) -> str:
    """One item of `show`; the texts in it were cleaned when read (engine
    read functions), and their later lines are indented under it so that
    a peer's text cannot pass for another item."""
    if "text" in item:  # a message
        reply = f" (reply to {item['reply_to'][:8]})" if item.get("reply_to") else ""
        edited = " (edited)" if item.get("edited") else ""
        return f"{item['author'][-6:]}: {_indented(item['text'] or '[photo]')}{reply}{edited}"
    taken = item.get("taken_at")
    when = datetime.datetime.fromtimestamp(taken / 1000, datetime.UTC).strftime("%Y-%m-%d %H:%M") if taken else "-"
    caption = f"  \"{_indented(item['caption'])}\"" if item.get("caption") else ""
    return f"{item['name']}  {when}  {item['size'][0]}x{item['size'][1]}{caption}  ({len(item['comments'])} comments)"


def _indented(text: str) -> str:
    return text.replace("\n", "\n      ")
