"""The library sidebar: library folders (button, menu or drag-and-drop), their subfolder tree with
photo counts, and remove."""

from __future__ import annotations

import os

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTreeView, QVBoxLayout, QWidget

from blipdesk.qt.models.folders import FolderTreeModel, IsRootRole, PathRole


class LibrarySidebar(QWidget):
    folderChosen = Signal(str)
    addRequested = Signal()
    removeRequested = Signal(str)
    foldersDropped = Signal(list)

    def __init__(self, model: FolderTreeModel, parent=None) -> None:
        super().__init__(parent)
        self.model = model
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        title = QLabel("<b>Library</b>")
        title.setContentsMargins(4, 2, 0, 2)  # not flush with the window's edge
        layout.addWidget(title)
        self.tree = QTreeView(self)
        self.tree.setObjectName("folderTree")
        self.tree.setModel(model)
        self.tree.setHeaderHidden(True)
        self.tree.clicked.connect(lambda i: self.folderChosen.emit(i.data(PathRole)))
        self.tree.activated.connect(lambda i: self.folderChosen.emit(i.data(PathRole)))
        layout.addWidget(self.tree)
        model.rowsInserted.connect(
            lambda parent, *_: self.tree.expand(parent) if parent.isValid() else None
        )
        row = QHBoxLayout()
        self.add_button = QPushButton("Add folder…")
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected library folder (photos stay on disk)")
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        layout.addLayout(row)
        self.add_button.clicked.connect(self.addRequested)
        self.remove_button.clicked.connect(self.remove_current)
        self.setAcceptDrops(True)

    def remove_current(self) -> None:
        """Ask to remove the library folder the current item is in (File > Remove folder)."""
        index = self.tree.currentIndex()
        while index.isValid() and not index.data(IsRootRole):
            index = index.parent()
        if index.isValid():
            self.removeRequested.emit(index.data(PathRole))

    def select(self, path: str) -> None:
        index = self.model.index_of(path)
        if index.isValid():
            self.tree.setCurrentIndex(index)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        folders = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        folders = [f for f in folders if os.path.isdir(f)]
        if folders:
            self.foldersDropped.emit(folders)
            event.acceptProposedAction()
