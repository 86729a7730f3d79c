"""The window's one list of tags: colour, match count in the current folder, and threshold.

The tags panel shows it; the grid, the filter bar and the detail panel follow ``tagsChanged``.

The threshold is editable through ``setData(ThresholdRole)``: the inline slider writes it, the
photo grid re-tags from the in-memory scores at once, and the change is saved in the background.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor

from blipdesk.qt.common.values import ScoreBoard, Tag, tag_colour
from blipdesk.services.wording import calibrated_note, percent


class TagRoles(IntEnum):
    Tag = Qt.ItemDataRole.UserRole + 1
    Colour = Qt.ItemDataRole.UserRole + 2
    Count = Qt.ItemDataRole.UserRole + 3
    Threshold = Qt.ItemDataRole.UserRole + 4
    Scored = Qt.ItemDataRole.UserRole + 5  # photos with a score for this tag
    Calibration = Qt.ItemDataRole.UserRole + 6  # its calibration for the model shown, or None


class TagListModel(QAbstractListModel):
    tagChanged = Signal(object)  # Tag (threshold moved)
    tagsChanged = Signal(
        list
    )  # every tag, after any change: the grid, filter bar and detail follow

    def __init__(self, board: ScoreBoard, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.board = board
        self._tags: list[Tag] = []
        self._paths: list[str] = []
        self._counts: dict[str, tuple[int, int]] = {}

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._tags)

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEditable

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ):
        if not index.isValid() or not 0 <= index.row() < len(self._tags):
            return None
        tag = self._tags[index.row()]
        count, scored = self._counts.get(tag.name, (0, 0))
        if role == Qt.ItemDataRole.DisplayRole:
            return tag.name
        calibration = self.board.calibrations.get(tag.name)
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = "<br>".join(f"• {s}" for s in tag.sentences)
            rule = (
                f"threshold {percent(tag.threshold)}"
                if calibration is None
                else calibrated_note(calibration, tag.threshold)
            )
            return f"<b>{tag.name}</b>: {count} of {scored} scored photos match ({rule})<br>{lines}"
        if role == Qt.ItemDataRole.DecorationRole:
            return QColor(tag_colour(tag))
        if role == TagRoles.Tag:
            return tag
        if role == TagRoles.Colour:
            return tag_colour(tag)
        if role == TagRoles.Count:
            return count
        if role == TagRoles.Scored:
            return scored
        if role == TagRoles.Threshold:
            return tag.threshold
        if role == TagRoles.Calibration:
            return calibration
        return None

    def setData(
        self,
        index: QModelIndex | QPersistentModelIndex,
        value,
        role: int = Qt.ItemDataRole.EditRole,
    ) -> bool:
        if not index.isValid() or role != TagRoles.Threshold:
            return False
        try:
            threshold = min(1.0, max(0.0, round(float(value), 3)))
        except (TypeError, ValueError):
            return False
        old = self._tags[index.row()]
        if threshold == old.threshold:
            return True
        tag = Tag(old.name, old.sentences, threshold, old.colour)
        self._tags[index.row()] = tag
        self._count(tag)
        self.dataChanged.emit(index, index)
        self.tagChanged.emit(tag)
        self.tagsChanged.emit(self.tags())
        return True

    # ----------------------------------------------------------------- content

    def set_tags(self, tags: Iterable[Tag]) -> None:
        self.beginResetModel()
        self._tags = sorted(tags, key=lambda t: t.name.lower())
        self._recount()
        self.endResetModel()
        self.tagsChanged.emit(self.tags())

    def tags(self) -> list[Tag]:
        return list(self._tags)

    def sentences(self) -> tuple[str, ...]:
        """Every tag's sentences, each once, in order: what a scan scores."""
        return tuple(dict.fromkeys(s for t in self.tags() for s in t.sentences))

    def tag(self, name: str) -> Tag | None:
        return next((t for t in self._tags if t.name == name), None)

    def row_of(self, name: str) -> int:
        return next((i for i, t in enumerate(self._tags) if t.name == name), -1)

    def set_paths(self, paths: Iterable[str]) -> None:
        """The current folder's photos: what the match counts count."""
        self._paths = list(paths)
        self.recount()

    def recount(self) -> None:
        self._recount()
        if self._tags:
            self.dataChanged.emit(self.index(0), self.index(len(self._tags) - 1))

    def _recount(self) -> None:
        self._counts = {}
        for tag in self._tags:
            self._count(tag)

    def _count(self, tag: Tag) -> None:
        matches = scored = 0
        for path in self._paths:
            score = self.board.tag_score(path, tag)
            if score is not None:
                scored += 1
                matches += self.board.matches(path, tag)
        self._counts[tag.name] = (matches, scored)
