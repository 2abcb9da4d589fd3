"""Photo operations: an album's order and cards, a photo's details, captions,
comments, reactions and original, import, export and delete."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

from threads_desktop.engine.core.errors import NotFoundError, ThreadsError
from threads_desktop.engine.core.ids import ThreadId
from threads_desktop.engine.core.types import ItemActions
from threads_desktop.engine.modules.photos import (
    ExportResult,
    ImportResult,
    PhotoCard,
    Progress,
    all_paths,
    comment_text,
    photo_camera,
    photo_caption,
    photo_name,
)
from threads_desktop.engine.node import Node
from threads_desktop.ui.models.comment_list_model import Comment
from threads_desktop.ui.operations.members import author_labels
from threads_desktop.ui.people import person


def ordered_ids(node: Node, thread_id: ThreadId, newest_first: bool) -> list[str]:
    return node.photos(thread_id).ordered_ids(newest_first=newest_first)


def cards(node: Node, thread_id: ThreadId, ids: list[str]) -> list[PhotoCard]:
    return node.photos(thread_id).cards(ids)


@dataclass(frozen=True)
class PhotoPage:
    """The photos at some positions of an album's order: their IDs (one per
    position) and the cells of those still there."""

    ids: list[str]
    cards: list[PhotoCard]


def page(node: Node, thread_id: ThreadId, newest_first: bool, offset: int, limit: int) -> PhotoPage:
    """The photos at positions `offset` to `offset + limit`: what an album's
    first screen needs, at the cost of that screen however large the album."""
    photos = node.photos(thread_id)
    ids = photos.ordered_ids(newest_first=newest_first, limit=limit, offset=offset)
    return PhotoPage(ids, photos.cards(ids))


def deletable(node: Node, thread_id: ThreadId, ids: list[str]) -> bool:
    """May this profile delete every photo among `ids` now?"""
    actions = node.item_actions(thread_id, "photo", ids)
    return bool(ids) and all(photo_id in actions and actions[photo_id].delete for photo_id in ids)


def delete_photos(node: Node, thread_id: ThreadId, ids: list[str]) -> None:
    node.photos(thread_id).delete_many(ids)


def export_photos(node: Node, thread_id: ThreadId, ids: list[str], folder: Path) -> ExportResult:
    result = node.photos(thread_id).export(ids, folder)
    for photo_id in result.missing:  # fetched now, so a second export finds them
        node.want_original(thread_id, photo_id)
    return result


_NO_ACTIONS = ItemActions(edit=False, delete=False)


@dataclass(frozen=True)
class PhotoDetails:
    photo_id: str
    name: str
    caption: str
    taken_at: int | None
    camera: str | None
    gps: dict[str, float] | None
    width: int
    height: int
    added_by: str  # the name that member gives itself, else a short ID; "" for us
    preview: bytes | None      # None while it is still on its way
    original_here: bool
    comments: list[Comment]
    reactions: dict[str, tuple[int, bool]]  # emoji -> (count, mine)
    can_write: bool  # may add comments and reactions
    can_edit: bool  # may change this photo's caption (its author, while allowed to write)


def photo_details(node: Node, thread_id: ThreadId, photo_id: str) -> PhotoDetails:
    photos = node.photos(thread_id) if node.store.own_log(thread_id) is not None else None
    if photos is None:
        raise NotFoundError("this device keeps only an encrypted backup of the album")
    doc = photos.photos.get(photo_id)
    try:
        preview: bytes | None = photos.preview(photo_id)
    except NotFoundError:
        preview = None
    me = node.store.own_log(thread_id)
    names = author_labels(node, thread_id)
    comments = [Comment(c.id, person(names.get(str(c.author)), str(c.author)), comment_text(c), c.created_hlc,
                        c.author == me)
                for c in photos.comments_on(photo_id)]
    reactions = {emoji: (len(who), me in who) for emoji, who in photos.reactions.of(doc).items()}
    data = doc.data
    return PhotoDetails(photo_id, photo_name(doc), photo_caption(doc) or "", data.get("taken_at"),
                        photo_camera(doc), _location(data.get("gps")), data["width"], data["height"],
                        "" if doc.author == me else person(names.get(str(doc.author)), str(doc.author)),
                        preview, photos.has_original(photo_id), comments, reactions,
                        node.can_write(thread_id),
                        node.item_actions(thread_id, "photo", [photo_id]).get(photo_id, _NO_ACTIONS).edit)


def original(node: Node, thread_id: ThreadId, photo_id: str) -> bytes | None:
    photos = node.photos(thread_id)
    return photos.original(photo_id) if photos.has_original(photo_id) else None


def ask_for_original(node: Node, thread_id: ThreadId, photo_id: str) -> tuple[int, int] | None:
    """Ask the peers for the original; the thread's transfer so far, if any."""
    node.want_original(thread_id, photo_id)
    for transfer in node.network_status().transfers:
        if transfer.thread_id == thread_id:
            return transfer.done, transfer.total
    return None


def _location(gps: object) -> dict[str, float] | None:
    """GPS as two finite numbers, or nothing: a peer may put anything there."""
    if not isinstance(gps, dict):
        return None
    lat, lon = gps.get("lat"), gps.get("lon")
    if not (_finite_number(lat) and _finite_number(lon)):
        return None
    return {"lat": float(lat), "lon": float(lon)}


def _finite_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class ChatPhoto:
    name: str
    preview: bytes | None  # None while it is on its way
    original: bytes | None  # None while it is on another device


def chat_photo(node: Node, thread_id: ThreadId, photo_id: str, ask_original: bool = True) -> ChatPhoto:
    photos = node.photos(thread_id)
    name = photo_name(photos.photos.get(photo_id))  # cleaned: whoever added it chose it
    try:
        preview: bytes | None = photos.preview(photo_id)
    except ThreadsError:
        preview = None
    if photos.has_original(photo_id):
        return ChatPhoto(name, preview, photos.original(photo_id))
    if ask_original:  # asked once per photo shown; looking again need not ask the peers again
        node.want_original(thread_id, photo_id)
    return ChatPhoto(name, preview, None)


def expand_paths(_node: Node, paths: list[Path]) -> list[Path]:
    return all_paths(paths)


async def import_photos(node: Node, thread_id: ThreadId, paths: list[Path], progress: Progress,
                       cancelled: Callable[[], bool]) -> ImportResult:
    return await node.photos(thread_id).import_files(paths, progress=progress, cancelled=cancelled)


def set_caption(node: Node, thread_id: ThreadId, photo_id: str, text: str) -> None:
    node.photos(thread_id).set_caption(photo_id, text)


def react(node: Node, thread_id: ThreadId, photo_id: str, emoji: str, on: bool) -> None:
    node.photos(thread_id).react(photo_id, emoji, on)


def comment(node: Node, thread_id: ThreadId, photo_id: str, text: str) -> None:
    node.photos(thread_id).comment(photo_id, text)
