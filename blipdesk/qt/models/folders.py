"""The library sidebar's model: library folders, each with its subfolder tree and photo counts.

A tree of plain nodes built from ``FolderCounts`` (computed in a pool thread); the count shown for
a folder includes its subfolders.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import overload

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QObject, QPersistentModelIndex, Qt

from blipdesk.core.files import FolderCounts

PathRole = Qt.ItemDataRole.UserRole + 1
CountRole = Qt.ItemDataRole.UserRole + 2
IsRootRole = Qt.ItemDataRole.UserRole + 3


@dataclass(eq=False)
class _Node:
    path: str
    name: str
    parent: _Node | None
    direct: int = 0
    total: int = 0
    children: list[_Node] = field(default_factory=list)

    def row(self) -> int:
        return 0 if self.parent is None else self.parent.children.index(self)


class FolderTreeModel(QAbstractItemModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._root = _Node("", "", None)
        self.recursive = True  # the grid lists subfolders too: a folder's count includes them

    # ----------------------------------------------------------------- Qt API

    def _node(self, index: QModelIndex | QPersistentModelIndex) -> _Node:
        return index.internalPointer() if index.isValid() else self._root

    def index(
        self,
        row: int,
        column: int,
        parent: QModelIndex | QPersistentModelIndex = QModelIndex(),  # noqa: B008
    ) -> QModelIndex:
        node = self._node(parent)
        if column != 0 or not 0 <= row < len(node.children):
            return QModelIndex()
        return self.createIndex(row, 0, node.children[row])

    @overload
    def parent(self) -> QObject | None: ...

    @overload
    def parent(self, index: QModelIndex | QPersistentModelIndex) -> QModelIndex: ...

    def parent(
        self, index: QModelIndex | QPersistentModelIndex | None = None
    ) -> QObject | QModelIndex | None:
        if index is None:  # QObject.parent(), which the index form hides
            return super().parent()
        if not index.isValid():
            return QModelIndex()
        node: _Node = index.internalPointer()
        up = node.parent
        if up is None or up is self._root:
            return QModelIndex()
        return self.createIndex(up.row(), 0, up)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        if parent.column() > 0:
            return 0
        return len(self._node(parent).children)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 1

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.ItemIsDropEnabled
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ):
        if not index.isValid():
            return None
        node: _Node = index.internalPointer()
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{node.name}  ({self.shown_count(node)})"
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{node.path}\n{node.total} photos ({node.direct} directly inside)"
        if role == PathRole:
            return node.path
        if role == CountRole:
            return self.shown_count(node)
        if role == IsRootRole:
            return node.parent is self._root
        return None

    def shown_count(self, node: _Node) -> int:
        """The photos the grid shows for this folder: with its subfolders' when the listing is
        recursive (the settings), else only those directly inside."""
        return node.total if self.recursive else node.direct

    def set_recursive(self, recursive: bool) -> None:
        if recursive != self.recursive:
            self.layoutAboutToBeChanged.emit()
            self.recursive = recursive
            self.layoutChanged.emit()

    # ----------------------------------------------------------------- content

    def roots(self) -> list[str]:
        return [n.path for n in self._root.children]

    def root_of(self, folder: str) -> str:
        """The library folder ``folder`` lies in (itself when it is one, or none holds it)."""
        return next(
            (r for r in self.roots() if folder == r or folder.startswith(r + os.sep)), folder
        )

    def add_root(self, path: str) -> None:
        if path in self.roots():
            return
        row = len(self._root.children)
        self.beginInsertRows(QModelIndex(), row, row)
        self._root.children.append(
            _Node(path, os.path.basename(path.rstrip(os.sep)) or path, self._root)
        )
        self.endInsertRows()

    def remove_root(self, path: str) -> None:
        for row, node in enumerate(self._root.children):
            if node.path == path:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._root.children[row]
                self.endRemoveRows()
                return

    def set_counts(self, counts: FolderCounts) -> None:
        """Replace a root's subtree with the counted one."""
        row = next(
            (i for i, node in enumerate(self._root.children) if node.path == counts.root), None
        )
        if row is None:
            return
        old = self._root.children[row]
        root = _Node(old.path, old.name, self._root)
        nodes = {".": root}
        for rel, direct in sorted(counts.counts, key=lambda c: (c[0].count(os.sep), c[0])):
            if rel == ".":
                root.direct = direct
                continue
            up = nodes.get(os.path.dirname(rel) or ".")
            if up is None:
                continue
            node = _Node(os.path.join(root.path, rel), os.path.basename(rel), up, direct)
            up.children.append(node)
            nodes[rel] = node

        def total(node: _Node) -> int:
            node.total = node.direct + sum(total(c) for c in node.children)
            return node.total

        total(root)
        index = self.index(row, 0)
        if _same_shape(old, root):
            # Only the numbers changed (a refresh, a folder opened again): update them in place,
            # so the tree keeps what is expanded and selected.
            self._copy_counts(old, root, index)
            return
        if old.children:
            self.beginRemoveRows(index, 0, len(old.children) - 1)
            old.children = []
            self.endRemoveRows()
        old.direct, old.total = root.direct, root.total
        self.dataChanged.emit(index, index)
        if root.children:
            self.beginInsertRows(index, 0, len(root.children) - 1)
            for child in root.children:
                child.parent = old
            old.children = root.children
            self.endInsertRows()

    def _copy_counts(self, old: _Node, new: _Node, index: QModelIndex) -> None:
        old.direct, old.total = new.direct, new.total
        self.dataChanged.emit(index, index)
        for row, (o, n) in enumerate(zip(old.children, new.children, strict=True)):
            self._copy_counts(o, n, self.index(row, 0, index))

    def index_of(self, path: str) -> QModelIndex:
        def walk(parent: QModelIndex) -> QModelIndex:
            for row in range(self.rowCount(parent)):
                index = self.index(row, 0, parent)
                node = index.internalPointer()
                if node.path == path:
                    return index
                if path.startswith(node.path.rstrip(os.sep) + os.sep):
                    found = walk(index)
                    if found.isValid():
                        return found
            return QModelIndex()

        return walk(QModelIndex())


def _same_shape(a: _Node, b: _Node) -> bool:
    """Whether two subtrees hold the same folders in the same order."""
    return len(a.children) == len(b.children) and all(
        x.path == y.path and _same_shape(x, y) for x, y in zip(a.children, b.children, strict=True)
    )
