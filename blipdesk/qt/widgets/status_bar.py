"""The window's status bar: a message never runs under the widgets on its right.

``QStatusBar`` draws its message left of its widgets (the photo count, the thumbnail slider, the
scan status) and cuts it hard where the first of them starts ("…best 24 c"). This one elides the
message with "…" to the room there is, keeps the whole text as the tooltip, and elides again
when the window is resized.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QStatusBar, QWidget


class ElidingStatusBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self._timeout = 0  # a timed message stays timed when a resize shows it again
        self.messageChanged.connect(self._forget_when_cleared)

    def room(self) -> int:
        """Pixels from the left edge to the first widget shown in the bar."""
        lefts = [
            child.geometry().left()
            for child in self.findChildren(
                QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly
            )
            if child.isVisible() and child.width() > 0 and child.geometry().left() > 0
        ]
        return (min(lefts) if lefts else self.width()) - 12

    def showMessage(self, text: str, timeout: int | None = 0) -> None:
        self._full, self._timeout = text, timeout or 0
        self.setToolTip(text if text else "")
        super().showMessage(self._fitted(text), timeout or 0)

    def _fitted(self, text: str) -> str:
        room = max(self.room(), 60)
        return self.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, room)

    def full_message(self) -> str:
        """The message as given (``currentMessage()`` is what fits)."""
        return self._full if self.currentMessage() else ""

    def _forget_when_cleared(self, text: str) -> None:
        if not text:
            self._full = ""
            self.setToolTip("")

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._full and self.currentMessage():
            QStatusBar.showMessage(self, self._fitted(self._full), self._timeout)
