"""The tag editor: name, sentences (one per line), threshold, colour, and "Try on this photo".

"Try" sends a ``TryJob`` to the inference worker (the model loads there, never here) and shows
each sentence's match and similarity for the photo it names when the answer arrives; a busy bar
and the worker's status ("Loading the model…") show while it waits.
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
    QProgressBar,
    QPushButton,
    QVBoxLayout,
)

from blipdesk.domain import new_tag_colour, tag_sentences
from blipdesk.qt.common.score_text import MATCH_HELP, SIMILARITY_HELP, match_text, similarity_text
from blipdesk.qt.common.values import Tag, tag_colour


class TagEditorDialog(QDialog):
    tryRequested = Signal(tuple)  # sentences

    def __init__(self, tag: Tag | None, taken: set[str], photo_name: str | None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Edit tag" if tag else "New tag")
        self.setObjectName("tagEditor")
        self._taken = taken - ({tag.name} if tag else set())
        self.original = tag
        self._tags_before = len(taken)
        # A new tag's colour follows its words ("blue square": blue) until one is picked.
        self._picked = tag is not None
        self._colour = tag_colour(tag) if tag else new_tag_colour("", (), len(taken))
        form = QFormLayout()
        self.name = QLineEdit(tag.name if tag else "")
        self.name.setPlaceholderText("e.g. beach")
        self.sentences = QPlainTextEdit("\n".join(tag.sentences) if tag else "")
        self.sentences.setPlaceholderText(
            "a photo of a sandy beach\npeople swimming in the sea\n(none: the name is the sentence)"
        )
        for edit in (self.name, self.sentences):
            edit.textChanged.connect(self._follow_words)
        self.threshold = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=1.0, singleStep=0.05)
        self.threshold.setValue(tag.threshold if tag else 0.5)
        self.colour_button = QPushButton()
        self.colour_button.clicked.connect(self._pick_colour)
        self._show_colour()
        form.addRow("Name:", self.name)
        form.addRow("Sentences\n(one per line):", self.sentences)
        form.addRow("Threshold:", self.threshold)
        form.addRow("Colour:", self.colour_button)
        # Which photo "Try" scores: the grid's current one, by name.
        self.try_button = QPushButton(
            f"Try on “{_elide(photo_name)}”" if photo_name else "Try on a photo"
        )
        self.try_button.setObjectName("tryButton")
        self.try_button.setEnabled(photo_name is not None)
        self.try_button.setToolTip(
            f"Score these sentences on {photo_name} (the photo selected in the grid)"
            if photo_name
            else "Select a photo in the grid first"
        )
        self.try_button.clicked.connect(lambda: self.tryRequested.emit(self.sentence_list()))
        self.try_result = QLabel("")
        self.try_result.setWordWrap(True)
        self.try_result.setObjectName("tryResult")
        self.try_result.setToolTip(f"{MATCH_HELP}\n\n{SIMILARITY_HELP}")
        self.try_busy = QProgressBar()
        self.try_busy.setObjectName("tryBusy")
        self.try_busy.setRange(0, 0)  # busy: the model may take a while to load the first time
        self.try_busy.setMaximumHeight(10)
        self.try_busy.setTextVisible(False)
        self.try_busy.setVisible(False)
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
        layout.addWidget(self.try_busy)
        layout.addWidget(self.try_result)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.resize(460, 420)

    def sentence_list(self) -> tuple[str, ...]:
        lines = (s.strip() for s in self.sentences.toPlainText().splitlines())
        return tuple(dict.fromkeys(s for s in lines if s))

    def tag(self) -> Tag:
        """The tag as written; with no sentence, its name is its sentence (``tag_sentences``, as
        ``blipdesk tags add`` does), except for a tag from examples alone."""
        name = self.name.text().strip()
        sentences = tag_sentences(name, self.sentence_list(), self._from_examples(name))
        return Tag(name, sentences, self.threshold.value(), self._colour)

    def show_try(self, scores) -> None:
        self.try_busy.setVisible(False)
        rows = [
            f"<tr><td>{_html(s)}</td><td align=right>&nbsp;{match_text(v.itm)}</td>"
            f"<td align=right>&nbsp;{similarity_text(v.cosine)}</td></tr>"
            for s, v in scores.items()
        ]
        best = max((v.itm for v in scores.values()), default=0.0)
        verdict = "matches" if best >= self.threshold.value() else "does not match"
        self.try_result.setText(
            f"<table>{''.join(rows)}</table>This photo {verdict} the tag "
            f"(best {match_text(best)}, threshold {self.threshold.value() * 100:.0f}%)."
        )

    def show_try_busy(self, text: str) -> None:
        """Waiting for the worker: a busy bar and what it is doing ("Loading the model…")."""
        self.try_busy.setVisible(True)
        self.try_result.setText(text)

    def show_try_status(self, text: str) -> None:
        if self.try_busy.isVisible():
            self.try_result.setText(text)

    def show_try_failed(self, text: str) -> None:
        if self.try_busy.isVisible():
            self.try_busy.setVisible(False)
            self.try_result.setText(text)

    def _pick_colour(self) -> None:
        colour = QColorDialog.getColor(QColor(self._colour), self, "Tag colour")
        if colour.isValid():
            self._colour, self._picked = colour.name(), True
            self._show_colour()

    def _follow_words(self) -> None:
        if not self._picked:
            name, sentences = self.name.text(), self.sentence_list()
            self._colour = new_tag_colour(name, sentences, self._tags_before)
            self._show_colour()

    def _show_colour(self) -> None:
        self.colour_button.setText(self._colour)
        self.colour_button.setStyleSheet(f"background: {self._colour}; color: white;")

    def _from_examples(self, name: str) -> bool:
        """A tag from examples alone (issue 13) keeps having no sentence, under its own name."""
        old = self.original
        return old is not None and not old.sentences and name == old.name

    def _accept(self) -> None:
        tag = self.tag()
        if not tag.name:
            self.error.setText("A tag needs a name.")
        elif tag.name in self._taken:
            self.error.setText(f"There is already a tag called “{tag.name}”.")
        else:
            self.accept()


def _elide(name: str, keep: int = 28) -> str:
    return name if len(name) <= keep else name[: keep // 2 - 1] + "…" + name[-(keep // 2) :]


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
