"""The right-hand column: the photo's details (preview, scores), its information (EXIF) and the
tags list, one above the other in a splitter.

Each keeps room for its job at the default 1320 × 820 window: the tags list shows at least
``TAG_ROWS`` whole tags, the scores at least four rows (the detail panel's own minimum). The
information panel scrolls, so it is what gives way: dragging the tags list's handle up takes
room from the information first, the scores last. When the window grows, the details and the
tags list grow; the information keeps its size.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QSplitter, QWidget

from blipdesk.qt.widgets.tags_panel import ROW_H, TagsPanel

TAG_ROWS = 3  # whole tags the list always shows
INFO_MIN = 60  # the information panel's title and a row; more by scrolling


def side_panels(detail: QWidget, info: QWidget, tags: TagsPanel) -> QSplitter:
    """The splitter of the three panels (``rightSplitter``), sized for the default window."""
    frame = 2 * tags.view.frameWidth()
    tags.view.setMinimumHeight(TAG_ROWS * ROW_H + frame)
    scroller = QScrollArea()
    scroller.setObjectName("infoScroller")
    scroller.setWidget(info)
    scroller.setWidgetResizable(True)
    scroller.setFrameShape(QFrame.Shape.NoFrame)
    scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroller.setMinimumHeight(INFO_MIN)
    splitter = QSplitter(Qt.Orientation.Vertical)
    splitter.setObjectName("rightSplitter")
    for panel in (detail, scroller, tags):
        splitter.addWidget(panel)
    for i in range(3):
        splitter.setCollapsible(i, False)
    splitter.setStretchFactor(0, 3)
    splitter.setStretchFactor(1, 0)
    splitter.setStretchFactor(2, 2)
    # Room for 4½ tags under the information (about 150 px at the default size).
    tags_height = tags.minimumSizeHint().height() + ROW_H * 3 // 2
    splitter.setSizes([430, 150, tags_height])
    return splitter
