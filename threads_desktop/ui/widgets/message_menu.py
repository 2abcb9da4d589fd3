"""The context menu of one chat message: reply, edit, delete, react, copy,
each offered as the ACL judges it now (edit one's own; delete one's own, or
anyone's with the delete role)."""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMenu, QWidget

from threads_desktop.engine.core.types import ItemActions
from threads_desktop.ui.operations.chat import MessageItem

REACTION_EMOJI = ("👍", "❤️", "😂", "😮", "😢", "🎉")


class MessageActions(Protocol):
    """What the menu's entries do (the chat view)."""

    def start_reply(self, message_id: str) -> None: ...
    def start_edit(self, message_id: str) -> None: ...
    def ask_delete(self, message_id: str) -> object: ...
    def toggle_reaction(self, message_id: str, emoji: str, on: bool) -> None: ...


def message_menu(parent: QWidget, item: MessageItem, actions: MessageActions, *, writable: bool,
                 allowed: ItemActions) -> QMenu:
    """The menu (object names: reply, edit, delete, react-<emoji>, copy);
    `allowed` is what the ACL lets this member do to `item` now. Its strings
    stay in the chat view's translation context, each in its own translate()
    call so that lupdate finds it."""
    menu = QMenu(parent)
    reply = menu.addAction(QCoreApplication.translate("ChatView", "Reply"))
    reply.setObjectName("reply")
    reply.setEnabled(writable)
    reply.triggered.connect(lambda: actions.start_reply(item.id))
    if item.mine:
        edit = menu.addAction(QCoreApplication.translate("ChatView", "Edit"))
        edit.setObjectName("edit")
        edit.setEnabled(allowed.edit and bool(item.text))
        edit.triggered.connect(lambda: actions.start_edit(item.id))
    if item.mine or allowed.delete:
        delete = menu.addAction(QCoreApplication.translate("ChatView", "Delete…"))
        delete.setObjectName("delete")
        delete.setEnabled(allowed.delete)
        delete.triggered.connect(lambda: actions.ask_delete(item.id))
    react = menu.addMenu(QCoreApplication.translate("ChatView", "React"))
    react.setEnabled(writable)
    mine = {reaction.emoji for reaction in item.reactions if reaction.mine}
    for emoji in REACTION_EMOJI:
        action = react.addAction(emoji)
        action.setObjectName(f"react-{emoji}")
        action.setCheckable(True)
        action.setChecked(emoji in mine)
        action.triggered.connect(lambda _=False, e=emoji: actions.toggle_reaction(item.id, e, e not in mine))
    menu.addSeparator()
    copy = menu.addAction(QCoreApplication.translate("ChatView", "Copy Text"))
    copy.setObjectName("copy")
    copy.setEnabled(bool(item.text))
    copy.triggered.connect(lambda: QGuiApplication.clipboard().setText(item.text))
    return menu
