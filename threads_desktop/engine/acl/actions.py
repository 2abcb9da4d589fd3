"""What this profile may do to one document now: the rule the documents
reducer applies to an update or delete (engine/db/documents.py), asked
ahead of time so a view offers only what would be accepted.

- change (update) a document: write on it, and be one of its authors when
  only authors may change that kind of document;
- delete it: write on it, and either be one of its authors or hold delete
  (moderation of others' items, and of shared documents).
"""

from __future__ import annotations

from threads_desktop.engine.acl.book import AclBook
from threads_desktop.engine.acl.control_ops import document_entity
from threads_desktop.engine.core.members import Role
from threads_desktop.engine.core.types import ItemActions

NOTHING = ItemActions(edit=False, delete=False)


def actions_under_acl(book: AclBook, me: str, collection: str, doc_id: str, *, own: bool,
                      authors_only: bool) -> ItemActions:
    """In an access-controlled thread: `own` when one of the document's
    authors is bound to `me`; `authors_only` when its model lets only
    authors change it."""
    roles = book.roles(me, document_entity(collection, doc_id))
    if Role.WRITE not in roles:
        return NOTHING
    moderator = Role.DELETE in roles
    if authors_only:
        return ItemActions(edit=own, delete=own or moderator)
    return ItemActions(edit=True, delete=moderator)


def actions_without_acl(*, own: bool, authors_only: bool) -> ItemActions:
    """In a thread without access control every reader writes, and only
    authors change what only authors may change."""
    return ItemActions(edit=own or not authors_only, delete=own or not authors_only)

