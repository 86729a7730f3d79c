"""The full-window viewer: one photo as large as the window, its tag scores, arrows to move,
Esc to return to the grid."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QWidget

from blipdesk.qt.values import Photo, ScoreBoard, Tag, tag_colour


class PhotoViewer(QWidget):
    closed = Signal()
    step = Signal(int)  # -1 / +1

    def __init__(self, board: ScoreBoard, previews, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("photoViewer")
        self.board = board
        self.previews = previews
        self.photo: Photo | None = None
        self.tags: list[Tag] = []
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAutoFillBackground(True)
        pal = self.palette()
        pal.setColor(QPalette.ColorRole.Window, QColor(20, 20, 20))
        self.setPalette(pal)
        previews.thumbnailReady.connect(self._preview_ready)

    def _preview_ready(self, path: str) -> None:
        if self.photo is not None and path == self.photo.path:
            self.update()

    def show_photo(self, photo: Photo, tags: list[Tag]) -> None:
        self.photo, self.tags = photo, list(tags)
        self.previews.request([photo])
        self.update()

    def keyPressEvent(self, event) -> None:
        key = event.key()
        if key == Qt.Key.Key_Escape:
            self.closed.emit()
        elif key in (Qt.Key.Key_Right, Qt.Key.Key_Down, Qt.Key.Key_Space):
            self.step.emit(1)
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Up, Qt.Key.Key_Backspace):
            self.step.emit(-1)
        else:
            super().keyPressEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:
        self.closed.emit()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        if self.photo is None:
            return
        pixmap = self.previews.pixmap(self.photo.path)
        area = self.rect().adjusted(0, 0, 0, -36)
        painter.setPen(QColor("white"))
        if pixmap is None:
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, "Loading…")
        else:
            size = pixmap.size().scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
            x = (area.width() - size.width()) // 2
            y = (area.height() - size.height()) // 2
            painter.drawPixmap(x, y, size.width(), size.height(), pixmap)
        # Caption: name and every tag's score, matches in the tag's colour.
        x = 12
        y = self.height() - 12
        painter.drawText(x, y, self.photo.name)
        x += painter.fontMetrics().horizontalAdvance(self.photo.name) + 24
        for tag in self.tags:
            score = self.board.tag_score(self.photo.path, tag)
            label = {True: " ✓", False: " ✗", None: ""}[self.board.label(self.photo.path, tag.name)]
            text = f"{tag.name} {'–' if score is None else f'{score:.2f}'}{label}"
            hit = self.board.matches(self.photo.path, tag)  # the store's rule: labels first
            painter.setPen(QColor(tag_colour(tag)) if hit else QColor(170, 170, 170))
            painter.drawText(x, y, ("● " if hit else "○ ") + text)
            x += painter.fontMetrics().horizontalAdvance("● " + text) + 18
        painter.setPen(QColor(170, 170, 170))
        hint = "← → move · Esc back"
        painter.drawText(self.width() - painter.fontMetrics().horizontalAdvance(hint) - 12, y, hint)
