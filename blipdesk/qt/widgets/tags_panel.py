"""The tags panel: each tag with its colour, match count and an inline threshold slider.

The slider is painted by the delegate and dragged through ``editorEvent`` (no widget per row);
it writes ``TagRoles.Threshold`` into the model, which re-tags the grid from the cache at once.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QVBoxLayout,
    QWidget,
)

from blipdesk.qt.models.tags import TagListModel, TagRoles
from blipdesk.services.wording import calibration_text, percent

ROW_H = 48


def _slider_rect(rect: QRect) -> QRect:
    return QRect(rect.left() + 28, rect.top() + 28, rect.width() - 80, 12)


class TagDelegate(QStyledItemDelegate):
    def sizeHint(self, option, index) -> QSize:
        return QSize(200, ROW_H)

    def paint(self, painter: QPainter, option, index: QModelIndex | QPersistentModelIndex) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = option.palette
        rect = option.rect
        selected = (option.state.value & QStyle.StateFlag.State_Selected.value) != 0
        if selected:
            painter.fillRect(rect, pal.color(QPalette.ColorRole.Highlight))
        text = pal.color(
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        )
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(index.data(TagRoles.Colour)))
        painter.drawEllipse(QRect(rect.left() + 8, rect.top() + 8, 12, 12))
        painter.setPen(text)
        name_rect = QRect(rect.left() + 28, rect.top() + 4, rect.width() - 36, 20)
        painter.drawText(
            name_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, index.data()
        )
        count, scored = index.data(TagRoles.Count), index.data(TagRoles.Scored)
        painter.drawText(
            name_rect,
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            f"{count} / {scored}" if scored else "not scanned",
        )
        threshold = float(index.data(TagRoles.Threshold))
        track = _slider_rect(rect)
        mid = track.center().y()
        calibration = index.data(TagRoles.Calibration)
        if calibration is not None:  # the slider is not used: say what decides instead
            painter.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
            wide = QRect(track.left(), track.top() - 4, rect.right() - 8 - track.left(), 20)
            words = "Calibrated: " + calibration_text(calibration).split(": ", 1)[-1]
            words = painter.fontMetrics().elidedText(
                words, Qt.TextElideMode.ElideRight, wide.width()
            )
            painter.drawText(
                wide, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, words
            )
            painter.restore()
            return
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(pal.color(QPalette.ColorRole.Mid))
        painter.drawRoundedRect(QRect(track.left(), mid - 2, track.width(), 4), 2, 2)
        painter.setBrush(QColor(index.data(TagRoles.Colour)))
        x = track.left() + round(threshold * track.width())
        painter.drawRoundedRect(QRect(track.left(), mid - 2, x - track.left(), 4), 2, 2)
        painter.setBrush(pal.color(QPalette.ColorRole.Button))
        painter.setPen(pal.color(QPalette.ColorRole.Dark))
        painter.drawEllipse(QRect(x - 6, mid - 6, 12, 12))
        painter.setPen(text)
        painter.drawText(
            QRect(track.right() + 8, track.top() - 4, 48, 20),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            percent(threshold),
        )
        painter.restore()

    def editorEvent(self, event, model, option, index) -> bool:
        kinds = (QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove)
        if index.data(TagRoles.Calibration) is not None:
            return False  # a calibrated tag's threshold is not used: nothing to drag
        if event.type() in kinds:
            track = _slider_rect(option.rect).adjusted(-6, -8, 6, 8)
            pressed = event.type() == QEvent.Type.MouseButtonPress
            inside = track.contains(event.position().toPoint())
            if (pressed and inside) or (
                not pressed
                and (event.buttons().value & Qt.MouseButton.LeftButton.value) != 0
                and self._dragging
            ):
                self._dragging = True
                inner = _slider_rect(option.rect)
                value = (event.position().x() - inner.left()) / max(1, inner.width())
                model.setData(index, max(0.0, min(1.0, value)), TagRoles.Threshold)
                return True
        if event.type() == QEvent.Type.MouseButtonRelease:
            was = self._dragging
            self._dragging = False
            return was
        return False

    _dragging = False


class TagsPanel(QWidget):
    addRequested = Signal()
    editRequested = Signal(object)  # Tag
    removeRequested = Signal(object)  # Tag

    def __init__(self, model: TagListModel, parent=None) -> None:
        super().__init__(parent)
        self.model = model
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        title = QLabel("<b>Tags</b>")
        title.setContentsMargins(4, 2, 0, 2)
        layout.addWidget(title)
        self.view = QListView(self)
        self.view.setObjectName("tagList")
        self.view.setModel(model)
        self.view.setItemDelegate(TagDelegate(self.view))
        self.view.setMouseTracking(True)
        self.view.setEditTriggers(QListView.EditTrigger.NoEditTriggers)
        self.view.doubleClicked.connect(lambda i: self.editRequested.emit(i.data(TagRoles.Tag)))
        layout.addWidget(self.view)
        buttons = QHBoxLayout()
        self.add_button = QPushButton("Add tag…")
        self.edit_button = QPushButton("Edit…")
        self.remove_button = QPushButton("Remove")
        for b in (self.add_button, self.edit_button, self.remove_button):
            buttons.addWidget(b)
        layout.addLayout(buttons)
        self.add_button.clicked.connect(self.addRequested)
        self.edit_button.clicked.connect(lambda: self._with_current(self.editRequested))
        self.remove_button.clicked.connect(lambda: self._with_current(self.removeRequested))

    def current_tag(self):
        index = self.view.currentIndex()
        return index.data(TagRoles.Tag) if index.isValid() else None

    def _with_current(self, signal) -> None:
        tag = self.current_tag()
        if tag is not None:
            signal.emit(tag)
