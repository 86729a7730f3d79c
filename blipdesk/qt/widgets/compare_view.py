"""Compare (C, as in Lightroom's survey view): two to four photos side by side, zoom and pan
linked, one pane active at a time.

Each pane is a ``PhotoViewer`` of its own (its pixels decoded off the GUI thread at the pane's
size, whole when zoomed in). Zooming or panning one pane moves the others the same way: the same
point of each photo (as a fraction of its width and height) at the centre, at the same multiple
of each one's fit, so a burst's frames stay lined up. The active pane (click it, or ← → / Tab)
has a light frame; the rating, flag and colour keys act on its photo (``Desk.targets``). Esc or
a double click goes back to the grid.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QEvent, QObject, QPointF, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QGridLayout, QWidget

from blipdesk.qt.common.values import Photo, Tag
from blipdesk.qt.widgets.viewer import PhotoViewer

MAX_PHOTOS = 4
ACTIVE = QColor("#f0f0f0")


class ComparePane(PhotoViewer):
    """One photo of the comparison: its name and rating under it, a frame when active."""

    active = False

    def _paint_caption(self, painter: QPainter) -> None:
        assert self.photo is not None
        painter.setPen(QColor("white"))
        extra = self.caption_extra(self.photo) if self.caption_extra is not None else ""
        text = f"{self.photo.name}   {extra}   {self.zoom_text()}"
        elided = painter.fontMetrics().elidedText(
            text, Qt.TextElideMode.ElideMiddle, self.width() - 24
        )
        painter.drawText(12, self.height() - 12, elided)
        if self.active:
            painter.setPen(ACTIVE)
            painter.drawRect(self.rect().adjusted(1, 1, -2, -2))


class CompareView(QWidget):
    """Two to four ``ComparePane``s; ``closed`` when the person goes back to the grid."""

    closed = Signal()
    activeChanged = Signal(object)  # the active pane's Photo

    def __init__(self, board, previews, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("compareView")
        self.board, self.previews = board, previews
        self.panes: list[ComparePane] = []
        self.caption_extra: Callable[[Photo], str] | None = None
        self._active = 0
        self._linking = False
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(2)

    def show_photos(self, photos: Sequence[Photo], tags: list[Tag]) -> None:
        """Compare ``photos`` (the first ``MAX_PHOTOS``), the first one active, at fit."""
        for pane in self.panes:
            self._grid.removeWidget(pane)
            pane.images.shutdown()
            pane.deleteLater()
        self.panes = []
        photos = list(photos)[:MAX_PHOTOS]
        columns = 2 if len(photos) == 4 else max(1, len(photos))
        for i, photo in enumerate(photos):
            pane = ComparePane(self.board, self.previews, self)
            pane.caption_extra = self.caption_extra
            pane.closed.connect(self.closed)
            pane.step.connect(self.step_active)
            pane.viewChanged.connect(lambda p=pane: self._link(p))
            pane.installEventFilter(self)
            self._grid.addWidget(pane, i // columns, i % columns)
            pane.show()  # at once, not when the layout next runs: it takes the focus below
            self.panes.append(pane)
            pane.show_photo(photo, tags)
        self.set_active(0)

    def photos(self) -> list[Photo]:
        return [p.photo for p in self.panes if p.photo is not None]

    def active_photo(self) -> Photo | None:
        return self.panes[self._active].photo if self.panes else None

    def active_pane(self) -> ComparePane | None:
        return self.panes[self._active] if self.panes else None

    def set_active(self, index: int) -> None:
        if not self.panes:
            return
        self._active = index % len(self.panes)
        for i, pane in enumerate(self.panes):
            pane.active = i == self._active
            pane.update()
        pane = self.panes[self._active]
        if not pane.hasFocus():
            pane.setFocus()
        self.activeChanged.emit(pane.photo)

    def step_active(self, delta: int) -> None:
        self.set_active(self._active + delta)

    def refresh(self) -> None:
        for pane in self.panes:
            pane.update()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.FocusIn and watched in self.panes:
            index = self.panes.index(watched)
            if index != self._active:
                self.set_active(index)
        elif (
            event.type() == QEvent.Type.KeyPress
            and watched in self.panes
            and event.key() == Qt.Key.Key_Tab  # type: ignore[attr-defined]
        ):
            self.step_active(1)
            return True
        return False

    def _link(self, source: ComparePane) -> None:
        """The other panes follow ``source``'s zoom (as a multiple of fit) and centre."""
        if self._linking:
            return
        self._linking = True
        try:
            times = None if source.zoom is None else source.scale() / source.fit_scale()
            for pane in self.panes:
                if pane is source:
                    continue
                pane.zoom = None if times is None else pane.fit_scale() * times
                pane.centre = QPointF(source.centre)
                pane._clamp()
                pane._request_pixels()
                pane.update()
        finally:
            self._linking = False

    def shutdown(self) -> None:
        for pane in self.panes:
            pane.images.shutdown()
