"""The thumbnail grid: a QListView in icon mode over ``PhotoGridModel`` (never a widget per photo).

The delegate paints the thumbnail (or a placeholder until it is decoded), the file name, and one
colour dot per tag the photo carries. After every scroll or resize the grid asks the thumbnail
loader for the rows in and just around the viewport; anything queued that scrolled away is dropped.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QColor,
    QDesktopServices,
    QFontMetrics,
    QGuiApplication,
    QPainter,
    QPalette,
    QPixmap,
)
from PySide6.QtWidgets import (
    QListView,
    QMenu,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolTip,
)

from blipdesk.domain import Rating
from blipdesk.qt.common.badges import STRIP, Placed, layout_strip, strip_rect
from blipdesk.qt.common.label_marks import Mark, mark_at
from blipdesk.qt.common.score_text import percent_text
from blipdesk.qt.models.photos import PhotoGridModel, Roles
from blipdesk.qt.widgets.rating_paint import dim_reject, paint_strip
from blipdesk.qt.workers.thumbnails import LARGE_THUMB_PX, THUMB_PX

THUMB = 176  # the thumbnail box's width; its height is 3/4 of it (landscape cells)
MIN_THUMB, MAX_THUMB = 96, 320
LAYOUT_BATCH = 2000  # cells laid out per step
TEXT_HEIGHT = 32  # the file name under the thumbnail
ERROR_BADGE = "#c0392b"


def cell_for(thumb: int) -> QSize:
    """A cell for a thumbnail box ``thumb`` wide: landscape, as most photos are; under it the
    strip of badges (``qt/common/badges.py``) and the file name."""
    return QSize(thumb + 16, thumb * 3 // 4 + 12 + STRIP + TEXT_HEIGHT)


CELL = cell_for(THUMB)


def fitted_rect(size: QSize, box: QRect) -> QRect:
    """Where a picture of ``size`` lands when drawn as large as fits in ``box``, centred."""
    size = size.scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
    return QRect(
        box.left() + (box.width() - size.width()) // 2,
        box.top() + (box.height() - size.height()) // 2,
        size.width(),
        size.height(),
    )


def file_badges(index) -> list[str]:
    """The bottom-right badges: "2×" (the same photo as another file), "RAW" (a RAW pair)."""
    photo, copies = index.data(Roles.Photo), index.data(Roles.Duplicates)
    return ([f"{copies}×"] if copies else []) + (["RAW"] if photo.companions else [])


def paint_fitted(painter: QPainter, pixmap: QPixmap, box: QRect) -> QRect:
    """Draw ``pixmap`` as large as fits in ``box``, centred, smoothly; where it landed."""
    target = fitted_rect(pixmap.size(), box)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    painter.drawPixmap(target, pixmap)
    return target


class PhotoDelegate(QStyledItemDelegate):
    """Every item has the grid's cell size (uniform); the grid widens cells to fill its width."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.cell = QSize(CELL)
        self.thumb = THUMB
        self.rating_of: Callable[[str], Rating | None] | None = (
            None  # path -> Rating (qt/rating_actions.py), drawn on the photo
        )
        self.stack_of: Callable[[str], str] | None = None  # path -> its stack badge, or ""
        self.advance = QFontMetrics(QGuiApplication.font()).horizontalAdvance("★")

    def sizeHint(self, option, index) -> QSize:
        return self.cell

    def geometry(self, cell: QRect, index) -> tuple[QRect, QRect | None, QPixmap | None]:
        """The thumbnail's box in a cell, where the photo lies in it, and its pixmap (both None:
        no thumbnail yet). The one account of the layout: painting and hit-testing both use it."""
        rect = cell.adjusted(4, 4, -4, -4)
        w, h = self.thumb, self.thumb * 3 // 4
        box = QRect(rect.left() + (rect.width() - w) // 2, rect.top() + 4, w, h)
        pixmap = index.data(Roles.Thumbnail)
        if pixmap is None or pixmap.isNull():
            return box, None, None
        return box, fitted_rect(pixmap.size(), box), pixmap

    def placed_marks(self, cell: QRect, index):
        """(the thumbnail's box in ``cell``, the tag dots and label badges of ``index`` where
        they are drawn): what a click is tested against."""
        box, _picture, _pixmap = self.geometry(cell, index)
        return box, [(p.rect, p.mark, p.kind) for p in self.strip(box, index) if p.mark]

    def strip(self, box: QRect, index) -> list[Placed]:
        """Everything in the strip under ``box``, where it is drawn (painting and clicks)."""
        rating = None if self.rating_of is None else self.rating_of(index.data(Roles.Path))
        rating = rating or Rating()
        stack = "" if self.stack_of is None else self.stack_of(index.data(Roles.Path))
        return layout_strip(
            strip_rect(box),
            index.data(Roles.Marks) or [],
            [*file_badges(index), *([stack] if stack else [])],
            rating.stars,
            rating.flag,
            self.advance,
            rating.colour,
        )

    def mark_at(self, cell: QRect, index, pos: QPoint) -> Mark | None:
        """The tag whose dot or ✓ / ✗ is under ``pos`` (viewport coordinates), if any."""
        return mark_at(self.placed_marks(cell, index)[1], pos.x(), pos.y())

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = option.rect.adjusted(4, 4, -4, -4)
        pal = option.palette
        # Plain ints: bool() of a PySide6 flag combination trips a refcount bug on 6.12
        # ("bool_dealloc: deallocating True") after many paints.
        state = option.state.value
        selected = (state & QStyle.StateFlag.State_Selected.value) != 0
        if selected:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(pal.color(QPalette.ColorRole.Highlight))
            painter.drawRoundedRect(rect, 6, 6)
        elif state & QStyle.StateFlag.State_MouseOver.value:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(pal.color(QPalette.ColorRole.Midlight))
            painter.drawRoundedRect(rect, 6, 6)
        box, picture, pixmap = self.geometry(option.rect, index)
        broken = index.data(Roles.Broken)
        if picture is not None and pixmap is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawPixmap(picture, pixmap)
        else:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(pal.color(QPalette.ColorRole.AlternateBase))
            painter.drawRoundedRect(box.adjusted(8, 8, -8, -8), 4, 4)
            if broken:
                painter.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
                painter.drawText(box, Qt.AlignmentFlag.AlignCenter, "cannot read")
        rating = None if self.rating_of is None else self.rating_of(index.data(Roles.Path))
        if rating is not None and rating.flag < 0:
            dim_reject(painter, picture or box)
        if broken:
            # A per-photo error (unreadable file, recorded by the scan): a badge on the thumbnail,
            # the reason in the tooltip and the detail panel.
            badge = QRect(box.left() + 6, box.top() + 6, 20, 20)
            painter.setPen(QColor(255, 255, 255, 230))
            painter.setBrush(QColor(ERROR_BADGE))
            painter.drawEllipse(badge)
            font = painter.font()
            font.setBold(True)
            painter.setFont(font)
            painter.setPen(QColor("white"))
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, "!")
            painter.setFont(option.font)
        # The strip under the photo: tag dots, file badges, flag, stars, labels (badges.py).
        paint_strip(painter, self.strip(box, index), pal)
        search = index.data(Roles.SearchScore)
        if search is not None:
            badge = QRect(box.right() - 50, box.top() + 4, 46, 18)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(0, 0, 0, 170))
            painter.drawRoundedRect(badge, 4, 4)
            painter.setPen(QColor("white"))
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, percent_text(search))
        below = box.bottom() + STRIP + 2
        text_rect = QRect(rect.left() + 4, below, rect.width() - 8, rect.bottom() - below)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.setPen(pal.color(role))
        name = option.fontMetrics.elidedText(
            index.data(Qt.ItemDataRole.DisplayRole) or "",
            Qt.TextElideMode.ElideMiddle,
            text_rect.width(),
        )
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, name)
        painter.restore()


