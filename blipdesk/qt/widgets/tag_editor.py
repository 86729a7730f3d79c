"""The tag editor: name, sentences (one per line), threshold, colour, and "Try on this photo".

"Try" sends a ``TryJob`` to the inference worker (the model loads there, never here) and shows
each sentence's ITM probability and cosine for the current photo when the answer arrives.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QColorDialog,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
)

from blipdesk.qt.values import DEFAULT_COLOURS, Tag, tag_colour


class TagEditorDialog(QDialog):
    tryRequested = Signal(tuple)  # sentences

    def __init__(self, tag: Tag | None, taken: set[str], photo_name: str | None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Edit tag" if tag else "New tag")
        self.setObjectName("tagEditor")
        self._taken = taken - ({tag.name} if tag else set())
        self.original = tag
        self._colour = (
            tag_colour(tag) if tag else DEFAULT_COLOURS[len(taken) % len(DEFAULT_COLOURS)]
        )
        form = QFormLayout()
        self.name = QLineEdit(tag.name if tag else "")
        self.name.setPlaceholderText("e.g. beach")
        self.sentences = QPlainTextEdit("\n".join(tag.sentences) if tag else "")
        self.sentences.setPlaceholderText("a photo of a sandy beach\npeople swimming in the sea")
        self.threshold = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=1.0, singleStep=0.05)
        self.threshold.setValue(tag.threshold if tag else 0.5)
        self.colour_button = QPushButton()
        self.colour_button.clicked.connect(self._pick_colour)
        self._show_colour()
        form.addRow("Name:", self.name)
        form.addRow("Sentences\n(one per line):", self.sentences)
        form.addRow("Threshold:", self.threshold)
        form.addRow("Colour:", self.colour_button)
        self.try_button = QPushButton("Try on this photo")
        self.try_button.setEnabled(photo_name is not None)
        self.try_button.setToolTip(photo_name or "Select a photo in the grid first")
        self.try_button.clicked.connect(lambda: self.tryRequested.emit(self.sentence_list()))
        self.try_result = QLabel("")
        self.try_result.setWordWrap(True)
        self.try_result.setObjectName("tryResult")
        self.error = QLabel("")
        self.error.setStyleSheet("color: #c0392b")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        row = QHBoxLayout()
        row.addWidget(self.try_button)
        row.addStretch()
        layout.addLayout(row)
        layout.addWidget(self.try_result)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.resize(460, 420)

    def sentence_list(self) -> tuple[str, ...]:
        lines = (s.strip() for s in self.sentences.toPlainText().splitlines())
        return tuple(dict.fromkeys(s for s in lines if s))

    def tag(self) -> Tag:
        return Tag(
            self.name.text().strip(), self.sentence_list(), self.threshold.value(), self._colour
        )

    def show_try(self, scores) -> None:
        rows = [
            f"<tr><td>{s}</td><td align=right>&nbsp;ITM {v.itm:.3f}</td>"
            f"<td align=right>&nbsp;cos {v.cosine:.3f}</td></tr>"
            for s, v in scores.items()
        ]
        best = max((v.itm for v in scores.values()), default=0.0)
        verdict = "matches" if best >= self.threshold.value() else "does not match"
        self.try_result.setText(f"<table>{''.join(rows)}</table>This photo {verdict} ({best:.3f}).")

    def show_try_busy(self, text: str) -> None:
        self.try_result.setText(text)

    def _pick_colour(self) -> None:
        colour = QColorDialog.getColor(QColor(self._colour), self, "Tag colour")
        if colour.isValid():
            self._colour = colour.name()
            self._show_colour()

    def _show_colour(self) -> None:
        self.colour_button.setText(self._colour)
        self.colour_button.setStyleSheet(f"background: {self._colour}; color: white;")

    def _from_examples(self, tag: Tag) -> bool:
        """A tag from examples alone (issue 13) keeps having no sentence, under its own name."""
        old = self.original
        return old is not None and not old.sentences and tag.name == old.name

    def _accept(self) -> None:
        tag = self.tag()
        if not tag.name:
            self.error.setText("A tag needs a name.")
        elif tag.name in self._taken:
            self.error.setText(f"There is already a tag called “{tag.name}”.")
        elif not tag.sentences and not self._from_examples(tag):
            self.error.setText("Write at least one sentence that describes the tag.")
        else:
            self.accept()
