"""Edit > Undo and Redo (Ctrl+Z, Ctrl+Shift+Z): the window's one undo stack, and the step undone
or redone named in the status bar ("Undid: 3 stars on 4 photos").

The stack (``QUndoStack``) is made by ``qt/window.py`` and handed to each controller that changes
something a person may want back (ratings, labels, tags); this object only owns the two actions
and their messages. The keys are window-wide (``Desk.bind_keys``), so they work in the viewer and
full screen too; a text field keeps Ctrl+Z for its own text.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QKeySequence, QUndoStack
from PySide6.QtWidgets import QMainWindow, QMenu


class UndoActions(QObject):
    message = Signal(str, int)  # status-bar text, milliseconds

    def __init__(self, main: QMainWindow, stack: QUndoStack) -> None:
        super().__init__(main)
        self.stack = stack
        stack.setParent(self)  # it goes with these actions, never before them
        bar = main.menuBar()
        self.menu = QMenu("&Edit", bar)
        first = next(iter(bar.actions()[1:2]), None)  # after File
        if first is not None:
            bar.insertMenu(first, self.menu)
        else:
            bar.addMenu(self.menu)
        self.undo_action = QAction("&Undo", main)
        self.undo_action.setShortcut(QKeySequence("Ctrl+Z"))
        self.redo_action = QAction("&Redo", main)
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.undo_action.triggered.connect(lambda _checked=False: self.undo())
        self.redo_action.triggered.connect(lambda _checked=False: self.redo())
        self.menu.addAction(self.undo_action)
        self.menu.addAction(self.redo_action)
        stack.indexChanged.connect(self._names)
        self._names(stack.index())
        self.message.connect(main.statusBar().showMessage)

    def _names(self, _index: int) -> None:
        """The menu says what Ctrl+Z would undo ("Undo 3 stars on 4 photos")."""
        for action, verb, text in (
            (self.undo_action, "&Undo", self.stack.undoText()),
            (self.redo_action, "&Redo", self.stack.redoText()),
        ):
            action.setText(f"{verb} {text.replace('&', '&&')}" if text else verb)

    def undo(self) -> None:
        if not self.stack.canUndo():
            self.message.emit("Nothing to undo.", 4000)
            return
        text = self.stack.undoText()
        self.stack.undo()
        self.message.emit(f"Undid: {text}", 6000)

    def redo(self) -> None:
        if not self.stack.canRedo():
            self.message.emit("Nothing to redo.", 4000)
            return
        text = self.stack.redoText()
        self.stack.redo()
        self.message.emit(f"Redid: {text}", 6000)
