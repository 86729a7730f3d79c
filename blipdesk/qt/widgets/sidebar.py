"""The library sidebar: library folders (button, menu or drag-and-drop), their subfolder tree with
photo counts, and remove; below them the smart views (saved filter + sort; right-click removes)."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from blipdesk.qt.models.folders import FolderTreeModel, IsRootRole, PathRole


class LibrarySidebar(QWidget):
    folderChosen = Signal(str)
    addRequested = Signal()
    removeRequested = Signal(str)
    foldersDropped = Signal(list)
    viewChosen = Signal(str)  # a smart view's name
    viewRemoved = Signal(str)

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
        self.views_title = QLabel("<b>Smart views</b>")
        self.views_title.setContentsMargins(4, 6, 0, 2)
        self.views_title.setToolTip("Saved filters and sorts: “Save view…” in the filter bar")
        self.views = QListWidget()

        self.views.setObjectName("smartViews")
        self.views.setMaximumHeight(140)
        self.views.itemActivated.connect(lambda item: self.viewChosen.emit(item.text()))
        self.views.itemClicked.connect(lambda item: self.viewChosen.emit(item.text()))
        self.views.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.views.customContextMenuRequested.connect(self._view_menu)
        layout.addWidget(self.views_title)
        layout.addWidget(self.views)
        self.set_views([])
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

    def set_views(self, views) -> None:
        self.views.clear()
        for view in views:
            item = QListWidgetItem(view.name)
            item.setToolTip("Click to show this filter and sort; right-click to remove")
            self.views.addItem(item)
        for w in (self.views_title, self.views):
            w.setVisible(bool(views))

    def _view_menu(self, pos) -> None:
        item = self.views.itemAt(pos)
        if item is None:
            return
        menu = QMenu(self)
        menu.addAction(f"Remove “{item.text()}”").triggered.connect(
            lambda: self.viewRemoved.emit(item.text())
        )
        menu.exec(self.views.viewport().mapToGlobal(pos))

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
