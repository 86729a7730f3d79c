"""Review borderline (issue 13): the photos nearest a tag's boundary, one at a time, answered with
the keyboard (Y yes, N no, S skip; Esc closes). The fit updates after every answer (numpy, a few
milliseconds: ``core.calibration``), so the next photo is the one whose label teaches the most
now; one photo in ``cal.RANDOM_EVERY`` is drawn at random instead, and the dialog says so. Labels
are written through the window's label actions (a background task), never here."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout

from blipdesk.core import calibration as cal
from blipdesk.qt.common.label_marks import NO, YES
from blipdesk.qt.common.score_text import match_text
from blipdesk.services.teach_jobs import TeachData

STEP_WORDS = {
    "today": "today's threshold",
    "threshold": "a moved threshold",
    "logistic": "a logistic fit",
    "linear": "a logistic fit + the image term",
    "examples": "a fit on your examples",
}


class ReviewDialog(QDialog):
    def __init__(
        self,
        teach: TeachData,
        pixmap: Callable[[str], QPixmap | None],
        request: Callable[[str], None],
        write: Callable[[str, list[str], bool], None],
        parent=None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("reviewDialog")
        self.tag = teach.tag
        self.setWindowTitle(f"Review “{self.tag.name}”")
        self.data: cal.TagData = teach.data  # type: ignore[assignment]
        self.paths = teach.paths
        self.pixmap, self.request, self.write = pixmap, request, write
        self.labels: dict[str, bool] = dict(self.data.labels)
        self.skipped: set[str] = set()
        self.fit: cal.Fit | None = None
        self.calibration = teach.current
        self.content: str | None = None
        self.answered = 0
        layout = QVBoxLayout(self)
        self.question = QLabel()
        self.question.setObjectName("reviewQuestion")
        font = self.question.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        self.question.setFont(font)
        layout.addWidget(self.question)
        self.preview = QLabel("Loading…")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(480, 360)
        self.preview.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        layout.addWidget(self.preview, 1)
        self.facts = QLabel()
        self.facts.setObjectName("reviewFacts")
        self.facts.setWordWrap(True)
        layout.addWidget(self.facts)
        self.chance = QLabel(
            f"Picked at random (one photo in {cal.RANDOM_EVERY}): your answer tells the fit and "
            "the estimate about the whole library, not only the photos near the boundary."
        )
        self.chance.setObjectName("reviewChance")
        self.chance.setWordWrap(True)
        self.chance.setStyleSheet("font-style: italic;")
        self.chance.setVisible(False)
        layout.addWidget(self.chance)
        row = QHBoxLayout()
        self.yes = QPushButton(f"{YES}  Yes  (Y)")
        self.no = QPushButton(f"{NO}  No  (N)")
        self.skip = QPushButton("Skip  (S)")
        close = QPushButton("Done  (Esc)")
        for button in (self.yes, self.no, self.skip):
            row.addWidget(button)
        row.addStretch(1)
        row.addWidget(close)
        layout.addLayout(row)
        self.yes.clicked.connect(lambda: self.answer(True))
        self.no.clicked.connect(lambda: self.answer(False))
        self.skip.clicked.connect(lambda: self.answer(None))
        close.clicked.connect(self.accept)
        for key, value in (("Y", True), ("N", False), ("S", None)):
            QShortcut(QKeySequence(key), self, lambda v=value: self.answer(v))
        self.resize(620, 560)
        self._refit()
        self.next()

    def _refit(self) -> None:
        self.data = dataclasses.replace(self.data, labels=self.labels)  # keeps every field
        yes = sum(self.labels.values())
        if yes and len(self.labels) - yes:
            self.fit = cal.fit_tag(self.data, self.tag)
            self.calibration = self.fit.calibration

    def next(self) -> None:
        turn = len(self.labels) + len(self.skipped)
        queue = cal.borderline(
            self.data, self.calibration, self.tag.threshold, 1, turn, skipped=self.skipped
        )
        self.content = queue[0] if queue else None
        self.chance.setVisible(self.content is not None and cal.random_turn(turn))
        yes = sum(self.labels.values())
        fit = self.fit
        learned = (
            ""
            if fit is None
            else f" · so far {STEP_WORDS.get(fit.step, fit.step)}, agreeing with "
            f"{fit.loo.loo_agreement:.0%} of your labels held out one at a time"
        )
        self.facts.setText(f"{yes} yes, {len(self.labels) - yes} no{learned}")
        if self.content is None:
            self.question.setText(f"No more photos to review for “{self.tag.name}”.")
            self.preview.setPixmap(QPixmap())
            self.preview.setText("All reviewed")
            for button in (self.yes, self.no, self.skip):
                button.setEnabled(False)
            return
        path = self.paths[self.content][0]
        i = self.data.contents.index(self.content)
        score = (
            ""
            if np.isnan(self.data.x[i])
            else f" ({match_text(1 / (1 + np.exp(-self.data.x[i])))})"
        )
        name = path.rsplit("/", 1)[-1]
        self.question.setText(f"Is this “{self.tag.name}”?   {name}{score}")
        self.request(path)
        self.show_preview(path)

    def show_preview(self, path: str) -> None:
        if self.content is None or path != self.paths[self.content][0]:
            return
        pixmap = self.pixmap(path)
        if pixmap is None:
            self.preview.setText("Loading…")
            return
        self.preview.setPixmap(
            pixmap.scaled(
                self.preview.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )

    def answer(self, value: bool | None) -> None:
        if self.content is None:
            return
        if value is None:
            self.skipped.add(self.content)
        else:
            self.labels[self.content] = value
            self.write(self.tag.name, list(self.paths[self.content]), value)
            self.answered += 1
            self._refit()
        self.next()
