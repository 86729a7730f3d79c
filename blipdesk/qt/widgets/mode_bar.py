"""A banner over the grid naming every mode that hides photos and is not on the filter bar's own
chips: a search (the search box's, or More like this, which has no text in the box), Photo > Show
only, Teach > Show only, View > Show duplicates only, and the date, type or folder filter while
"More filters" is folded away. Each is a chip with ✕; Esc leaves them all (``GridModes``).

It knows nothing of where a mode comes from: ``set_modes`` gives it (key, text) pairs and it
says which key a person wants to leave.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

ESC_HINT = "Esc shows every photo"


class ModeBar(QWidget):
    leaveRequested = Signal(str)  # the key of the mode whose ✕ was clicked

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modeBar")
        self._row = QHBoxLayout(self)
        self._row.setContentsMargins(6, 2, 6, 2)
        self.title = QLabel("Showing only:")
        self.hint = QLabel(ESC_HINT)
        self.hint.setStyleSheet("color: palette(placeholder-text);")
        self._row.addWidget(self.title)
        self._row.addStretch(1)
        self._row.addWidget(self.hint)
        self.chips: dict[str, QToolButton] = {}
        self.setVisible(False)

    def set_modes(self, modes: list[tuple[str, str]]) -> None:
        """(key, what it shows) for every mode on; the banner hides when there is none."""
        if [(k, b.text()) for k, b in self.chips.items()] == [(k, f"{t}  ✕") for k, t in modes]:
            return
        for button in self.chips.values():
            self._row.removeWidget(button)
            button.deleteLater()
        self.chips = {}
        for i, (key, text) in enumerate(modes):
            button = QToolButton()
            button.setObjectName("modeChip")
            button.setText(f"{text}  ✕")
            button.setToolTip(f"Stop showing only this: {text}")
            button.clicked.connect(lambda _checked=False, k=key: self.leaveRequested.emit(k))
            self._row.insertWidget(1 + i, button)
            self.chips[key] = button
        self.setVisible(bool(modes))

    def modes(self) -> list[str]:
        """The chips' texts, as shown (without the ✕)."""
        return [b.text().removesuffix("  ✕") for b in self.chips.values()]
