"""The thumbnail size: a slider in the status bar (Ctrl+wheel on the grid moves it too)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QWidget

from blipdesk.qt.widgets.photo_grid import MAX_THUMB, MIN_THUMB, PhotoGrid


class ThumbSlider(QWidget):
    def __init__(self, grid: PhotoGrid, parent=None) -> None:
        super().__init__(parent)
        self.grid = grid
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 0)
        small = QLabel("▫")
        large = QLabel("◻")
        self.slider = QSlider(Qt.Orientation.Horizontal)

        self.slider.setObjectName("thumbSlider")
        self.slider.setRange(MIN_THUMB, MAX_THUMB)
        self.slider.setSingleStep(8)
        self.slider.setPageStep(32)
        self.slider.setFixedWidth(120)
        self.slider.setValue(grid.thumb_size())
        self.setToolTip("Thumbnail size (Ctrl+wheel on the grid)")
        for w in (small, self.slider, large):
            layout.addWidget(w)
        self.slider.valueChanged.connect(grid.set_thumb_size)
        grid.thumbSizeChanged.connect(self._follow)

    def _follow(self, px: int) -> None:
        if self.slider.value() != px:
            self.slider.blockSignals(True)
            self.slider.setValue(px)
            self.slider.blockSignals(False)
