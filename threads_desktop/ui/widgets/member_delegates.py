"""Editors for the members dialog's tables, opened as persistent editors so
every row shows its controls: a role combo box and a button (Remove,
Revoke). An editor is enabled only when the model's flags say the cell is
enabled, and carries the model's tooltip (which says why when it is not):
the rules live in the model, the delegates only present them."""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import QComboBox, QPushButton, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from threads_desktop.engine.core.members import Role
from threads_desktop.ui.models.member_table_model import MemberRole, role_explanation, role_text

_Index = QModelIndex | QPersistentModelIndex

# What a member can be given, lowest first. NO_ACCESS is offered only to show
# a removed member (removing has its own button).
ROLE_CHOICES = (Role.FOLLOW, Role.READ, Role.WRITE, Role.DELETE)


def _present(editor: QWidget, index: _Index) -> None:
    enabled = bool(index.flags() & Qt.ItemFlag.ItemIsEnabled)
    editor.setEnabled(enabled)
    editor.setToolTip(str(index.data(Qt.ItemDataRole.ToolTipRole) or ""))


class MemberRoleDelegate(QStyledItemDelegate):
    """A combo box of roles; picking one commits it to the model at once."""

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem, index: _Index) -> QWidget:
        combo = QComboBox(parent)
        combo.setAccessibleName(self.tr("Role"))
        combo.currentIndexChanged.connect(lambda _row, c=combo: self._picked(c))
        return combo

    def setEditorData(self, editor: QWidget, index: _Index) -> None:
        assert isinstance(editor, QComboBox)
        current = Role(index.data(Qt.ItemDataRole.EditRole) or Role.NO_ACCESS)
        editor.blockSignals(True)  # filling it in is not the user picking
        editor.clear()
        if index.data(MemberRole.ADMIN):  # above every role: nothing to pick
            editor.addItem(self.tr("Admin"))
            editor.blockSignals(False)
            _present(editor, index)
            editor.setEnabled(False)
            return
        for role in ((Role.NO_ACCESS,) if current is Role.NO_ACCESS else ()) + ROLE_CHOICES:
            editor.addItem(role_text(role), role)
            editor.setItemData(editor.count() - 1, role_explanation(role), Qt.ItemDataRole.ToolTipRole)
        editor.setCurrentIndex(editor.findData(current))
        editor.blockSignals(False)
        _present(editor, index)

    def setModelData(self, editor: QWidget, model: QAbstractItemModel, index: _Index) -> None:
        assert isinstance(editor, QComboBox)
        role = editor.currentData()  # None for an admin's row
        if isinstance(role, Role) and role is not Role.NO_ACCESS:
            model.setData(index, role, Qt.ItemDataRole.EditRole)

    def updateEditorGeometry(self, editor: QWidget, option: QStyleOptionViewItem, index: _Index) -> None:
        editor.setGeometry(option.rect)

    def _picked(self, combo: QComboBox) -> None:
        self.commitData.emit(combo)


class MemberButtonDelegate(QStyledItemDelegate):
    """A push button per row; a click emits the row's `key_role` value."""

    clicked = Signal(object)

    def __init__(self, key_role: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._key_role = key_role

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem, index: _Index) -> QWidget:
        button = QPushButton(parent)
        persistent = QPersistentModelIndex(index)
        button.clicked.connect(lambda: self._clicked(persistent))
        return button

    def setEditorData(self, editor: QWidget, index: _Index) -> None:
        assert isinstance(editor, QPushButton)
        editor.setText(str(index.data(Qt.ItemDataRole.DisplayRole) or ""))
        _present(editor, index)

    def setModelData(self, editor: QWidget, model: QAbstractItemModel, index: _Index) -> None:
        pass  # a button edits nothing; its click is the request

    def updateEditorGeometry(self, editor: QWidget, option: QStyleOptionViewItem, index: _Index) -> None:
        editor.setGeometry(option.rect)

    def _clicked(self, index: QPersistentModelIndex) -> None:
        if index.isValid() and index.flags() & Qt.ItemFlag.ItemIsEnabled:
            self.clicked.emit(index.data(self._key_role))
