"""The filter and search bar: tag chips, a minimum score, free-text search, sort and direction,
and (under "More filters") date taken, file type and folder.

The chips are shown as the rule evaluates them ("all of: astronaut ✕ · any of: cat ✕ dog ✕ ·
none of: car ✕", see ``blipdesk.services.photo_filter``), in a flow layout that wraps: adding chips never
widens the window. A click on a chip moves it to the next group (all → any → none); its ✕ removes
it. The criteria set elsewhere (a rating or flag from Photo > Show only, labels from Teach > Show
only, View > Show duplicates only, or a saved view) are chips too ("only: ≥ ★★★ ✕"), set with
``set_criteria``. The bar emits a ``FilterState`` / ``SortState`` and a search request the window
sends to the worker; every criterion travels in the one ``FilterState``
(``blipdesk.services.photo_filter``): the bar is where the window's filter is made.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import Any

from PySide6.QtCore import QDate, QDateTime, QEvent, QObject, Qt, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDoubleSpinBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from blipdesk.core.exif import NO_FACTS
from blipdesk.qt.common.values import Photo, Tag, tag_colour
from blipdesk.qt.widgets.flow_layout import FlowLayout, flow_widget
from blipdesk.services.photo_filter import (
    CRITERIA,
    SHOT_COLUMNS,
    SHOT_KEYS,
    SORT_KEYS,
    FilterState,
    FolderFacts,
    SortState,
    criteria,
    describe_chips,
    direction_text,
    folder_facts,
    without,
)

CRITERIA_KEYS = tuple(CRITERIA)
NEXT_MODE = {"and": "or", "or": "not", "not": "and"}
GROUP_WORDS = {"and": "all of:", "or": "any of:", "not": "none of:"}
MIN_SCORE_TIP = (
    "Minimum score: with tag chips, each all-of / any-of tag must reach it (none-of tags exclude "
    "every photo that carries them, whatever this says); with no chip, a photo is shown when any "
    "of its tags reaches it; with a search, the search's match must reach it. 0 turns it off."
)
NO_DATE = QDate(1900, 1, 1)
ANY = "any"  # what a date box says when it sets no bound


def typed_day(text: str) -> QDate | None:
    """The day a person typed in a date box: "2024-03-05", "2024 03 05" or "20240305" (the
    separators are optional: the box's sections eat them); None when it is no whole day."""
    digits = re.sub(r"\D", "", text.strip().removeprefix(ANY))
    day = QDate.fromString(digits, "yyyyMMdd") if len(digits) == 8 else QDate()
    return day if day.isValid() and day > NO_DATE else None


class DayEdit(QDateEdit):
    """A day, or "any" (no bound). A typed day is kept (a plain ``QDateEdit`` at its special
    value throws the digits away), and the calendar opens at ``page`` (the library's dates, else
    today) while no day is set, never at the minimum (January 1900)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.page = QDate.currentDate()
        self.setCalendarPopup(True)
        self.setDisplayFormat("yyyy-MM-dd")
        self.setMinimumDate(NO_DATE)
        self.setSpecialValueText(ANY)  # shown at the minimum date: no bound
        self.setDate(NO_DATE)
        self.calendarWidget().installEventFilter(self)
        self.editingFinished.connect(self._show_any)

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:
        bare = text.strip()
        if bare in ("", ANY) or typed_day(bare) is not None:
            return QValidator.State.Acceptable, text, pos
        if ANY.startswith(bare) or re.fullmatch(r"(any)?[\d\s/.-]{0,10}", bare):
            return QValidator.State.Intermediate, text, pos
        return QValidator.State.Invalid, text, pos

    def dateTimeFromText(self, text: str) -> QDateTime:
        return QDateTime(typed_day(text) or NO_DATE, self.time())

    def fixup(self, text: str) -> str:
        day = typed_day(text)
        return day.toString("yyyy-MM-dd") if day is not None else ANY

    def _show_any(self) -> None:
        if self.date() == NO_DATE and self.lineEdit().text() != ANY:
            self.lineEdit().setText(ANY)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Show and self.date() == NO_DATE:
            page = self.page if self.page.isValid() else QDate.currentDate()
            self.calendarWidget().setCurrentPage(page.year(), page.month())
        return super().eventFilter(watched, event)


class Chip(QFrame):
    """One tag filter: its name (click: next group) and a ✕ (remove)."""

    def __init__(self, name: str, mode: str) -> None:
        super().__init__()
        self.setObjectName("chip")
        self.name, self.mode = name, mode

    def remove_button(self) -> QToolButton | None:
        return self.findChild(QToolButton, "chipRemove")

    def label_button(self) -> QToolButton | None:
        return self.findChild(QToolButton, "chipLabel")


class CriterionChip(Chip):
    """One criterion set outside the chips (a rating, labels, duplicates…): what it keeps and a
    ✕ that turns it off. ``name`` is its key in ``photo_filter.CRITERIA``."""


class FactsRow(QWidget):
    """Date taken (from, to), file type and folder: what a photo is, not what it shows."""

    changed = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        layout = FlowLayout(self, spacing=6)  # wraps in a narrow window
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self.date_from, self.date_to = DayEdit(), DayEdit()
        self._first = self._last = QDate.currentDate()  # the library's first and last days
        for edit, name in ((self.date_from, "dateFrom"), (self.date_to, "dateTo")):
            edit.setObjectName(name)
            edit.dateChanged.connect(self._pages)
            edit.dateChanged.connect(self.changed)
        self.date_to.setToolTip("Taken on or before this day (the file's date when no EXIF date)")
        self.date_from.setToolTip("Taken on or after this day (the file's date when no EXIF date)")
        self.kind = QComboBox()

        self.kind.setObjectName("kindBox")
        self.folder = QComboBox()

        self.folder.setObjectName("folderBox")
        for box in (self.kind, self.folder):
            box.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            box.setMinimumContentsLength(10)
            box.currentIndexChanged.connect(self.changed)
        # The metadata columns (camera, lens, ISO, focal length, aperture), as Lightroom's: each
        # offers the values the folder's photos have, with how many photos have each.
        self.shot: dict[str, QComboBox] = {}
        shot_widgets: list[QWidget] = []
        for key in SHOT_KEYS:
            box = QComboBox()
            box.setObjectName(f"{key}Box")
            box.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            box.setMinimumContentsLength(8)
            box.currentIndexChanged.connect(self.changed)
            self.shot[key] = box
            shot_widgets += [QLabel(SHOT_COLUMNS[key][2]), box]
        self.clear = QPushButton("Clear")
        self.clear.setToolTip("Show every date, type, folder, camera, lens… again")
        self.clear.clicked.connect(self.reset)
        for widget in (
            QLabel("Taken from"), self.date_from, QLabel("to"), self.date_to,
            QLabel("Type"), self.kind, QLabel("Folder"), self.folder, *shot_widgets, self.clear,
        ):  # fmt: skip
            if isinstance(widget, QLabel):
                widget.setProperty("keepWithNext", True)
            layout.addWidget(widget)
        self.set_photos([], None)
        self.set_shot_values({})

    def set_shot_values(self, values: Mapping[str, Mapping[Any, int]]) -> None:
        """The metadata columns' values (FilterState field -> value -> photos), most photos
        first; the current choice kept."""
        for key, box in self.shot.items():
            say = SHOT_COLUMNS[key][3]
            found = sorted(values.get(key, {}).items(), key=lambda kv: (-kv[1], str(kv[0])))
            everything = "All" if key != "cameras" else "All cameras"
            self._fill(box, everything, [(f"{say(v)} ({n})", v) for v, n in found])

    def set_photos(self, photos: list[Photo], root: str | None) -> None:
        """Offer the types, folders and days ``photos`` hold (a pass over them: the window
        counts them in the lister's thread and calls ``show_facts``)."""
        self.show_facts(folder_facts(photos, lambda _p: NO_FACTS), root, shot=False)

    def show_facts(self, facts: FolderFacts, root: str | None, shot: bool = True) -> None:
        """Offer the types, folders, days (and, with ``shot``, the metadata columns' values)
        the folder holds; the current choices kept if still there."""
        kinds = sorted(facts.kinds)
        if facts.days:
            first, last = min(facts.days), max(facts.days)
            self._first = QDate(first.year, first.month, first.day)
            self._last = QDate(last.year, last.month, last.day)
        else:
            self._first = self._last = QDate.currentDate()
        self._pages()
        if shot:
            self.set_shot_values(facts.columns)
        folders = sorted(facts.folders)
        self._fill(self.kind, "All types", [(k.lstrip(".").upper(), k) for k in kinds])
        self._fill(
            self.folder,
            "All folders",
            [(os.path.relpath(f, root) if root else f, f) for f in folders]
            if len(folders) > 1
            else [],
        )

    def _pages(self, *_args) -> None:
        """Where an empty date box's calendar opens: "from" at the library's first day, "to" at
        its last (or at the "from" day, when that is later)."""
        start = self.date_from.date()
        self.date_from.page = self._first
        self.date_to.page = start if start != NO_DATE and start > self._last else self._last

    def _fill(self, box: QComboBox, everything: str, items: Sequence[tuple[str, object]]) -> None:
        current = box.currentData()
        box.blockSignals(True)
        box.clear()
        box.addItem(everything, None)
        for text, data in items:
            box.addItem(text, data)
        found = next((i for i in range(box.count()) if box.itemData(i) == current), 0)
        box.setCurrentIndex(found)
        box.blockSignals(False)
        if current is not None and found == 0:
            self.changed.emit()

    def apply(self, state: FilterState) -> FilterState:
        """``state`` with this row's criteria."""

        def stamp(edit: QDateEdit, next_day: bool) -> float | None:
            day = edit.date()
            if day == NO_DATE:
                return None
            when = date(day.year(), day.month(), day.day()) + timedelta(days=int(next_day))
            return datetime.combine(when, time()).timestamp()

        kind = self.kind.currentData()
        shot = {key: self._chosen(box) for key, box in self.shot.items()}
        return replace(
            state,
            date_from=stamp(self.date_from, False),
            date_to=stamp(self.date_to, True),
            kinds=(kind,) if kind else (),
            folder=self.folder.currentData(),
            **shot,  # type: ignore[arg-type]
        )

    @staticmethod
    def _chosen(box: QComboBox) -> tuple[object, ...]:
        value = box.currentData()
        return () if value is None else (value,)

    def set_dates(self, first: date | None, last: date | None) -> None:
        """Show the days from ``first`` to ``last`` (both included; None: no bound) and filter
        by them (the sidebar's date tree)."""
        for edit, day in ((self.date_from, first), (self.date_to, last)):
            edit.blockSignals(True)
            edit.setDate(NO_DATE if day is None else QDate(day.year, day.month, day.day))
            edit.blockSignals(False)
        self._pages()
        self.changed.emit()

    def show_state(self, state: FilterState) -> None:
        widgets = (self.date_from, self.date_to, self.kind, self.folder, *self.shot.values())
        for w in widgets:
            w.blockSignals(True)
        for edit, when, back in (
            (self.date_from, state.date_from, 0),
            (self.date_to, state.date_to, 1),
        ):
            if when is None:
                edit.setDate(NO_DATE)
            else:
                d = datetime.fromtimestamp(when - back * 86400 + 1).date()
                edit.setDate(QDate(d.year, d.month, d.day))
        shot = [
            (box, getattr(state, key)[0] if getattr(state, key) else None)
            for key, box in self.shot.items()
        ]
        for box, value in (
            (self.kind, state.kinds[0] if state.kinds else None),
            (self.folder, state.folder),
            *shot,
        ):
            found = next((i for i in range(box.count()) if box.itemData(i) == value), -1)
            if found < 0 and value is not None:
                text = os.path.basename(value) or value if box is self.folder else str(value)
                box.addItem(text, value)
                found = box.count() - 1
            box.setCurrentIndex(max(0, found))
        for w in widgets:
            w.blockSignals(False)

    def reset(self) -> None:
        self.show_state(FilterState())
        self.changed.emit()


class FilterBar(QWidget):
    filterChanged = Signal(object)  # FilterState (without search results)
    sortChanged = Signal(object)  # SortState
    searchRequested = Signal(str)
    searchCleared = Signal()
    saveViewRequested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("filterBar")
        self._tags: list[Tag] = []
        self.chips: list[tuple[str, str]] = []
        self._sort_before_search: SortState | None = None
        self._keep_sort: SortState | None = None  # a renamed tag's sort, until the new list
        # The criteria of photo_filter.CRITERIA (rating, labels, duplicates, file name), kept in a
        # FilterState whose other fields the bar's own widgets override (see ``state``).
        self._criteria = FilterState()
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 2, 4, 2)
        outer.setSpacing(3)

        # Row 1: the chips, as groups, wrapping; the minimum score at the right.
        top = QHBoxLayout()
        self.chip_area, self.chip_row = flow_widget()
        self.chip_area.setObjectName("chipArea")
        self.add_chip = QToolButton()
        self.add_chip.setText("+ Tag filter")
        self.add_chip.setObjectName("addChip")
        self.add_chip.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        # Fusion draws the menu arrow over the last letter of a text-only tool button.
        self.add_chip.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.add_chip.setStyleSheet("QToolButton#addChip { padding-right: 14px; }")
        self.add_chip.setMenu(QMenu(self.add_chip))
        self.add_chip.menu().aboutToShow.connect(self._fill_menu)
        top.addWidget(self.chip_area, 1)
        self.min_label = QLabel("Min score:")
        self.min_score = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=1.0, singleStep=0.05)
        self.min_score.setObjectName("minScore")
        for w in (self.min_label, self.min_score):
            w.setToolTip(MIN_SCORE_TIP)
            top.addWidget(w, 0, Qt.AlignmentFlag.AlignTop)
        self.min_score.valueChanged.connect(self._emit)
        outer.addLayout(top)

        # Row 2: search, sort, direction, more filters, save view.
        row = QHBoxLayout()
        self.search = QLineEdit()
        self.search.setObjectName("searchBox")
        self.search.setPlaceholderText("Search: describe a photo, press Enter")
        self.search.setToolTip(
            "Describe a photo in a sentence and press Enter: the folder is ranked by how well "
            "each photo matches it"
        )
        self.search.setMinimumWidth(160)
        self.search.setClearButtonEnabled(True)
        self.search.returnPressed.connect(self._search)
        self.search.textChanged.connect(self._text_changed)
        row.addWidget(self.search, 1)
        row.addWidget(QLabel("Sort:"))
        self.sort = QComboBox()
        self.sort.setObjectName("sortBox")
        self.sort.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.sort.setMaximumWidth(260)
        self.sort.currentIndexChanged.connect(self._sort_picked)
        row.addWidget(self.sort)
        self.direction = QToolButton()

        self.direction.setObjectName("sortDirection")
        self.direction.setCheckable(True)
        self.direction.setToolTip("Reverse the order")
        self.direction.toggled.connect(self._sort_picked)
        row.addWidget(self.direction)
        self.more = QToolButton()

        self.more.setObjectName("moreFilters")
        self.more.setText("More filters")
        self.more.setCheckable(True)
        self.more.setToolTip(
            "Filter by date taken, file type, folder, camera, lens, ISO, focal length, aperture"
        )
        row.addWidget(self.more)
        self.save_view = QToolButton()

        self.save_view.setObjectName("saveView")
        self.save_view.setText("Save view…")
        self.save_view.setToolTip("Keep this filter and sort as a smart view in the library")
        self.save_view.clicked.connect(self.saveViewRequested)
        row.addWidget(self.save_view)
        outer.addLayout(row)

        # Row 3 (on request): date, type, folder.
        self.facts = FactsRow()
        self.facts.setVisible(False)
        self.facts.changed.connect(self._facts_changed)
        self.more.toggled.connect(self.facts.setVisible)
        outer.addWidget(self.facts)
        self.set_tags([])

    # ----------------------------------------------------------------- tags

    def set_tags(self, tags: list[Tag]) -> None:
        """The tag list changed (added, renamed, removed): chips of gone tags go, the sort stays
        unless its tag is gone."""
        self._tags = list(tags)
        names = {t.name for t in tags}
        before = list(self.chips)
        self.chips = [c for c in self.chips if c[0] in names]
        sort_before = self.sort_state()
        current, self._keep_sort = self._keep_sort or sort_before, None
        self._fill_sort(current)
        self._rebuild()
        if before != self.chips:
            self._emit()
        if self.sort_state() != sort_before:
            self._emit_sort()

    def rename_tag(self, old: str, new: str) -> None:
        """A tag was renamed: its chips and the sort by its score follow the new name."""
        self.chips = [(new if n == old else n, m) for n, m in self.chips]
        sort = self.sort_state()
        if sort.tag == old:
            self._keep_sort = replace(sort, tag=new)  # the tag list with "new" comes next

    def _fill_sort(self, keep: SortState) -> None:
        self.sort.blockSignals(True)
        self.sort.clear()
        for key, text in SORT_KEYS.items():
            if key != "score":
                self.sort.addItem(text, (key, None))
        for tag in self._tags:
            self.sort.addItem(f"Score: {tag.name}", ("score", tag.name))
        self.sort.setCurrentIndex(max(0, self._sort_index(keep)))
        self.sort.blockSignals(False)
        self.direction.blockSignals(True)
        self.direction.setChecked(keep.descending)
        self.direction.blockSignals(False)
        self._show_direction()

    def _sort_index(self, sort: SortState) -> int:
        want = (sort.key, sort.tag)
        return next((i for i in range(self.sort.count()) if self.sort.itemData(i) == want), -1)

    # ----------------------------------------------------------------- chips

    def add_filter(self, name: str, mode: str = "and") -> None:
        self.chips = [c for c in self.chips if c[0] != name] + [(name, mode)]
        self._rebuild()
        self._emit()

    def state(self) -> FilterState:
        """The whole filter: the chips and minimum score, the row of facts, the criteria."""
        own = FilterState(tuple(self.chips), self.min_score.value())
        return self.facts.apply(
            replace(own, **{key: getattr(self._criteria, key) for key in CRITERIA_KEYS})
        )

    def set_criteria(self, **changes: object) -> None:
        """Set criteria of ``photo_filter.CRITERIA`` (``rating=RatingFilter(3)``,
        ``labels="confirmed"``, ``duplicates=True``, ``file_name="IMG"``; a default turns one off):
        shown as chips, saved with smart views, applied by the grid."""
        unknown = set(changes) - set(CRITERIA_KEYS)
        if unknown:
            raise TypeError(f"not a criterion of the bar: {', '.join(sorted(unknown))}")
        new = replace(self._criteria, **changes)  # type: ignore[arg-type]
        if new != self._criteria:
            self._criteria = new
            self._rebuild()
            self._emit()

    def clear_criterion(self, key: str) -> None:
        """The ✕ of a criterion's chip: that criterion filters nothing any more."""
        self.set_criteria(**{key: getattr(without(self._criteria, key), key)})

    def sort_state(self) -> SortState:
        key, tag = self.sort.currentData() or ("name", None)
        return SortState(key, tag, self.direction.isChecked())

    def show_view(self, state: FilterState, sort: SortState) -> None:
        """Show a saved view's filter and sort (chips of tags that are gone left out)."""
        names = {t.name for t in self._tags}
        self.chips = [c for c in state.chips if c[0] in names]
        self.min_score.blockSignals(True)
        self.min_score.setValue(state.min_score)
        self.min_score.blockSignals(False)
        self.facts.show_state(state)
        self._criteria = FilterState(**{key: getattr(state, key) for key in CRITERIA_KEYS})
        if state.facts_active:
            self.more.setChecked(True)
        self._rebuild()
        self.show_sort(sort)
        self._emit()

    def show_sort(self, sort: SortState) -> None:
        for w in (self.sort, self.direction):
            w.blockSignals(True)
        self.sort.setCurrentIndex(max(0, self._sort_index(sort)))
        self.direction.setChecked(sort.descending)
        for w in (self.sort, self.direction):
            w.blockSignals(False)
        self._show_direction()
        self._emit_sort()

    def restore_sort(self, sort: SortState) -> None:
        """The sort of the last session: shown now, or (a score of a tag not listed yet) when
        the tag list comes."""
        if self._sort_index(sort) >= 0:
            self.show_sort(sort)
        else:
            self._keep_sort = sort

    def set_photos(self, photos: list[Photo], root: str | None) -> None:
        self.facts.set_photos(photos, root)

    def description(self) -> str:
        chips = describe_chips(self.chips, self.min_score.value())
        others = [text for _key, text in criteria(self._criteria)]
        return " · ".join(
            ([chips] if chips else []) + (["only " + ", ".join(others)] if others else [])
        )

    def _fill_menu(self) -> None:
        menu = self.add_chip.menu()
        menu.clear()
        used = {n for n, _ in self.chips}
        free = [t for t in self._tags if t.name not in used]
        for tag in free:
            menu.addAction(tag.name).triggered.connect(
                lambda _=False, n=tag.name: self.add_filter(n)
            )
        if not self._tags:
            menu.addAction("No tags yet: add one in the Tags panel").setEnabled(False)
        elif not free:
            menu.addAction("Every tag is already a filter").setEnabled(False)

    def _rebuild(self) -> None:
        while self.chip_row.count():
            item = self.chip_row.takeAt(0)
            old = None if item is None else item.widget()
            if old is None or old is self.add_chip:
                continue
            old.hide()
            old.setParent(None)
            old.deleteLater()
        self.chip_row.addWidget(self.add_chip)
        colours = {t.name: tag_colour(t) for t in self._tags}
        first = True
        for mode in ("and", "or", "not"):
            names = [n for n, m in self.chips if m == mode]
            if not names:
                continue
            word = QLabel(("" if first else "· ") + GROUP_WORDS[mode])
            word.setObjectName(f"group-{mode}")
            word.setProperty("keepWithNext", True)  # never alone at the end of a line
            self.chip_row.addWidget(word)
            first = False
            for name in names:
                self.chip_row.addWidget(self._chip(name, mode, colours.get(name, "#888")))
        others = criteria(self._criteria)
        if others:
            word = QLabel(("" if first else "· ") + "only:")
            word.setObjectName("group-only")
            word.setProperty("keepWithNext", True)
            self.chip_row.addWidget(word)
            for key, text in others:
                self.chip_row.addWidget(self._criterion_chip(key, text))
        self.chip_area.updateGeometry()
        self.chip_area.setToolTip(self.description())

    def _chip(self, name: str, mode: str, colour: str) -> QWidget:
        chip = Chip(name, mode)
        chip.setStyleSheet(f"QFrame#chip {{ border: 2px solid {colour}; border-radius: 9px; }}")
        row = QHBoxLayout(chip)
        row.setContentsMargins(6, 0, 2, 0)
        row.setSpacing(0)
        label = QToolButton()

        label.setObjectName("chipLabel")
        label.setText(name)
        label.setAutoRaise(True)
        label.setToolTip(f"In “{GROUP_WORDS[mode][:-1]}”: click to move to the next group")
        label.clicked.connect(lambda _=False, n=name: self._cycle(n))
        close = QToolButton()

        close.setObjectName("chipRemove")
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip(f"Remove the “{name}” filter")
        close.clicked.connect(lambda _=False, n=name: self._remove(n))
        row.addWidget(label)
        row.addWidget(close)
        chip.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        chip.customContextMenuRequested.connect(lambda _p, n=name: self._remove(n))
        return chip

    def _criterion_chip(self, key: str, text: str) -> CriterionChip:
        chip = CriterionChip(key, "only")
        chip.setStyleSheet("QFrame#chip { border: 2px dashed palette(mid); border-radius: 9px; }")
        row = QHBoxLayout(chip)
        row.setContentsMargins(6, 0, 2, 0)
        row.setSpacing(0)
        label = QLabel(text)
        label.setObjectName("chipText")
        chip.setToolTip(f"Only photos: {text}. ✕ turns it off")
        close = QToolButton()
        close.setObjectName("chipRemove")
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Turn this filter off")
        close.clicked.connect(lambda _=False, k=key: self.clear_criterion(k))
        row.addWidget(label)
        row.addWidget(close)
        return chip

    def chip_widget(self, name: str) -> Chip | None:
        """The chip of the tag ``name``."""
        return next(
            (
                c
                for c in self.chip_area.findChildren(Chip)
                if c.name == name and not isinstance(c, CriterionChip)
            ),
            None,
        )

    def criterion_chip(self, key: str) -> CriterionChip | None:
        """The chip of the criterion ``key`` (``photo_filter.CRITERIA``), when it is set."""
        return next((c for c in self.chip_area.findChildren(CriterionChip) if c.name == key), None)

    def _cycle(self, name: str) -> None:
        self.chips = [(n, NEXT_MODE[m] if n == name else m) for n, m in self.chips]
        self._rebuild()
        self._emit()

    def _remove(self, name: str) -> None:
        self.chips = [c for c in self.chips if c[0] != name]
        self._rebuild()
        self._emit()

    def _facts_changed(self) -> None:
        self._emit()

    def _emit(self) -> None:
        self.chip_area.setToolTip(self.description())
        self.filterChanged.emit(self.state())

    # ----------------------------------------------------------------- sort

    def _sort_picked(self, *_args) -> None:
        self._show_direction()
        self._emit_sort()

    def _show_direction(self) -> None:
        self.direction.setText(direction_text(self.sort_state()))

    def _emit_sort(self) -> None:
        self.sortChanged.emit(self.sort_state())

    # ----------------------------------------------------------------- search

    def _text_changed(self, text: str) -> None:
        if not text.strip():
            self._search_ended()
            self.searchCleared.emit()

    def _search(self) -> None:
        text = self.search.text().strip()
        if not text:
            self._search_ended()
            self.searchCleared.emit()
            return
        if self._sort_before_search is None:  # a search shows the best match first
            self._sort_before_search = self.sort_state()
            self.show_sort(SortState("search"))
        self.searchRequested.emit(text)

    def _search_ended(self) -> None:
        before, self._sort_before_search = self._sort_before_search, None
        if before is not None and self.sort_state().key == "search":
            self.show_sort(before)
