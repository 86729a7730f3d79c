"""The grid, one photo in the viewer, or two to four side by side (``compare_view.py``): the
viewer steps through the photos in the grid's order (and moves the grid's current photo along);
its filmstrip shows the same photos. ``viewing`` tells the window to give the viewer the
whole window (the side panels hide; the splitters keep their sizes while hidden)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QStackedWidget

from blipdesk.qt.models.photos import PhotoGridModel
from blipdesk.qt.models.tags import TagListModel
from blipdesk.qt.widgets.compare_view import CompareView
from blipdesk.qt.widgets.filmstrip import Filmstrip
from blipdesk.qt.widgets.photo_grid import PhotoGrid
from blipdesk.qt.widgets.viewer import PhotoViewer
from blipdesk.qt.widgets.why_overlay import WhyStrip


class PhotoStack(QStackedWidget):
    viewing = Signal(bool)

    def __init__(
        self, grid: PhotoGrid, viewer: PhotoViewer, photos: PhotoGridModel, tags: TagListModel
    ) -> None:
        super().__init__()
        self.grid, self.viewer, self.photos, self.tags = grid, viewer, photos, tags
        self.addWidget(grid)
        self.addWidget(viewer)
        self.compare = CompareView(viewer.board, viewer.previews)
        self.addWidget(self.compare)
        self.compare.closed.connect(self.close_viewer)
        self.filmstrip = Filmstrip(photos, grid.loader)
        viewer.set_filmstrip(self.filmstrip)
        self.why = WhyStrip(viewer)  # "Why?" over the photo
        grid.openRequested.connect(self.open_viewer)
        viewer.closed.connect(self.close_viewer)
        viewer.step.connect(self._step)
        self.filmstrip.photoChosen.connect(self._chosen)

    def viewing_now(self) -> bool:
        return self.currentWidget() is self.viewer

    def open_viewer(self, photo) -> None:
        if photo is None:
            return
        self.viewing.emit(True)
        self.setCurrentWidget(self.viewer)
        self.viewer.show_photo(photo, self.tags.tags())
        self.filmstrip.show_path(photo.path)
        self.viewer.setFocus()
        self._ahead(photo, 1)

    def open_compare(self, photos) -> None:
        """Two to four photos side by side (the first active)."""
        if len(photos) < 2:
            return
        self.viewing.emit(True)
        self.compare.caption_extra = self.viewer.caption_extra
        self.setCurrentWidget(self.compare)
        self.compare.show_photos(photos, self.tags.tags())

    def comparing(self) -> bool:
        return self.currentWidget() is self.compare

    def close_viewer(self) -> None:
        self.setCurrentWidget(self.grid)
        self.viewing.emit(False)
        self.grid.setFocus()

    def _step(self, delta: int) -> None:
        if self.viewer.photo is None:
            return
        photo = self.photos.photo_at(self.photos.row_of(self.viewer.photo.path) + delta)
        if photo is not None:
            self._chosen(photo, delta)

    def _chosen(self, photo, direction: int = 1) -> None:
        self.grid.select_path(photo.path)
        self.viewer.show_photo(photo, self.tags.tags())
        self.filmstrip.show_path(photo.path)
        self.viewer.setFocus()
        self._ahead(photo, direction)

    def _ahead(self, photo, direction: int) -> None:
        """The photo the next step will show, decoded while this one is looked at."""
        self.viewer.prefetch(self.photos.photo_at(self.photos.row_of(photo.path) + direction))
