"""Every mode that filters the grid is visible and easy to leave (issue 25): a search with no text
in the search box (More like this) was an invisible filter whose empty grid said "clear the search
box" while the box was empty, and Esc did nothing.

``GridModes`` names what hides photos and has no chip of its own in the filter bar (a search
with an empty box, the folded date, type or folder filter) on the ``ModeBar`` over the grid, and
leaves one on its ✕. Esc in the grid or the search box leaves them all, and the filter bar's
criteria too (rating, labels, duplicates... : each already a chip with its ✕ in the bar, and the
menus that set them follow the bar).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QWidget

from blipdesk.qt.models.photos import PhotoGridModel
from blipdesk.qt.widgets.filter_bar import FilterBar
from blipdesk.qt.widgets.mode_bar import ModeBar
from blipdesk.services.photo_filter import criteria

SEARCH, FACTS = "search", "facts"


class GridModes(QObject):
    def __init__(
        self,
        bar: ModeBar,
        photos: PhotoGridModel,
        filter_bar: FilterBar,
        grid: QWidget,
    ) -> None:
        super().__init__(bar)
        self.bar, self.photos, self.filter_bar = bar, photos, filter_bar
        bar.leaveRequested.connect(self.leave)
        self._later = QTimer(self, singleShot=True, interval=0)
        self._later.timeout.connect(self.refresh)
        for signal in (photos.modelReset, photos.layoutChanged, photos.countsChanged):
            signal.connect(self._later.start)
        filter_bar.more.toggled.connect(self._later.start)
        self.keys = []
        for widget in (grid, filter_bar.search):  # Esc: the viewer keeps its own (back to grid)
            key = QShortcut(QKeySequence(Qt.Key.Key_Escape), widget)
            key.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            key.activated.connect(self.leave_all)
            self.keys.append(key)
        self.refresh()

    def active(self) -> list[tuple[str, str]]:
        """(key, text) of every mode hiding photos that the filter bar's chips do not show."""
        state, out = self.photos.filter, []
        if state.search is not None:
            out.append((SEARCH, f"Search: {state.search_text}"))
        if state.facts_active and not self.filter_bar.more.isChecked():
            out.append((FACTS, "Date, type or folder (More filters)"))
        return out

    def refresh(self) -> None:
        self.bar.set_modes(self.active())

    def leave(self, key: str) -> None:
        if key == SEARCH:
            if self.filter_bar.search.text():
                self.filter_bar.search.clear()  # the box's own way out (the sort comes back)
            self.photos.clear_search()
        elif key == FACTS:
            self.filter_bar.more.setChecked(True)  # shown, where Clear is
            self.filter_bar.facts.reset()
        self.refresh()

    def leave_all(self) -> None:
        """Esc: every photo of the folder again (the filter bar's own chips stay: they show)."""
        for key, _text in self.active():
            self.leave(key)
        for key, _text in criteria(self.filter_bar.state()):
            self.filter_bar.clear_criterion(key)
