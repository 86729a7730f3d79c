"""Undo and redo for every change a person makes in the window (ratings, flags, labels, tag
edits): one ``QUndoStack`` the main window owns, and ``Step``, a change as two callables.

A controller that changes something pushes a ``Step`` (``push`` runs its ``redo`` at once: the
change itself); a bulk change (a key on twelve selected photos) is one step. The step's text names
it for the status bar ("3 stars on 4 photos"), which ``UndoActions`` shows as "Undid: …".
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QUndoCommand


class Step(QUndoCommand):
    def __init__(self, text: str, redo: Callable[[], object], undo: Callable[[], object]) -> None:
        super().__init__(text)
        self._redo, self._undo = redo, undo

    def redo(self) -> None:
        self._redo()

    def undo(self) -> None:
        self._undo()


def photos_text(n: int) -> str:
    """'1 photo', '4 photos': how a step counts what it changed."""
    return f"{n} photo{'s' * (n != 1)}"
