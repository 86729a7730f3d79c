"""The grid's wiring: the filter bar to the grid model, the grid's place (top of a new folder, the
best match of a search, the photo the viewer was on), the counts in the status bar and the
sidebar (re-listed and re-counted when a folder is opened or refreshed), the empty states, the
thumbnail size, and smart views. The main window builds one and calls it when a folder is opened
or closed; everything else happens here.
"""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import QModelIndex, QObject
from PySide6.QtWidgets import QAbstractItemView, QInputDialog, QLabel, QLineEdit

from blipdesk.qt.widgets.empty_state import EmptyState
from blipdesk.qt.widgets.thumb_slider import ThumbSlider
from blipdesk.services.photo_filter import describe_chips
from blipdesk.services.smart_views import SmartView, SmartViews, write_views


class GridFlow(QObject):
    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.w = window
        self._query = ""  # the search whose results are shown
        self._new_folder = False
        w, bar, photos, grid = window, window.filter_bar, window.photos, window.grid
        bar.filterChanged.connect(photos.set_chips)
        bar.sortChanged.connect(photos.set_sort)
        bar.searchRequested.connect(window.search)
        bar.searchCleared.connect(self._search_cleared)
        bar.saveViewRequested.connect(self.save_view)
        w.tag_actions.renamed.connect(bar.rename_tag)
        w.stack.viewing.connect(self._viewing)
        w.shown.listed.connect(self._listed)
        w.lister.counted.connect(self._counted)

        # Status bar: "27 photos · 3 selected", the thumbnail size.
        self.count_label = QLabel()

        self.count_label.setObjectName("countLabel")
        self.slider = ThumbSlider(grid)
        status = w.statusBar()
        # Left of the scan line, which stays at the right edge (its parts keep their places).
        status.insertPermanentWidget(0, self.count_label)
        status.insertPermanentWidget(1, self.slider)
        photos.countsChanged.connect(self.show_counts)
        photos.modelReset.connect(self.show_counts)
        grid.selectionModel().selectionChanged.connect(self.show_counts)

        self.empty = EmptyState(grid, self.empty_text)

        # Smart views: saved filter + sort, in the sidebar.
        self.views = SmartViews(w.paths.data_dir / "smart-views.json")
        w.sidebar.set_views(self.views.load())
        w.sidebar.viewChosen.connect(self.apply_view)
        w.sidebar.viewRemoved.connect(self.remove_view)
        self._saving = 0  # the background request writing smart-views.json
        w.tasks.failed.connect(self._save_failed)
        if self.views.problem:
            status.showMessage(self.views.problem, 10000)

    # ----------------------------------------------------------------- folders

    def folder_opened(self, folder: str) -> None:
        """A folder is shown: the scan line forgets another folder's result, the grid will
        start at the top, the folder's counts are taken again (files come and go)."""
        self._new_folder = True
        self.w.scan_status.folder_shown(folder)
        self.w.folders.set_recursive(self.w.settings.recursive)
        self.w.lister.count(self.w._root_of(folder))
        self.empty.refresh()

    def folder_closed(self) -> None:
        """The folder shown was removed from the library: nothing names it any more."""
        self.w.setWindowTitle("blipdesk")
        self.w.sidebar.tree.clearSelection()
        self.w.sidebar.tree.setCurrentIndex(QModelIndex())
        self.w.state.forget_last_folder()
        self.w.scan_status.folder_shown(None)
        self.w.filter_bar.set_photos([], None)
        self.empty.refresh()

    def refresh(self) -> None:
        """Re-list the folder shown and re-count its library folder (File > Refresh, F5)."""
        if self.w.current_folder:
            self.w.shown.open(self.w.current_folder)
            self.w.lister.count(self.w._root_of(self.w.current_folder))

    def _listed(self, folder: str) -> None:
        self.w.filter_bar.set_photos(self.w.photos.photos(), folder)
        if self._new_folder:
            self._new_folder = False
            self.w.grid.scrollToTop()
        self.empty.refresh()

    def _counted(self, _counts) -> None:
        # The subfolders exist in the tree only now: highlight the folder shown (after a
        # restart the last folder is opened before the tree is counted).
        if self.w.current_folder:
            self.w.sidebar.select(self.w.current_folder)

    # ----------------------------------------------------------------- search

    def searched(self, result) -> None:
        photos, grid = self.w.photos, self.w.grid
        photos.show_search(result.query, result.order, result.itm)
        self.w.statusBar().showMessage(result.message(), 0 if not result.done else 15000)
        if result.query != self._query:  # a new search opens at its best match
            self._query = result.query
            first = photos.index(0)
            if first.isValid():
                grid.setCurrentIndex(first)
            grid.scrollToTop()

    def _search_cleared(self) -> None:
        self._query = ""
        self.w.photos.clear_search()

    # ----------------------------------------------------------------- viewer

    def _viewing(self, viewing: bool) -> None:
        if not viewing:  # back from the viewer: the photo it was on is in sight
            index = self.w.grid.currentIndex()
            if index.isValid():
                self.w.grid.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)

    # ----------------------------------------------------------------- counts, empty states

    def show_counts(self, *_args) -> None:
        text = self.w.photos.counts_text() if self.w.current_folder else ""
        selected = len(self.w.grid.selectionModel().selectedIndexes())
        if selected:
            text += f" · {selected} selected"
        self.count_label.setText(text)

    def empty_text(self) -> str | None:
        """What the empty grid says, or None when it is not empty."""
        w, photos = self.w, self.w.photos
        if photos.rowCount():
            return None
        if not w.folders.roots():
            tags = "" if w.tags.tags() else (
                "<br>Then write a tag — a sentence like “a dog on a beach” — with "
                "<b>Add tag…</b> in the Tags panel (Tags &gt; New tag…), and press <b>Scan</b>."
            )  # fmt: skip
            return (
                "<h3>Welcome to blipdesk</h3>Add a folder of photos: <b>File &gt; Add folder…</b>,"
                f" the <b>Add folder…</b> button, or drop a folder on the library.{tags}"
            )
        if w.current_folder is None:
            return "Choose a folder in the library on the left."
        if not photos.total():
            name = os.path.basename(w.current_folder) or w.current_folder
            return f"No photos in “{name}” (JPEG, PNG, WebP, TIFF, HEIC…)."
        state = photos.filter
        how = []
        if state.chips or state.min_score > 0:
            chips = describe_chips(state.chips, state.min_score)
            how.append(f"the tag filter ({chips}): remove a chip (✕) or lower the minimum score")
        if state.search is not None:
            how.append(f"the search “{state.search_text}”: press Esc, or ✕ above the grid")
        if state.facts_active:
            how.append("the date, type or folder filter: press Clear under More filters")
        for key, value in state.extra:
            how.append(f"the {key.replace('_', ' ')} filter ({value})")
        for name, undo in photos.extra_filters().items():  # set from a menu (the rating…)
            how.append(f"the {name} filter: {undo}" if undo else f"the {name} filter")
        items = "".join(f"<li>{_html(h)}</li>" for h in how)
        return (
            f"<h3>No photo matches</h3>All {photos.total()} photos are hidden by:"
            f"<ul>{items}</ul>Widen any of them to see photos again."
        )

    # ----------------------------------------------------------------- smart views

    def save_view(self) -> None:
        name, ok = QInputDialog.getText(
            self.w, "Save view", "Name this filter and sort:", QLineEdit.EchoMode.Normal, ""
        )
        if ok and name.strip():
            self.add_view(name.strip())

    def add_view(self, name: str) -> None:
        view = SmartView(name, self.w.filter_bar.state(), self.w.filter_bar.sort_state())
        self._store(self.views.with_view(view))

    def remove_view(self, name: str) -> None:
        self._store(self.views.without(name))

    def apply_view(self, name: str) -> None:
        view = next((v for v in self.views.views if v.name == name), None)
        if view is not None:
            self.w.filter_bar.show_view(view.filter, view.sort)
            self.w.statusBar().showMessage(f"Smart view “{name}”", 4000)

    def _store(self, views: list[SmartView]) -> None:
        """Shown at once; written in the background tasks' thread (in order, after the file
        work before it), a failure said in the status bar."""
        self.views.views = list(views)
        self.w.sidebar.set_views(self.views.views)
        self._saving = self.w.tasks.start(write_views, self.views.path, list(views))

    def _save_failed(self, request: int, message: str, *_rest) -> None:
        if request == self._saving:
            self.w.statusBar().showMessage(f"The smart views could not be saved: {message}", 10000)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
