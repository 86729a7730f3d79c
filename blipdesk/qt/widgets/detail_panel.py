"""The detail panel: a large upright preview, file facts, and each tag's score as a bar with its
threshold marked, expandable to every sentence's ITM probability and cosine. "Why?" on a sentence
asks for BLIP's Grad-CAM map (computed in the inference worker) and lays it over the preview."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QSizePolicy,
    QStyledItemDelegate,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from blipdesk.qt.common.label_marks import mark
from blipdesk.qt.common.score_text import (
    MATCH_HELP,
    SIMILARITY_HELP,
    match_text,
    percent_text,
    similarity_text,
)
from blipdesk.qt.common.values import Photo, ScoreBoard, Tag, tag_colour
from blipdesk.qt.widgets.why_overlay import WhyControls, heat_overlay

if TYPE_CHECKING:
    from blipdesk.qt.workers.inference import Explained

BarRole = Qt.ItemDataRole.UserRole + 1  # (score, threshold or None, colour)


class ScoreBarDelegate(QStyledItemDelegate):
    """Column 1: a horizontal bar for the score with a tick at the threshold."""

    def sizeHint(self, option, index) -> QSize:
        return QSize(120, 22)

    def paint(self, painter: QPainter, option, index: QModelIndex | QPersistentModelIndex) -> None:
        bar = index.data(BarRole)
        if bar is None:
            super().paint(painter, option, index)
            return
        score, threshold, colour = bar
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = option.rect.adjusted(4, 5, -44, -5)
        pal = option.palette
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(pal.color(QPalette.ColorRole.AlternateBase))
        painter.drawRoundedRect(r, 3, 3)
        if score is not None:
            painter.setBrush(QColor(colour))
            painter.drawRoundedRect(
                QRect(r.left(), r.top(), round(r.width() * score), r.height()), 3, 3
            )
        if threshold is not None:
            x = r.left() + round(r.width() * threshold)
            painter.setPen(pal.color(QPalette.ColorRole.Text))
            painter.drawLine(x, r.top() - 3, x, r.bottom() + 3)
        painter.setPen(pal.color(QPalette.ColorRole.Text))
        painter.drawText(
            QRect(r.right() + 4, option.rect.top(), 40, option.rect.height()),
            Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
            "–" if score is None else percent_text(score),
        )
        painter.restore()


class DetailPanel(QWidget):
    whyRequested = Signal(str, str)  # photo path, sentence

    def __init__(self, board: ScoreBoard, previews, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("detailPanel")
        self.board = board
        self.previews = previews  # a ThumbnailLoader with large thumbnails
        self.photo: Photo | None = None
        self.tags: list[Tag] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.preview = QLabel("No photo selected")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(200, 140)
        self.preview.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.preview.setWordWrap(True)  # "Cannot show: …" wraps instead of losing both ends
        self.preview.setMargin(8)
        layout.addWidget(self.preview, 2)
        self.facts = QLabel("")
        self.facts.setWordWrap(True)
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.facts)
        self.scores = QTreeWidget()
        self.scores.setObjectName("scoreTree")
        self.scores.setColumnCount(2)
        self.scores.setHeaderLabels(["Tag / sentence", "Score"])
        self.scores.setItemDelegateForColumn(1, ScoreBarDelegate(self.scores))
        self.scores.setRootIsDecorated(True)
        # The sentence column takes what the bars leave, so sentences are cut as late as possible.
        header = self.scores.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(1, 140)
        # at least four rows of scores: a third tag must never hide under the label row
        self.scores.setMinimumHeight(self.scores.header().sizeHint().height() + 4 * 22 + 6)
        layout.addWidget(self.scores, 3)
        # "Why?": where in the photo the selected sentence was matched, over the preview.
        self.why_controls = WhyControls()
        self.why, self.opacity = self.why_controls.why, self.why_controls.opacity
        self.why_label = self.why_controls.label
        # two lines kept for the label: the preview never jumps
        self.why_label.setFixedHeight(2 * self.why_label.fontMetrics().lineSpacing() + 4)
        self.why_controls.requested.connect(self.whyRequested)
        self.why_controls.changed.connect(self._show_preview)
        layout.addWidget(self.why_controls)
        layout.addWidget(self.why_label)
        self.scores.currentItemChanged.connect(lambda *_: self._sentence_chosen())
        previews.thumbnailReady.connect(self._preview_ready)

    def show_photo(self, photo: Photo | None) -> None:
        self.photo = photo
        self.why_controls.set_photo(None if photo is None else photo.path)
        if photo is None:
            self.preview.setPixmap(QPixmap_null())
            self.preview.setText("No photo selected")
            self.facts.setText("")
            self.scores.clear()
            return
        self.previews.request([photo])
        self._show_preview()
        self.refresh_scores()

    def _show_facts(self, photo: Photo) -> None:
        when = datetime.fromtimestamp(photo.date).strftime("%Y-%m-%d %H:%M")
        source = "taken" if photo.taken is not None else "modified"
        error = self.board.errors.get(photo.path) or self.previews.broken.get(photo.path)
        facts = (
            f"<b>{_html(photo.name)}</b><br>{when} ({source}) · {photo.size / 1e6:.2f} MB<br>"
            f"{_html(photo.path)}"
        )
        if error:
            facts += f"<br><span style='color:#c0392b'>Cannot be read: {_html(error)}</span>"
        self.facts.setText(facts)

    def set_tags(self, tags: list[Tag]) -> None:
        self.tags = list(tags)
        self.refresh_scores()

    def refresh_scores(self) -> None:
        items = (self.scores.topLevelItem(i) for i in range(self.scores.topLevelItemCount()))
        expanded = {
            item.data(0, Qt.ItemDataRole.UserRole)
            for item in items
            if item is not None and item.isExpanded()
        }
        sentence = self.selected_sentence()  # a sentence stays selected (and its Why? on)
        chosen = self.scores.currentItem()
        parent = None if chosen is None else chosen.parent()
        keep = (
            None
            if sentence is None or parent is None
            else (parent.data(0, Qt.ItemDataRole.UserRole), sentence)
        )
        restore: QTreeWidgetItem | None = None
        self.scores.clear()
        if self.photo is None:
            return
        self._show_facts(self.photo)  # a scan may have recorded an error since
        sentences = self.board.sentences_of(self.photo.path)
        for tag in self.tags:
            score = self.board.tag_score(self.photo.path, tag)
            label = self.board.label(self.photo.path, tag.name)  # issue 13: yours, not the model's
            item = QTreeWidgetItem([f"{tag.name}  {mark(label)}".rstrip(), ""])
            item.setData(0, Qt.ItemDataRole.UserRole, tag.name)
            if label is not None:
                item.setToolTip(0, f"You said {'yes' if label else 'no'}: the tag follows you")
            calibrated = self.board.calibrations.get(tag.name)  # its tick: the learned cut
            tick = tag.threshold if calibrated is None else calibrated.threshold()
            item.setData(1, BarRole, (score, tick, tag_colour(tag)))
            for s in tag.sentences:
                got = sentences.get(s)
                child = QTreeWidgetItem([s, ""])
                child.setToolTip(0, s)
                if got is None:
                    child.setData(1, BarRole, (None, None, tag_colour(tag)))
                else:
                    child.setData(1, BarRole, (got.itm, None, tag_colour(tag)))
                    child.setToolTip(
                        1, f"{match_text(got.itm)} · {similarity_text(got.cosine)}\n\n{MATCH_HELP}"
                    )
                    child.setText(1, "")
                    cos = QTreeWidgetItem(["    similarity", ""])
                    cos.setToolTip(0, SIMILARITY_HELP)
                    cos.setToolTip(1, f"{similarity_text(got.cosine)}\n\n{SIMILARITY_HELP}")
                    cos.setData(1, BarRole, (max(0.0, got.cosine), None, "#888888"))
                    child.addChild(cos)
                item.addChild(child)
                if keep == (tag.name, s):
                    restore = child
            self.scores.addTopLevelItem(item)
            item.setExpanded(tag.name in expanded)
        if restore is not None:
            self.scores.setCurrentItem(restore)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._show_preview()

    def _preview_ready(self, path: str) -> None:
        if self.photo is not None and path == self.photo.path:
            self._show_preview()
            if path in self.previews.broken:
                self._show_facts(self.photo)

    def _show_preview(self) -> None:
        if self.photo is None:
            return
        pixmap = self.previews.pixmap(self.photo.path)
        if pixmap is None:
            broken = self.previews.broken.get(self.photo.path)
            self.preview.setText(f"Cannot show this photo: {broken}" if broken else "Loading…")
            return
        size = self.preview.size()
        scaled = pixmap.scaled(
            size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
        cam = self.why_controls.cam()
        if cam is not None:
            scaled = heat_overlay(scaled, cam, self.opacity.value() / 100)
        self.preview.setPixmap(scaled)

    # ----------------------------------------------------------------- why this tag

    def selected_sentence(self) -> str | None:
        """The sentence row selected in the score tree (not a tag, not its cosine row)."""
        item = self.scores.currentItem()
        parent = None if item is None else item.parent()
        if item is None or parent is None or parent.parent() is not None:
            return None
        return item.text(0)

    def _sentence_chosen(self) -> None:
        self.why_controls.set_sentence(self.selected_sentence() if self.photo else None)

    @property
    def explanation(self) -> Explained | None:
        """The map shown, for the photo shown."""
        return self.why_controls.explanation

    def show_explanation(self, explained: Explained) -> None:
        """The worker's answer (``inference.Explained``); kept only if it is the one asked for."""
        self.why_controls.accept(explained)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def QPixmap_null():

    return QPixmap()
