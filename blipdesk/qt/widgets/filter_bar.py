"""The filter and search bar: tag chips (AND / OR / NOT), a minimum score, free-text search, sort.

Chips cycle their mode on click (AND -> OR -> NOT) and go away through their ✕; the bar emits a
``FilterState`` / ``SortState``, and a search request that the main window sends to the worker.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QToolButton,
    QWidget,
)

from blipdesk.qt.models.photos import FilterState, SortState
from blipdesk.qt.values import Tag, tag_colour

NEXT_MODE = {"and": "or", "or": "not", "not": "and"}


class FilterBar(QWidget):
    filterChanged = Signal(object)  # FilterState (without search results)
    sortChanged = Signal(object)  # SortState
    searchRequested = Signal(str)
    searchCleared = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._tags: list[Tag] = []
        self.chips: list[tuple[str, str]] = []
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        self.add_chip = QToolButton()
        self.add_chip.setText("+ Tag filter")
        self.add_chip.setObjectName("addChip")
        self.add_chip.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        # Fusion draws the menu arrow over the last letter of a text-only tool button.
        self.add_chip.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.add_chip.setStyleSheet("QToolButton#addChip { padding-right: 14px; }")
        self.add_chip.setMenu(QMenu(self.add_chip))
        self.add_chip.menu().aboutToShow.connect(self._fill_menu)
        layout.addWidget(self.add_chip)
        self.chip_row = QHBoxLayout()
        layout.addLayout(self.chip_row)
        layout.addWidget(QLabel("Min score:"))
        self.min_score = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=1.0, singleStep=0.05)
        self.min_score.valueChanged.connect(self._emit)
        layout.addWidget(self.min_score)
        self.search = QLineEdit()
        self.search.setObjectName("searchBox")
        self.search.setPlaceholderText("Search: describe a photo, press Enter")
        self.search.setToolTip(
            "Describe a photo in a sentence and press Enter: the folder is ranked by how well "
            "each photo matches it"
        )
        self.search.setMinimumWidth(220)
        self.search.setClearButtonEnabled(True)
        self.search.returnPressed.connect(self._search)
        self.search.textChanged.connect(self._text_changed)
        layout.addWidget(self.search, 1)
        layout.addWidget(QLabel("Sort:"))
        self.sort = QComboBox()
        self.sort.setObjectName("sortBox")
        self.sort.currentIndexChanged.connect(self._emit_sort)
        layout.addWidget(self.sort)
        self.set_tags([])

    def set_tags(self, tags: list[Tag]) -> None:
        self._tags = list(tags)
        names = {t.name for t in tags}
        before = list(self.chips)
        self.chips = [c for c in self.chips if c[0] in names]
        current = self.sort.currentData()
        self.sort.blockSignals(True)
        self.sort.clear()
        self.sort.addItem("Name", ("name", None))
        self.sort.addItem("Date", ("date", None))
        for tag in tags:
            self.sort.addItem(f"Score: {tag.name}", ("score", tag.name))
        found = self.sort.findData(current) if current else 0
        self.sort.setCurrentIndex(max(0, found))
        self.sort.blockSignals(False)
        self._rebuild()
        if before != self.chips:
            self._emit()
        if found < 0:
            self._emit_sort()

    def add_filter(self, name: str, mode: str = "and") -> None:
        self.chips = [c for c in self.chips if c[0] != name] + [(name, mode)]
        self._rebuild()
        self._emit()

    def state(self) -> FilterState:
        return FilterState(tuple(self.chips), self.min_score.value())

    def sort_state(self) -> SortState:
        key, tag = self.sort.currentData() or ("name", None)
        return SortState(key, tag)

    def _fill_menu(self) -> None:
        menu = self.add_chip.menu()
        menu.clear()
        for tag in self._tags:
            menu.addAction(tag.name).triggered.connect(
                lambda _=False, n=tag.name: self.add_filter(n)
            )
        if not self._tags:
            menu.addAction("No tags yet").setEnabled(False)

    def _rebuild(self) -> None:
        while self.chip_row.count():
            item = self.chip_row.takeAt(0)
            old = None if item is None else item.widget()
            if old is None:
                continue
            old.hide()
            old.setParent(None)
            old.deleteLater()
        colours = {t.name: tag_colour(t) for t in self._tags}
        for name, mode in self.chips:
            chip = QToolButton()
            chip.setText(f"{mode.upper()} {name}")
            chip.setObjectName(f"chip-{name}")
            chip.setToolTip("Click to switch AND / OR / NOT; right-click to remove")
            colour = colours.get(name, "#888")
            chip.setStyleSheet(
                f"QToolButton {{ border: 2px solid {colour}; border-radius: 9px; padding: 1px 6px; }}"
            )
            chip.clicked.connect(lambda _=False, n=name: self._cycle(n))
            chip.setContextMenuPolicy(chip.contextMenuPolicy().CustomContextMenu)
            chip.customContextMenuRequested.connect(lambda _p, n=name: self._remove(n))
            self.chip_row.addWidget(chip)

    def _cycle(self, name: str) -> None:
        self.chips = [(n, NEXT_MODE[m] if n == name else m) for n, m in self.chips]
        self._rebuild()
        self._emit()

    def _remove(self, name: str) -> None:
        self.chips = [c for c in self.chips if c[0] != name]
        self._rebuild()
        self._emit()

    def _emit(self) -> None:
        self.filterChanged.emit(self.state())

    def _emit_sort(self) -> None:
        self.sortChanged.emit(self.sort_state())

    def _text_changed(self, text: str) -> None:
        if not text.strip():
            self.searchCleared.emit()

    def _search(self) -> None:
        text = self.search.text().strip()
        if text:
            self.searchRequested.emit(text)
        else:
            self.searchCleared.emit()
