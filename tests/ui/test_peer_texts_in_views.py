"""Text a peer wrote (captions, comments, camera fields, messages) reaches
the views cleaned: no terminal escapes, no control characters, no bidi
overrides, whatever a modified client put in the event."""

from __future__ import annotations

from pathlib import Path

from tests.engine.eventstore.peers import join, start_thread, sync
from tests.engine.modules.images import image_bytes
from threads_desktop.engine.core.types import ThreadKind
from threads_desktop.ui.operations.chat import load_page
from threads_desktop.ui.operations.notifications import arrivals_from_others
from threads_desktop.ui.operations.photos import photo_details as _details

HOSTILE = "nice\x1b]0;PWNED\x07\x1b[2J\u202e"  # a terminal title, clear-screen and a bidi override
SHOWN = "nice]0;PWNED[2J"


def test_captions_comments_cameras_and_messages_a_peer_wrote_reach_the_views_clean(open_node, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a, b = open_node("a"), open_node("b")
    album, chat = start_thread(a, ThreadKind.ALBUM, "Hostile"), start_thread(a, ThreadKind.CHAT, "Hostile")
    join(a, b, album)
    join(a, b, chat)
    (tmp_path / "p.jpg").write_bytes(image_bytes("JPEG"))
    [photo_id] = a.photos(album).add_files([tmp_path / "p.jpg"]).added
    # What a modified client can write: the reducer checks only type and length.
    a.photos(album).photos.update(photo_id, {"caption": HOSTILE, "camera": HOSTILE})
    a.photos(album).comments.create({"target": f"photo/{photo_id}", "text": HOSTILE})
    messages = a.chat(chat).messages
    question = messages.create({"text": HOSTILE})
    messages.create({"text": "yes", "reply_to": question})
    sync(a, b, album)
    sync(a, b, chat)

    details = _details(b, album, photo_id)
    assert (details.caption, details.camera, [c.text for c in details.comments]) == (
        SHOWN, "nice ]0;PWNED [2J", [SHOWN])
    page = load_page(b, chat, None, 10, frozenset())
    assert [(item.text, item.reply_quote) for item in page.messages] == [(SHOWN, None), ("yes", SHOWN)]
    [arrival] = arrivals_from_others(b, [(chat, "message", question)])
    assert [news.text for news in arrival.news] == [SHOWN]
