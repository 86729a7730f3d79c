"""The viewer's filmstrip: the grid's photos, in the grid's order and filter, as one row of small
thumbnails under the photo. The same model and thumbnail loader as the grid (a view, not a copy);
clicking a thumbnail shows that photo."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from blipdesk.qt.models.photos import PhotoGridModel, Roles
from blipdesk.qt.widgets.photo_grid import paint_fitted

STRIP_HEIGHT = 86
CELL = QSize(96, 80)


class _StripDelegate(QStyledItemDelegate):
    def sizeHint(self, option, index) -> QSize:
        return CELL

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        painter.save()
        rect = option.rect.adjusted(3, 3, -3, -3)
        selected = (option.state.value & QStyle.StateFlag.State_Selected.value) != 0
        pixmap = index.data(Roles.Thumbnail)
        if pixmap is not None and not pixmap.isNull():
            paint_fitted(painter, pixmap, rect)
        else:
            painter.fillRect(rect.adjusted(6, 6, -6, -6), QColor(60, 60, 60))
            if index.data(Roles.Broken):
                painter.setPen(QColor(200, 200, 200))
                painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "!")
        if selected:
            painter.setPen(QColor(255, 255, 255))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(rect.adjusted(-1, -1, 0, 0))
        painter.restore()


class Filmstrip(QListView):
    """``photoChosen`` when the user picks a thumbnail; ``show_path`` follows the viewer."""

    photoChosen = Signal(object)  # Photo

    def __init__(self, model: PhotoGridModel, loader, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("filmstrip")
        self.loader = loader
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setUniformItemSizes(True)
        self.setHorizontalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(
            Qt.ScrollBarPolicy.ScrollBarAlwaysOff
        )  # the wheel scrolls
        self.setFixedHeight(STRIP_HEIGHT)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the viewer keeps the keys
        self.setSelectionMode(QListView.SelectionMode.SingleSelection)
        self.setStyleSheet("QListView { background: #141414; border: none; }")
        self.setItemDelegate(_StripDelegate(self))
        self.setModel(model)
        self._want = QTimer(self, singleShot=True, interval=15)
        self._want.timeout.connect(self.request_visible)
        self.horizontalScrollBar().valueChanged.connect(lambda: self._want.start())
        model.modelReset.connect(lambda: self._want.start())
        model.layoutChanged.connect(lambda: self._want.start())
        self.clicked.connect(self._clicked)

    def grid_model(self) -> PhotoGridModel:
        return self.model()  # type: ignore[return-value]

    def show_path(self, path: str) -> None:
        row = self.grid_model().row_of(path)
        if row < 0:
            return
        index = self.grid_model().index(row)
        self.setCurrentIndex(index)
        self.scrollTo(index, QListView.ScrollHint.PositionAtCenter)
        self._want.start()

    def request_visible(self) -> None:
        """Thumbnails for the cells on screen (and a few either side), from the grid's loader."""
        if not self.isVisible():
            return
        model = self.grid_model()
        first = self.indexAt(self.viewport().rect().topLeft() + CELL_CENTRE)
        lo = first.row() if first.isValid() else 0
        count = self.viewport().width() // CELL.width() + 2
        rows = range(max(0, lo - 4), min(model.rowCount(), lo + count + 4))
        self.loader.request([p for r in rows if (p := model.photo_at(r)) is not None])

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._want.start()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._want.start()

    def _clicked(self, index: QModelIndex) -> None:
        if index.isValid():
            self.photoChosen.emit(index.data(Roles.Photo))


CELL_CENTRE = QRect(0, 0, CELL.width(), CELL.height()).center()
