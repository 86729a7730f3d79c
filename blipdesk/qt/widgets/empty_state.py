"""What an empty grid says: a label over the grid's viewport, shown only when the grid has no
rows (first start: add a folder, write a tag; a filter that hides everything: which one, and how
to widen it). The text comes from a callable (``GridFlow.empty_text``) that reads the models."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QAbstractItemView, QLabel


class EmptyState(QLabel):
    def __init__(self, view: QAbstractItemView, text: Callable[[], str | None]) -> None:
        super().__init__(view.viewport())
        self.setObjectName("emptyState")
        self.view, self._text = view, text
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setStyleSheet("QLabel#emptyState { color: palette(placeholder-text); padding: 24px; }")
        self._later = QTimer(self, singleShot=True, interval=0)
        self._later.timeout.connect(self.refresh)
        model = view.model()
        for signal in (
            model.modelReset,
            model.rowsInserted,
            model.rowsRemoved,
            model.layoutChanged,
        ):
            signal.connect(self._later.start)
        view.viewport().installEventFilter(self)
        self.refresh()

    def refresh(self) -> None:
        text = self._text()
        if text is None:
            self.hide()
            return
        self.setText(text)
        self._fit()
        self.show()

    def _fit(self) -> None:
        area = self.view.viewport().rect()
        width = min(area.width(), 560)
        self.setFixedWidth(width)
        self.adjustSize()
        self.move((area.width() - width) // 2, max(0, (area.height() - self.height()) // 3))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize and self.isVisible():
            self._fit()
        return False
