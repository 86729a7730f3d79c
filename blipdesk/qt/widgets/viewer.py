"""The full-window viewer: one photo as large as the window, its tag scores, a filmstrip, arrows
to move, Esc to return to the grid.

Pixels: "fit" shows the photo decoded at the window's size in device pixels (the screen's pixel
ratio included), drawn one to one; zooming in decodes it whole. Both are decoded off the GUI
thread (``workers/viewer_images.py``); while they come, the detail panel's preview stands in.
A photo that cannot be decoded says why, in the place of the photo.

Zoom: Fit (Ctrl+0), 100% (Ctrl+1; Z toggles the two), Ctrl+wheel and Ctrl++ / Ctrl+- around the
cursor or the centre, drag to pan. ``zoom`` is ``None`` for fit, else device pixels per image
pixel (1.0: 100%).

Layers: after the photo, each callable in ``overlays`` paints with the painter and the photo's
rectangle in widget coordinates (``image_rect()``), so a heat map or a grid lies on the photo
whatever the zoom; ``viewChanged`` says when that rectangle moved.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QVBoxLayout, QWidget

from blipdesk.qt.common.values import Photo, ScoreBoard, Tag, tag_colour
from blipdesk.qt.workers.viewer_images import FULL, ViewerImages

CAPTION = 36  # the strip under the photo: name and tag scores
ZOOM_STEP = 1.25
MAX_ZOOM = 16.0  # device pixels per image pixel
BACKGROUND = QColor(20, 20, 20)  # dark whatever the system's palette: photos are judged on it


class PhotoViewer(QWidget):
    closed = Signal()
    step = Signal(int)  # -1 / +1
    viewChanged = Signal()  # the photo, its zoom or its position changed (overlays follow)

    def __init__(self, board: ScoreBoard, previews, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("photoViewer")
        self.board = board
        self.previews = previews  # the detail panel's ≤1024 px previews: shown while decoding
        self.images = ViewerImages(self)
        self.photo: Photo | None = None
        self.tags: list[Tag] = []
        self.zoom: float | None = None
        self.centre = QPointF(0.5, 0.5)  # the image point at the view's centre (0..1)
        self.full_size: QSize | None = None  # the photo's upright size at full resolution
        self.overlays: list[Callable[[QPainter, QRectF], None]] = []
        self.caption_extra: Callable[[Photo], str] | None = None  # e.g. the rating, on the right
        self._drag: tuple[QPointF, QPointF] | None = None
        self._converted: tuple[int, QPixmap] | None = None
        self._ahead: Photo | None = None
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAutoFillBackground(True)
        pal = self.palette()
        pal.setColor(QPalette.ColorRole.Window, BACKGROUND)
        self.setPalette(pal)
        self.setMouseTracking(True)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, CAPTION)
        self._layout.addStretch(1)
        self.filmstrip: QWidget | None = None
        self.top_bar: QWidget | None = None
        self._refit = QTimer(self, singleShot=True, interval=120)  # after resizing settles
        self._refit.timeout.connect(self._request_pixels)
        self.images.ready.connect(self._pixels_ready)
        self.images.failed.connect(self._pixels_failed)
        previews.thumbnailReady.connect(self._preview_ready)

    # ----------------------------------------------------------------- content

    def set_filmstrip(self, strip: QWidget) -> None:
        """A strip of thumbnails under the photo (``widgets/filmstrip.py``)."""
        self.filmstrip = strip
        self._layout.addWidget(strip)

    def show_photo(self, photo: Photo, tags: list[Tag]) -> None:
        if self.photo is None or photo.path != self.photo.path:
            self.zoom, self.centre, self.full_size = None, QPointF(0.5, 0.5), None
            self.images.errors.pop(photo.path, None)  # try again: the file may be fixed now
        self.photo, self.tags = photo, list(tags)
        self.previews.request([photo])
        self._request_pixels()
        self._changed()

    def prefetch(self, photo: Photo | None) -> None:
        """Decode ``photo`` (the next one in the grid's order) at fit now, in the background
        (again at the new size after a resize)."""
        self._ahead = photo
        if photo is not None and self.isVisible():
            self.images.request(photo.path, self.device_size(), ahead=True)

    def set_tags(self, tags: list[Tag]) -> None:
        self.tags = list(tags)
        self.update()

    def set_top_bar(self, bar: QWidget) -> None:
        """A bar along the top (``why_overlay.WhyStrip``): the photo is drawn under it."""
        self.top_bar = bar
        self._layout.insertWidget(0, bar)

    def image_area(self) -> QRect:
        """Where the photo may be drawn: under the top bar, above the filmstrip and the caption."""
        strip = self.filmstrip.height() if self.filmstrip and self.filmstrip.isVisible() else 0
        top = self.top_bar.height() if self.top_bar and self.top_bar.isVisible() else 0
        return self.rect().adjusted(0, top, 0, -CAPTION - strip)

    def device_size(self) -> QSize:
        area, ratio = self.image_area().size(), self.devicePixelRatioF()
        return QSize(max(1, round(area.width() * ratio)), max(1, round(area.height() * ratio)))

    def error(self) -> str | None:
        """Why the photo shown cannot be shown, or None."""
        if self.photo is None:
            return None
        return self.images.errors.get(self.photo.path) or self.previews.broken.get(self.photo.path)

    # ----------------------------------------------------------------- zoom

    def fit_scale(self) -> float:
        """Device pixels per image pixel at fit."""
        if self.full_size is None or self.full_size.isEmpty():
            return 1.0
        dev = self.device_size()
        return min(dev.width() / self.full_size.width(), dev.height() / self.full_size.height())

    def scale(self) -> float:
        return self.fit_scale() if self.zoom is None else self.zoom

    def set_zoom(
        self, zoom: float | None, anchor: QPointF | None = None, floor: bool = True
    ) -> None:
        """``None``: fit. ``anchor`` (widget coordinates) stays on the same image point.
        ``floor``: a zoom at or below fit becomes fit (zooming out never goes smaller)."""
        if zoom is not None:
            zoom = min(MAX_ZOOM, zoom)
            if floor and zoom <= self.fit_scale() * 1.0001:
                zoom = None
        if anchor is not None and zoom is not None and self.full_size is not None:
            before = self._image_point(anchor)
            self.zoom = zoom
            # Move the centre so that ``before`` lies under the anchor again.
            rect = self.image_rect()
            if rect.width() > 0 and rect.height() > 0:
                now = QPointF(
                    (anchor.x() - rect.left()) / rect.width(),
                    (anchor.y() - rect.top()) / rect.height(),
                )
                self.centre += before - now
        else:
            self.zoom = zoom
        if self.zoom is None:
            self.centre = QPointF(0.5, 0.5)
        self._clamp()
        self._request_pixels()
        self._changed()

    def zoom_in(self) -> None:
        self.set_zoom(self.scale() * ZOOM_STEP)

    def zoom_out(self) -> None:
        self.set_zoom(self.scale() / ZOOM_STEP)

    def zoom_fit(self) -> None:
        self.set_zoom(None)

    def zoom_actual(self) -> None:
        """100%: one image pixel per screen pixel (a photo smaller than the window shrinks)."""
        self.set_zoom(1.0, floor=False)

    def zoom_text(self) -> str:
        return "Fit" if self.zoom is None else f"{self.zoom * 100:.0f}%"

    def image_rect(self) -> QRectF:
        """The photo's rectangle in widget coordinates at the current zoom and position."""
        area = QRectF(self.image_area())
        if self.full_size is None or self.full_size.isEmpty():
            shown = self._shown_pixmap()
            if shown is None:
                return QRectF()
            size = QSize(shown.width(), shown.height()).scaled(
                area.size().toSize(), Qt.AspectRatioMode.KeepAspectRatio
            )
            return QRectF(
                area.center().x() - size.width() / 2,
                area.center().y() - size.height() / 2,
                size.width(),
                size.height(),
            )
        logical = self.scale() / self.devicePixelRatioF()
        w, h = self.full_size.width() * logical, self.full_size.height() * logical
        return QRectF(
            area.center().x() - self.centre.x() * w, area.center().y() - self.centre.y() * h, w, h
        )

    def _image_point(self, pos: QPointF) -> QPointF:
        rect = self.image_rect()
        if rect.width() <= 0 or rect.height() <= 0:
            return QPointF(0.5, 0.5)
        return QPointF(
            (pos.x() - rect.left()) / rect.width(), (pos.y() - rect.top()) / rect.height()
        )

    def _clamp(self) -> None:
        """Keep the photo on screen: centred along a side it does not fill, edges never inside."""
        if self.full_size is None:
            return
        area = self.image_area()
        logical = self.scale() / self.devicePixelRatioF()
        x, y = self.centre.x(), self.centre.y()
        for axis, (extent, view) in enumerate(
            (
                (self.full_size.width() * logical, area.width()),
                (self.full_size.height() * logical, area.height()),
            )
        ):
            value = (x, y)[axis]
            if extent <= view:
                value = 0.5
            else:
                half = view / 2 / extent
                value = min(1 - half, max(half, value))
            if axis == 0:
                x = value
            else:
                y = value
        self.centre = QPointF(x, y)

    # ----------------------------------------------------------------- pixels

    def _request_pixels(self) -> None:
        if self.photo is None or not self.isVisible():
            return
        hit = self.images.cached(self.photo.path, self.device_size())
        if hit is not None and self.full_size is None:  # decoded ahead: no answer will come
            self.full_size = hit[1]
            self._clamp()
        self.images.request(self.photo.path, self.device_size())
        if self.zoom is not None and self.zoom > self.fit_scale() * 1.0001:
            self.images.request(self.photo.path, FULL)
        elif self._ahead is not None:
            self.images.request(self._ahead.path, self.device_size(), ahead=True)

    def _pixels_ready(self, path: str, size: QSize, image: QImage, full: QSize) -> None:
        if self.photo is not None and path == self.photo.path:
            if self.full_size != full:
                self.full_size = full
                self._clamp()
            self._changed()

    def _pixels_failed(self, path: str, reason: str) -> None:
        if self.photo is not None and path == self.photo.path:
            self._changed()

    def _preview_ready(self, path: str) -> None:
        if self.photo is not None and path == self.photo.path:
            self.update()

    def _shown_pixmap(self) -> QPixmap | None:
        """The best pixels there are for the photo now: whole (zoomed), fit, else the preview."""
        assert self.photo is not None
        path = self.photo.path
        if self.zoom is not None:
            full = self.images.cached(path, FULL)
            if full is not None:
                return self._pixmap(full[0])
        fit = self.images.cached(path, self.device_size())
        if fit is None:  # a resize in progress: the newest fit there is
            fit = next(
                (v for k, v in reversed(self.images.cache.items()) if k[0] == path and k[1]),
                None,
            )
        if fit is not None:
            return self._pixmap(fit[0])
        return self.previews.pixmap(path)

    def _pixmap(self, image: QImage) -> QPixmap:
        """``image`` as a pixmap, converted once (a whole 24-MP photo takes a while)."""
        key = image.cacheKey()
        if self._converted is None or self._converted[0] != key:
            self._converted = (key, QPixmap.fromImage(image))
        return self._converted[1]

    def _changed(self) -> None:
        self.update()
        self.viewChanged.emit()

    # ----------------------------------------------------------------- events

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._request_pixels()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._clamp()
        self._refit.start()
        self.viewChanged.emit()

    def keyPressEvent(self, event) -> None:
        key, mods = event.key(), event.modifiers()
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        if key == Qt.Key.Key_Escape:
            self.closed.emit()
        elif ctrl and key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_in()
        elif ctrl and key == Qt.Key.Key_Minus:
            self.zoom_out()
        elif ctrl and key == Qt.Key.Key_0:
            self.zoom_fit()
        elif ctrl and key == Qt.Key.Key_1:
            self.zoom_actual()
        elif key == Qt.Key.Key_Z and not ctrl:
            self.zoom_fit() if self.zoom is not None else self.zoom_actual()
        elif key in (Qt.Key.Key_Right, Qt.Key.Key_Down, Qt.Key.Key_Space):
            self.step.emit(1)
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Up, Qt.Key.Key_Backspace):
            self.step.emit(-1)
        else:
            super().keyPressEvent(event)

    def wheelEvent(self, event) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = event.angleDelta().y() / 120
            if steps:
                self.set_zoom(self.scale() * ZOOM_STEP**steps, event.position())
            event.accept()
            return
        super().wheelEvent(event)

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.zoom is not None:
            self._drag = (event.position(), QPointF(self.centre))
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._drag is not None:
            start, centre = self._drag
            rect = self.image_rect()
            if rect.width() > 0 and rect.height() > 0:
                delta = event.position() - start
                self.centre = QPointF(
                    centre.x() - delta.x() / rect.width(), centre.y() - delta.y() / rect.height()
                )
                self._clamp()
                self._changed()
        elif self.zoom is not None:
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            self.unsetCursor()
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._drag is not None:
            self._drag = None
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:
        self.closed.emit()

    # ----------------------------------------------------------------- painting

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        if self.photo is None:
            return
        area = self.image_area()
        painter.setPen(QColor("white"))
        pixmap = self._shown_pixmap()
        error = self.error()
        if error and pixmap is None:
            text = f"Cannot show {self.photo.name}:\n{error}"
            flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
            painter.drawText(area.adjusted(40, 0, -40, 0), flags, text)
        elif pixmap is None:
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, "Loading…")
        else:
            target = self.image_rect()
            painter.save()
            painter.setClipRect(area)
            if self.zoom is not None and pixmap.width() >= (self.full_size or QSize()).width() > 0:
                # Whole image: draw only the part that is on screen.
                visible = target.intersected(QRectF(area))
                sx = pixmap.width() / target.width()
                sy = pixmap.height() / target.height()
                source = QRectF(
                    (visible.left() - target.left()) * sx,
                    (visible.top() - target.top()) * sy,
                    visible.width() * sx,
                    visible.height() * sy,
                )
                painter.drawPixmap(visible, pixmap, source)
            else:
                painter.drawPixmap(target, pixmap, QRectF(pixmap.rect()))
            for overlay in self.overlays:
                overlay(painter, target)
            painter.restore()
        self._paint_caption(painter)

    def _paint_caption(self, painter: QPainter) -> None:
        """Name and every tag's match, matches in the tag's colour; zoom and keys at the right."""
        assert self.photo is not None
        fm = painter.fontMetrics()
        x, y = 12, self.height() - 12
        painter.setPen(QColor("white"))
        painter.drawText(x, y, self.photo.name)
        x += fm.horizontalAdvance(self.photo.name) + 24
        right = [self.zoom_text(), "← → move · Ctrl+wheel zoom · F full screen · Esc back"]
        if self.caption_extra is not None:
            right.insert(0, self.caption_extra(self.photo))
        hint = "   ".join(t for t in right if t)
        limit = self.width() - fm.horizontalAdvance(hint) - 24
        for tag in self.tags:
            score = self.board.tag_score(self.photo.path, tag)
            label = {True: " ✓", False: " ✗", None: ""}[self.board.label(self.photo.path, tag.name)]
            text = f"{tag.name} {'–' if score is None else f'{score * 100:.0f}%'}{label}"
            hit = self.board.matches(self.photo.path, tag)  # the store's rule: labels first
            width = fm.horizontalAdvance("● " + text)
            if x + width > limit:
                break
            painter.setPen(QColor(tag_colour(tag)) if hit else QColor(170, 170, 170))
            painter.drawText(x, y, ("● " if hit else "○ ") + text)
            x += width + 18
        painter.setPen(QColor(170, 170, 170))
        painter.drawText(self.width() - fm.horizontalAdvance(hint) - 12, y, hint)