class PhotoGrid(QListView):
    """Emits ``openRequested`` on Enter / double-click, ``currentPhotoChanged`` on selection."""

    openRequested = Signal(object)  # Photo
    # A click on a tag's dot or ✓ / ✗ on a thumbnail: (Photo, tag name, global position)
    tagMarkClicked = Signal(object, str, QPoint)
    currentPhotoChanged = Signal(object)  # Photo or None
    thumbSizeChanged = Signal(int)

    PREFETCH_ROWS = 2

    def __init__(self, model: PhotoGridModel, loader, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("photoGrid")
        self.loader = loader
        self.extra_actions: list[QAction | None] = []  # appended to the context menu; None: a line
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        # Laid out in batches between events: a folder of 100,000 photos, a new filter or sort
        # never holds the window for the whole layout (a second or more at once).
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(LAYOUT_BATCH)
        self.setGridSize(CELL)
        self.setSpacing(0)
        self.setWordWrap(False)
        self.setSelectionMode(QListView.SelectionMode.ExtendedSelection)
        self.setMouseTracking(True)
        self.setVerticalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(40)
        self.delegate = PhotoDelegate(self)
        self.setItemDelegate(self.delegate)
        self.setModel(model)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._context_menu)
        self.doubleClicked.connect(self._open_index)
        self._want = QTimer(self, singleShot=True, interval=15)
        self._want.timeout.connect(self.request_visible)
        self.verticalScrollBar().valueChanged.connect(lambda: self._want.start())
        model.modelReset.connect(lambda: self._want.start())
        model.layoutChanged.connect(lambda: self._want.start())
        model.rowsInserted.connect(lambda: self._want.start())
        loader.thumbnailReady.connect(model.thumbnail_ready)
        self.selectionModel().currentChanged.connect(self._current_changed)
        model.modelReset.connect(lambda: self.currentPhotoChanged.emit(self.current_photo()))

    def grid_model(self) -> PhotoGridModel:
        return self.model()  # type: ignore[return-value]

    def current_photo(self):
        index = self.currentIndex()
        return index.data(Roles.Photo) if index.isValid() else None

    def selected_photos(self) -> list:
        """The selected photos in grid order."""
        rows = sorted(i.row() for i in self.selectionModel().selectedIndexes())
        model = self.grid_model()
        return [p for r in rows if (p := model.photo_at(r)) is not None]

    def scopes(self, folder: str | None) -> list[tuple[str, list]]:
        """(label, photos) a file action can act on: the selection, the filter's result, the
        whole folder; empty ones left out. The first is what Export and Copy act on."""
        out, model = [], self.grid_model()
        selected = self.selected_photos()
        if selected:
            out.append((f"Selected photos ({len(selected)})", selected))
        shown, total = model.visible_photos(), model.total()
        if model.filtering() and len(shown) != total:
            out.append((f"Photos shown by the filter ({len(shown)} of {total})", shown))
        name = os.path.basename(folder or "") or "folder"
        out.append((f"All photos in “{name}” ({total})", model.photos()))
        return out

    def select_path(self, path: str) -> None:
        row = self.grid_model().row_of(path)
        if row >= 0:
            self.setCurrentIndex(self.grid_model().index(row))

    def columns(self) -> int:
        return max(1, self.viewport().width() // self.gridSize().width())

    def reflow(self) -> None:
        """Share the width out among the columns that fit, so no strip is left empty at the right
        edge; items stay one size. The scroll bar's width is always set aside, so a scroll bar
        that comes and goes cannot change the column count (and with it whether it is needed)."""
        extent = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, self)
        width = self.maximumViewportSize().width() - extent - 1
        base = cell_for(self.delegate.thumb)
        columns = max(1, width // base.width())
        cell = QSize(max(base.width(), width // columns), base.height())
        if cell != self.gridSize():
            self.delegate.cell = cell
            self.setGridSize(cell)

    def thumb_size(self) -> int:
        return self.delegate.thumb

    def set_thumb_size(self, px: int) -> None:
        """The thumbnail box's width (its height is 3/4 of it); the place in the grid is kept."""
        px = max(MIN_THUMB, min(MAX_THUMB, int(px)))
        if px == self.delegate.thumb:
            return
        current = self.currentIndex()
        self.delegate.thumb = px
        if hasattr(self.loader, "set_px"):  # sharp when large: rendered at the larger size
            self.loader.set_px(THUMB_PX if px <= THUMB_PX else LARGE_THUMB_PX)
        self.reflow()
        if current.isValid():
            self.scrollTo(current)
        self._want.start()
        self.thumbSizeChanged.emit(px)

    def wheelEvent(self, event) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = event.angleDelta().y() / 120
            if steps:
                self.set_thumb_size(self.delegate.thumb + int(16 * steps))
            event.accept()
            return
        super().wheelEvent(event)

    def visible_rows(self, margin_rows: int = 0) -> range:
        model = self.grid_model()
        n = model.rowCount()
        if n == 0:
            return range(0)
        vp = self.viewport().rect()
        cell = self.gridSize()
        first = self.indexAt(QPoint(cell.width() // 2, cell.height() // 2))
        last = self.indexAt(
            QPoint(vp.width() - cell.width() // 2, vp.height() - cell.height() // 2)
        )
        lo = first.row() if first.isValid() else 0
        per_row = self.columns()
        hi = (
            last.row()
            if last.isValid()
            else min(n - 1, lo + per_row * (vp.height() // cell.height() + 1))
        )
        lo = max(0, lo - margin_rows * per_row)
        hi = min(n - 1, hi + (margin_rows + 1) * per_row)
        return range(lo, hi + 1)

    def request_visible(self) -> None:
        model = self.grid_model()
        rows = self.visible_rows(self.PREFETCH_ROWS)
        photos = [model.photo_at(r) for r in rows]
        self.loader.request([p for p in photos if p is not None])

    def resizeEvent(self, event) -> None:
        self.reflow()
        super().resizeEvent(event)
        self._want.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._want.start()

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._open_index(self.currentIndex())
            return
        super().keyPressEvent(event)

    def mark_under(self, pos: QPoint) -> tuple[QModelIndex, Mark | None]:
        """The photo under ``pos`` (viewport coordinates) and the tag mark there, if any."""
        index = self.indexAt(pos)
        if not index.isValid():
            return index, None
        return index, self.delegate.mark_at(self.visualRect(index), index, pos)

    def mousePressEvent(self, event) -> None:
        """A plain click on a tag's dot or ✓ / ✗ selects the photo and offers yes / no for that
        tag (``tagMarkClicked``); anywhere else, the list view's own behaviour."""
        plain = event.modifiers() == Qt.KeyboardModifier.NoModifier
        if event.button() == Qt.MouseButton.LeftButton and plain:
            pos = event.position().toPoint()
            index, mark = self.mark_under(pos)
            if mark is not None:
                self.setCurrentIndex(index)
                self.tagMarkClicked.emit(
                    index.data(Roles.Photo), mark.tag, self.viewport().mapToGlobal(pos)
                )
                event.accept()
                return
        super().mousePressEvent(event)

    def viewportEvent(self, event) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            index, mark = self.mark_under(event.pos())
            if mark is not None:
                text = self.grid_model().mark_tooltip(index.data(Roles.Photo), mark.tag)
                QToolTip.showText(event.globalPos(), text, self.viewport())
                return True
        return super().viewportEvent(event)

    def _open_index(self, index: QModelIndex) -> None:
        if index.isValid():
            self.openRequested.emit(index.data(Roles.Photo))

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.currentPhotoChanged.emit(current.data(Roles.Photo) if current.isValid() else None)

    def _context_menu(self, pos: QPoint) -> None:
        index = self.indexAt(pos)
        if not index.isValid():
            return
        menu = photo_menu(self, index.data(Roles.Photo))
        menu.addSeparator()
        view = QAction("View full window", menu)
        view.triggered.connect(lambda: self._open_index(index))
        menu.addAction(view)
        if self.extra_actions:
            menu.addSeparator()
            for action in self.extra_actions:
                if action is None:
                    menu.addSeparator()
                else:
                    menu.addAction(action)
        menu.exec(self.viewport().mapToGlobal(pos))


def photo_menu(parent, photo) -> QMenu:
    """Open with the default app, show in the file manager, copy the path."""
    import os

    menu = QMenu(parent)
    menu.addAction("Open with default app").triggered.connect(
        lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(photo.path))
    )
    menu.addAction("Show in file manager").triggered.connect(
        lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(os.path.dirname(photo.path)))
    )
    menu.addAction("Copy path").triggered.connect(
        lambda: QGuiApplication.clipboard().setText(photo.path)
    )
    return menu
