"""The detail panel: a large upright preview, file facts, and each tag's score as a bar with its
threshold marked, expandable to every sentence's ITM probability and cosine."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPalette
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

from blipdesk.qt.values import Photo, ScoreBoard, Tag, tag_colour

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
            "–" if score is None else f"{score:.2f}",
        )
        painter.restore()


class DetailPanel(QWidget):
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
        self.preview.setMinimumSize(200, 200)
        self.preview.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        layout.addWidget(self.preview, 3)
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
        layout.addWidget(self.scores, 2)
        previews.thumbnailReady.connect(self._preview_ready)

    def show_photo(self, photo: Photo | None) -> None:
        self.photo = photo
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
        expanded = {item.text(0) for item in items if item is not None and item.isExpanded()}
        self.scores.clear()
        if self.photo is None:
            return
        self._show_facts(self.photo)  # a scan may have recorded an error since
        sentences = self.board.sentences_of(self.photo.path)
        for tag in self.tags:
            score = self.board.tag_score(self.photo.path, tag)
            item = QTreeWidgetItem([tag.name, ""])
            item.setData(1, BarRole, (score, tag.threshold, tag_colour(tag)))
            for s in tag.sentences:
                got = sentences.get(s)
                child = QTreeWidgetItem([s, ""])
                child.setToolTip(0, s)
                if got is None:
                    child.setData(1, BarRole, (None, None, tag_colour(tag)))
                else:
                    child.setData(1, BarRole, (got.itm, None, tag_colour(tag)))
                    child.setToolTip(1, f"ITM {got.itm:.4f} · cosine {got.cosine:.4f}")
                    child.setText(1, "")
                    cos = QTreeWidgetItem(["    cosine", ""])
                    cos.setData(1, BarRole, (max(0.0, got.cosine), None, "#888888"))
                    child.addChild(cos)
                item.addChild(child)
            self.scores.addTopLevelItem(item)
            item.setExpanded(tag.name in expanded)

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
            self.preview.setText(f"Cannot show: {broken}" if broken else "Loading…")
            return
        size = self.preview.size()
        self.preview.setPixmap(
            pixmap.scaled(
                size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
        )


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def QPixmap_null():
    from PySide6.QtGui import QPixmap

    return QPixmap()
