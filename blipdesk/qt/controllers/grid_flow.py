"""The grid's wiring: the filter bar to the grid model, the grid's place (top of a new folder, the
best match of a search, the photo the viewer was on), the counts in the status bar and the
sidebar (re-listed and re-counted when a folder is opened or refreshed), the empty states, the
thumbnail size and the sort (both kept over a restart), and smart views. The main window builds
one from ``GridParts``: the parts it drives, the few things it asks of the window (callables)
and the signals it follows; and calls it when a folder is opened or closed. Everything else happens here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QModelIndex, QObject, SignalInstance
from PySide6.QtWidgets import (
    QAbstractItemView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QStatusBar,
    QWidget,
)

from blipdesk.qt.common.window_state import WindowState
from blipdesk.qt.controllers.label_actions import ANY_LABEL
from blipdesk.qt.controllers.shown_folder import ShownFolder
from blipdesk.qt.models.folders import FolderTreeModel
from blipdesk.qt.models.photos import PhotoGridModel
from blipdesk.qt.models.tags import TagListModel
from blipdesk.qt.widgets.empty_state import EmptyState
from blipdesk.qt.widgets.filter_bar import FilterBar
from blipdesk.qt.widgets.photo_grid import PhotoGrid
from blipdesk.qt.widgets.scan_status import ScanStatus
from blipdesk.qt.widgets.sidebar import LibrarySidebar
from blipdesk.qt.widgets.thumb_slider import ThumbSlider
from blipdesk.qt.workers.tasks import BackgroundTasks
from blipdesk.services.photo_filter import SortState, criteria, describe_chips
from blipdesk.services.smart_views import FILE_NAME, SmartView, SmartViews, write_views

# A criterion set from a menu (photo_filter.CRITERIA) -> what the empty grid calls it, and the
# menu that turns it off (its chip's ✕ in the filter bar does too).
CRITERION_NAMES = {
    "rating": ("rating", "Photo > Show only > Any rating"),
    "labels": ("label", f"Teach > Show only > {ANY_LABEL}"),
    "duplicates": ("duplicates", "View > Show duplicates only"),
    "file_name": ("file name", ""),
}


@dataclass(frozen=True)
class GridParts:
    """What the grid's wiring works with: the parts it drives, what it asks of the window as
    callables, and the signals it follows (nothing else of the window is reachable from here)."""

    bar: FilterBar
    photos: PhotoGridModel
    grid: PhotoGrid
    sidebar: LibrarySidebar
    folders: FolderTreeModel
    shown: ShownFolder  # the folder shown (``current``), listed again by ``open``
    tags: TagListModel
    state: WindowState  # forgets the folder shown when it leaves the library
    status: QStatusBar
    scan_status: ScanStatus
    tasks: BackgroundTasks  # writes smart-views.json, in order after the file work before it
    data_dir: Path  # where smart-views.json is
    search: Callable[[str], None]  # run a search in the folder shown
    recursive: Callable[[], bool]  # the settings' "look into subfolders"
    recount: Callable[[str], None]  # count the library folder holding a folder again
    set_title: Callable[[str], None]
    # What it follows: a search's results, the folder listed into the grid model, a library
    # folder counted, the viewer opened or closed, a tag renamed (old, new).
    searched: SignalInstance
    listed: SignalInstance
    counted: SignalInstance
    viewing: SignalInstance
    renamed: SignalInstance


class GridFlow(QObject):
    def __init__(self, parts: GridParts, parent: QWidget) -> None:
        super().__init__(parent)
        self.parts = parts
        self._dialog_parent = parent
        self._query = ""  # the search whose results are shown
        self._new_folder = False
        self._root: str | None = None  # the folder listed last
        bar, photos, grid = parts.bar, parts.photos, parts.grid
        bar.filterChanged.connect(photos.set_chips)
        bar.sortChanged.connect(photos.set_sort)
        bar.searchRequested.connect(parts.search)
        bar.searchCleared.connect(self._search_cleared)
        bar.saveViewRequested.connect(self.save_view)
        parts.searched.connect(self.searched)
        parts.listed.connect(self.listed)
        parts.counted.connect(self.counted)
        parts.viewing.connect(self.viewing)
        parts.renamed.connect(bar.rename_tag)

        # Status bar: "27 photos · 3 selected", the thumbnail size.
        self.count_label = QLabel()

        self.count_label.setObjectName("countLabel")
        self.slider = ThumbSlider(grid)
        status = parts.status
        # Left of the scan line, which stays at the right edge (its parts keep their places).
        status.insertPermanentWidget(0, self.count_label)
        status.insertPermanentWidget(1, self.slider)
        photos.countsChanged.connect(self.show_counts)
        photos.modelReset.connect(self.show_counts)
        grid.selectionModel().selectionChanged.connect(self.show_counts)
        # The thumbnail size and the sort of the last session (kept with the window's layout).
        state = parts.state
        if (px := state.thumb_size()) is not None:
            grid.set_thumb_size(px)
        if (sort := state.sort()) is not None:
            bar.restore_sort(sort)
        grid.thumbSizeChanged.connect(state.set_thumb_size)
        bar.sortChanged.connect(self._sort_changed)
        # A scan's scores do not move the photos while it runs: the order follows when it
        # pauses or ends (the count line says so meanwhile).
        scan = parts.scan_status
        scan.runningChanged.connect(self._hold_order)
        scan.pauseToggled.connect(self._hold_order)
        # The folder's cameras, lenses… (the metadata columns) and its days (the date tree).
        parts.shown.described.connect(self._described)
        parts.sidebar.daysChosen.connect(self._days_chosen)

        self.empty = EmptyState(grid, self.empty_text)

        # Smart views: saved filter + sort, in the sidebar.
        self.views = SmartViews(parts.data_dir / FILE_NAME)
        parts.sidebar.set_views(self.views.load())
        parts.sidebar.viewChosen.connect(self.apply_view)
        parts.sidebar.viewRemoved.connect(self.remove_view)
        self._saving = 0  # the background request writing smart-views.json
        parts.tasks.failed.connect(self._save_failed)
        if self.views.problem:
            status.showMessage(self.views.problem, 10000)

    # ----------------------------------------------------------------- folders

    def folder_opened(self, folder: str) -> None:
        """A folder is shown: the scan line forgets another folder's result, the grid will
        start at the top, the folder's counts are taken again (files come and go)."""
        p = self.parts
        self._new_folder = True
        p.scan_status.folder_shown(folder)
        p.folders.set_recursive(p.recursive())
        p.recount(folder)
        self.empty.refresh()

    def folder_closed(self) -> None:
        """The folder shown was removed from the library: nothing names it any more."""
        p = self.parts
        p.set_title("blipdesk")
        p.sidebar.tree.clearSelection()
        p.sidebar.tree.setCurrentIndex(QModelIndex())
        p.state.forget_last_folder()
        p.scan_status.folder_shown(None)
        p.bar.set_photos([], None)
        self.empty.refresh()

    def refresh(self) -> None:
        """Re-list the folder shown and re-count its library folder (File > Refresh, F5)."""
        folder = self.parts.shown.current
        if folder:
            self.parts.shown.open(folder)
            self.parts.recount(folder)

    def listed(self, folder: str) -> None:
        """The folder's photos are in the grid model (``ShownFolder.listed``); its types,
        folders and days come counted from the lister's thread (``_described``)."""
        self._root = folder
        if self._new_folder:
            self._new_folder = False
            self.parts.grid.scrollToTop()
        self.empty.refresh()

    def counted(self, _counts) -> None:
        """A library folder was counted (``FolderLister.counted``)."""
        # The subfolders exist in the tree only now: highlight the folder shown (after a
        # restart the last folder is opened before the tree is counted).
        folder = self.parts.shown.current
        if folder:
            self.parts.sidebar.select(folder)

    def _described(self, facts) -> None:
        self.parts.bar.facts.show_facts(facts, self._root)
        self.parts.sidebar.set_days(facts.days)

    def _days_chosen(self, first, last) -> None:
        """A year, month or day of the date tree: the date filter shows it (More filters)."""
        bar = self.parts.bar
        if first is not None:
            bar.more.setChecked(True)
        bar.facts.set_dates(first, last)

    def _hold_order(self, *_args) -> None:
        scan = self.parts.scan_status
        self.parts.photos.hold_order(scan.running and not scan.pause.isChecked())

    def _sort_changed(self, sort: SortState) -> None:
        if sort.key != "search":  # a search's order lasts as long as the search
            self.parts.state.set_sort(sort)

    # ----------------------------------------------------------------- search

    def searched(self, result) -> None:
        photos, grid = self.parts.photos, self.parts.grid
        photos.show_search(result.query, result.order, result.itm)
        self.parts.status.showMessage(result.message(), 0 if not result.done else 15000)
        if result.query != self._query:  # a new search opens at its best match
            self._query = result.query
            first = photos.index(0)
            if first.isValid():
                grid.setCurrentIndex(first)
            grid.scrollToTop()

    def _search_cleared(self) -> None:
        self._query = ""
        self.parts.photos.clear_search()

    # ----------------------------------------------------------------- viewer

    def viewing(self, viewing: bool) -> None:
        """The viewer opened or closed (``PhotoStack.viewing``)."""
        if not viewing:  # back from the viewer: the photo it was on is in sight
            grid = self.parts.grid
            index = grid.currentIndex()
            if index.isValid():
                grid.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)

    # ----------------------------------------------------------------- counts, empty states

    def show_counts(self, *_args) -> None:
        p = self.parts
        text = p.photos.counts_text() if p.shown.current else ""
        selected = len(p.grid.selectionModel().selectedIndexes())
        if selected:
            text += f" · {selected} selected"
        self.count_label.setText(text)

    def empty_text(self) -> str | None:
        """What the empty grid says, or None when it is not empty."""
        p, photos = self.parts, self.parts.photos
        if photos.rowCount():
            return None
        current = p.shown.current
        if not p.folders.roots():
            tags = "" if p.tags.tags() else (
                "<br>Then write a tag — a sentence like “a dog on a beach” — with "
                "<b>Add tag…</b> in the Tags panel (Tags &gt; New tag…), and press <b>Scan</b>."
            )  # fmt: skip
            return (
                "<h3>Welcome to blipdesk</h3>Add a folder of photos: <b>File &gt; Add folder…</b>,"
                f" the <b>Add folder…</b> button, or drop a folder on the library.{tags}"
            )
        if current is None:
            return "Choose a folder in the library on the left."
        if not photos.total():
            name = os.path.basename(current) or current
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
        for key, text in criteria(state):  # set from a menu or a saved view (the rating…)
            name, menu = CRITERION_NAMES.get(key, (key, ""))
            where = f"{menu}, or its chip's ✕" if menu else "its chip's ✕"
            how.append(f"the {name} filter: {where} (it keeps {text})")
        items = "".join(f"<li>{_html(h)}</li>" for h in how)
        return (
            f"<h3>No photo matches</h3>All {photos.total()} photos are hidden by:"
            f"<ul>{items}</ul>Widen any of them to see photos again."
        )

    # ----------------------------------------------------------------- smart views

    def save_view(self) -> None:
        name, ok = QInputDialog.getText(
            self._dialog_parent,
            "Save view",
            "Name this filter and sort:",
            QLineEdit.EchoMode.Normal,
            "",
        )
        if ok and name.strip():
            self.add_view(name.strip())

    def add_view(self, name: str) -> None:
        bar = self.parts.bar
        self._store(self.views.with_view(SmartView(name, bar.state(), bar.sort_state())))

    def remove_view(self, name: str) -> None:
        self._store(self.views.without(name))

    def apply_view(self, name: str) -> None:
        view = next((v for v in self.views.views if v.name == name), None)
        if view is not None:
            self.parts.bar.show_view(view.filter, view.sort)
            self.parts.status.showMessage(f"Smart view “{name}”", 4000)

    def _store(self, views: list[SmartView]) -> None:
        """Shown at once; written in the background tasks' thread (in order, after the file
        work before it), a failure said in the status bar."""
        self.views.views = list(views)
        self.parts.sidebar.set_views(self.views.views)
        self._saving = self.parts.tasks.start(write_views, self.views.path, list(views))

    def _save_failed(self, request: int, message: str, *_rest) -> None:
        if request == self._saving:
            self.parts.status.showMessage(f"The smart views could not be saved: {message}", 10000)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
