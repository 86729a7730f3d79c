"""Help > Keyboard shortcuts: every menu action that has a key, read from the menus themselves
(so the list cannot drift from what the keys do), and the viewer's and grid's own keys."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMenu,
    QMenuBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

# Keys handled by the widgets themselves (not menu actions): (where, key, what).
WIDGET_KEYS = (
    ("Grid", "Enter or double-click", "View the photo"),
    ("Grid", "Arrows, Shift/Ctrl+click", "Move, select"),
    ("Viewer", "→ ↓ Space / ← ↑ Backspace", "Next / previous photo"),
    ("Viewer", "Ctrl+0", "Zoom to fit"),
    ("Viewer", "Ctrl+1", "Zoom to 100% (one photo pixel per screen pixel)"),
    ("Viewer", "Z", "Toggle fit and 100%"),
    ("Viewer", "Ctrl++ / Ctrl+−, Ctrl+wheel", "Zoom in / out"),
    ("Viewer", "Drag", "Pan a zoomed photo"),
    ("Viewer", "Esc or double-click", "Back to the grid (and out of full screen)"),
)


def menu_shortcuts(bar: QMenuBar) -> list[tuple[str, str, str]]:
    """(menu, key, action) for every action with a shortcut, in menu order."""
    out: list[tuple[str, str, str]] = []

    def walk(actions: list[QAction], where: str) -> None:
        for action in actions:
            menu = action.menu()
            if isinstance(menu, QMenu):
                walk(menu.actions(), action.text().replace("&", ""))
                continue
            keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts()]
            keys = [k for k in keys if k]
            if keys:
                out.append((where, " or ".join(keys), action.text().replace("&", "").rstrip("…")))

    walk(bar.actions(), "")
    return out


class ShortcutsDialog(QDialog):
    def __init__(self, bar: QMenuBar, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.setObjectName("shortcutsDialog")
        rows = menu_shortcuts(bar) + list(WIDGET_KEYS)
        self.table = QTableWidget(len(rows), 3)
        self.table.setHorizontalHeaderLabels(["Where", "Keys", "Does"])
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for row, values in enumerate(rows):
            for column, value in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(value))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        rows_height = len(rows) * self.table.verticalHeader().defaultSectionSize()
        self.resize(640, min(760, rows_height + 110))

    def rows(self) -> list[tuple[str, str, str]]:
        out = []
        for r in range(self.table.rowCount()):
            cells = [self.table.item(r, c) for c in range(3)]
            where, key, what = (c.text() if c is not None else "" for c in cells)
            out.append((where, key, what))
        return out
