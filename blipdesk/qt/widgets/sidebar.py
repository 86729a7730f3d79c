"""The library sidebar: library folders (button, menu or drag-and-drop), their subfolder tree with
photo counts, and remove; below them the smart views (saved filter + sort; right-click removes)
and the date tree of the folder shown (year › month › day with counts; a click filters the grid
to that year, month or day, "All dates" shows every day again)."""

from __future__ import annotations

import calendar
import os
from collections.abc import Mapping
from datetime import date

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QTreeView,
    QTreeWidget,
    QTreeWidgetItem,
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
    daysChosen = Signal(object, object)  # first day, last day (dates; None, None: every day)

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
        self.dates_title = QLabel("<b>Dates</b>")
        self.dates_title.setContentsMargins(4, 6, 0, 2)
        self.dates_title.setToolTip("When the photos were taken: click a year, month or day")
        self.dates = QTreeWidget()
        self.dates.setObjectName("dateTree")
        self.dates.setHeaderHidden(True)
        self.dates.setColumnCount(1)
        self.dates.itemClicked.connect(self._day_clicked)
        self.dates.itemActivated.connect(self._day_clicked)
        layout.addWidget(self.dates_title)
        layout.addWidget(self.dates)
        self.set_days({})
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

    def set_days(self, days: Mapping[date, int]) -> None:
        """The date tree of the folder shown: day -> photos taken that day."""
        self.dates.clear()
        years: dict[int, dict[int, list[tuple[date, int]]]] = {}
        for day, n in sorted(days.items()):
            years.setdefault(day.year, {}).setdefault(day.month, []).append((day, n))
        every = QTreeWidgetItem([f"All dates ({sum(days.values())})"])
        every.setData(0, Qt.ItemDataRole.UserRole, (None, None))
        self.dates.addTopLevelItem(every)
        for year in sorted(years, reverse=True):  # the newest first, as a photographer looks
            months = years[year]
            total = sum(n for m in months.values() for _d, n in m)
            year_item = QTreeWidgetItem([f"{year} ({total})"])
            year_item.setData(0, Qt.ItemDataRole.UserRole, (date(year, 1, 1), date(year, 12, 31)))
            for month in sorted(months, reverse=True):
                found = months[month]
                last = calendar.monthrange(year, month)[1]
                month_item = QTreeWidgetItem(
                    [f"{calendar.month_name[month]} ({sum(n for _d, n in found)})"]
                )
                month_item.setData(
                    0, Qt.ItemDataRole.UserRole, (date(year, month, 1), date(year, month, last))
                )
                for day, n in reversed(found):
                    day_item = QTreeWidgetItem([f"{day.day} {day.strftime('%a')} ({n})"])
                    day_item.setData(0, Qt.ItemDataRole.UserRole, (day, day))
                    month_item.addChild(day_item)
                year_item.addChild(month_item)
            self.dates.addTopLevelItem(year_item)
        for w in (self.dates_title, self.dates):
            w.setVisible(bool(days))

    def _day_clicked(self, item: QTreeWidgetItem) -> None:
        first, last = item.data(0, Qt.ItemDataRole.UserRole)
        self.daysChosen.emit(first, last)

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
