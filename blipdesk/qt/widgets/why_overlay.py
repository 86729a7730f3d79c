""" "Why?" over a photo, for the detail panel and the viewer alike: one painter (``paint_heat``)
and one set of controls (``WhyControls``: the toggle, "all words" or one word of the sentence,
the opacity, and in the viewer the sentence). The map itself is computed by the inference worker
(``ExplainJob``); the controls only ask for it (``requested``) and keep the answer they asked for."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QImage, QPainter, QPixmap
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSlider, QWidget

from blipdesk.qt.common.score_text import match_text

if TYPE_CHECKING:
    from blipdesk.qt.widgets.viewer import PhotoViewer
    from blipdesk.qt.workers.inference import Explained

ALL_WORDS = "All words"


def heat_image(cam: np.ndarray) -> QImage:
    """The map (grid x grid, >= 0) in the blue-to-red scale of ``blipdesk explain``, one pixel a
    cell, scaled so that its largest cell is red."""
    from blipdesk.core.explain import colour_scale

    top = float(cam.max())
    rgb = np.ascontiguousarray(colour_scale(cam / top if top > 0 else cam * 0.0))
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def paint_heat(painter: QPainter, target: QRectF, cam: np.ndarray, opacity: float) -> None:
    """Paint ``cam`` stretched over all of ``target`` (where the photo is drawn: the model saw the
    photo squashed to a square, so the grid is stretched back to the photo's aspect), smooth.
    The painter scales the grid-sized image itself: a zoomed photo's rectangle may be far larger
    than the screen, and only its visible part is painted."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    painter.setOpacity(opacity)
    painter.drawImage(QRectF(target), heat_image(cam))
    painter.restore()


def heat_overlay(pixmap: QPixmap, cam: np.ndarray, opacity: float) -> QPixmap:
    """A copy of ``pixmap`` with the map painted over all of it."""
    out = QPixmap(pixmap)
    painter = QPainter(out)
    paint_heat(painter, QRectF(out.rect()), cam, opacity)
    painter.end()
    return out


class WhyControls(QWidget):
    """Why? [sentence] [word] [opacity], and ``label`` (placed by the host) that says what is
    shown. The host tells it the photo (``set_photo``) and the sentence (``set_sentence``, or the
    sentence combo when ``with_sentences``), forwards the worker's answers to ``accept`` and paints
    ``cam()`` with ``paint_heat`` when ``changed`` fires."""

    requested = Signal(str, str)  # photo path, sentence: compute this map (in the worker)
    changed = Signal()  # what to paint changed: map, word, opacity or toggle

    def __init__(
        self, with_sentences: bool = False, keep_on: bool = False, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.keep_on = keep_on
        self.path: str | None = None
        self.explanation: Explained | None = None  # the map shown, for the photo shown
        self._sentence: str | None = None
        self._pending: tuple[str, str] | None = None
        self.why = QPushButton("Why?")
        self.why.setObjectName("whyButton")
        self.why.setToolTip("Show where in the photo the sentence was matched")
        self.why.setCheckable(True)
        self.why.setEnabled(False)
        self.why.toggled.connect(self._toggled)
        self.sentence: QComboBox | None = None
        if with_sentences:
            self.sentence = QComboBox()
            self.sentence.setObjectName("whySentence")
            self.sentence.setToolTip("The sentence to explain")
            self.sentence.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            self.sentence.currentTextChanged.connect(lambda s: self.set_sentence(s or None))
        self.word = QComboBox()
        self.word.setObjectName("whyWord")
        self.word.setToolTip("The map of the whole sentence, or of one of its words")
        self.word.addItem(ALL_WORDS)
        self.word.setEnabled(False)
        self.word.currentIndexChanged.connect(self._word_chosen)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setObjectName("whyOpacity")
        self.opacity.setRange(10, 90)
        self.opacity.setValue(55)
        self.opacity.setToolTip("Opacity of the map")
        self.opacity.valueChanged.connect(lambda _: self.changed.emit())
        self.label = QLabel("")
        self.label.setObjectName("whyLabel")
        self.label.setWordWrap(True)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.why)
        if self.sentence is not None:
            row.addWidget(self.sentence, 2)
        row.addWidget(self.word)
        row.addWidget(self.opacity, 1)

    # ----------------------------------------------------------------- the host's side

    def set_photo(self, path: str | None) -> None:
        """Another photo (or none): the map shown is forgotten; the toggle goes off, or with
        ``keep_on`` (the viewer, stepping through photos) stays on and asks for the new map."""
        if path == self.path:
            return
        self.path = path
        keep = self.keep_on and self.why.isChecked() and path is not None
        self._forget(keep)
        if keep and self._sentence is not None:
            self._request()

    def set_sentences(self, sentences: list[str]) -> None:
        """The sentences the combo offers (viewer): every sentence of every tag."""
        assert self.sentence is not None
        keep = self.sentence.currentText()
        self.sentence.blockSignals(True)
        self.sentence.clear()
        self.sentence.addItems(sentences)
        if keep in sentences:
            self.sentence.setCurrentText(keep)
        self.sentence.blockSignals(False)
        self.set_sentence(self.sentence.currentText() or None)

    def set_sentence(self, sentence: str | None) -> None:
        """The sentence to explain (None: none chosen; Why? is then disabled)."""
        self._sentence = sentence
        self.why.setEnabled(sentence is not None and self.path is not None)
        if self.why.isChecked() and sentence is not None:
            self._request()

    def accept(self, explained: Explained) -> bool:
        """The worker's answer: kept when it is the one asked for, for the photo shown."""
        if self._pending != (explained.path, explained.sentence) or explained.path != self.path:
            return False
        self._pending = None
        self.explanation = explained
        current = self.word.currentText()
        self.word.blockSignals(True)
        self.word.clear()
        self.word.addItem(ALL_WORDS)
        self.word.addItems([w for w, _ in explained.words])
        if current in [w for w, _ in explained.words]:
            self.word.setCurrentText(current)
        self.word.blockSignals(False)
        self.word.setEnabled(bool(explained.words))
        self._say()
        self.changed.emit()
        return True

    def cam(self) -> np.ndarray | None:
        """The map to paint now: None when Why? is off or not computed yet."""
        shown = self.explanation
        if shown is None or not self.why.isChecked():
            return None
        index = self.word.currentIndex()
        if 1 <= index <= len(shown.words):
            return shown.words[index - 1][1]
        return shown.cam

    def paint(self, painter: QPainter, target: QRectF) -> None:
        """Paint the map over ``target`` (where the photo is drawn), if there is one to paint."""
        cam = self.cam()
        if cam is not None:
            paint_heat(painter, target, cam, self.opacity.value() / 100)

    # ----------------------------------------------------------------- inside

    def _word_chosen(self, _index: int) -> None:
        self._say()
        self.changed.emit()

    def _toggled(self, on: bool) -> None:
        if on and self._sentence is not None and self.path is not None:
            self._request()
        self.changed.emit()

    def _request(self) -> None:
        assert self.path is not None and self._sentence is not None
        shown = self.explanation
        if shown is not None and (shown.path, shown.sentence) == (self.path, self._sentence):
            self._say()
            self.changed.emit()
            return
        if self._pending == (self.path, self._sentence):
            return  # asked already
        self._pending = (self.path, self._sentence)
        self.label.setText(f"Finding where “{_html(self._sentence)}” matched…")
        self.requested.emit(self.path, self._sentence)

    def _say(self) -> None:
        shown = self.explanation
        if shown is None:
            return
        how = "from the vision cache" if shown.from_cache else "with a vision pass"
        what = f"“{_html(shown.sentence)}”"
        if self.word.currentIndex() > 0:
            what = f"the word “{_html(self.word.currentText())}” of {what}"
        self.label.setText(
            f"Where {what} matched ({match_text(shown.itm)}; red: most; computed {how})"
        )

    def _forget(self, keep_on: bool = False) -> None:
        self.explanation = None
        self._pending = None
        self.label.setText("")
        self.word.blockSignals(True)
        self.word.clear()
        self.word.addItem(ALL_WORDS)
        self.word.blockSignals(False)
        self.word.setEnabled(False)
        if self.why.isChecked() and not keep_on:
            self.why.setChecked(False)
        self.why.setEnabled(self._sentence is not None and self.path is not None)
        self.changed.emit()


class WhyStrip(QWidget):
    """The viewer's "Why?": a strip along its top (``WhyControls`` with the sentence combo, every
    sentence of every tag, and its label beside them, light on the viewer's dark ground) and the
    map painted as one of the viewer's ``overlays``, so it lies on the photo whatever the zoom.
    It follows the viewer's photo (``viewChanged``); its controls take no keyboard focus, so the
    arrows still step through the photos. The viewer itself only makes room for it."""

    whyRequested = Signal(str, str)  # photo path, sentence

    def __init__(self, viewer: PhotoViewer) -> None:
        super().__init__(viewer)
        self.setObjectName("whyStrip")
        self.viewer = viewer
        self.controls = WhyControls(with_sentences=True, keep_on=True)
        self.controls.setMaximumWidth(640)
        for w in self.controls.findChildren(QWidget):
            w.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        label = self.controls.label
        label.setStyleSheet("color: #dddddd")
        row = QHBoxLayout(self)
        row.setContentsMargins(12, 4, 12, 4)
        row.addWidget(self.controls, 3)
        row.addWidget(label, 2)
        self.setFixedHeight(40)
        self.controls.requested.connect(self.whyRequested)
        self.controls.changed.connect(viewer.update)
        viewer.set_top_bar(self)
        viewer.overlays.append(self.controls.paint)
        viewer.viewChanged.connect(self.follow)

    def follow(self) -> None:
        """The viewer's photo and tags: a new photo forgets the map (or, Why? on, asks anew)."""
        photo = self.viewer.photo
        self.controls.set_photo(None if photo is None else photo.path)
        sentences = list(dict.fromkeys(s for tag in self.viewer.tags for s in tag.sentences))
        combo = self.controls.sentence
        assert combo is not None
        if sentences != [combo.itemText(i) for i in range(combo.count())]:
            self.controls.set_sentences(sentences)

    def show_explanation(self, explained: Explained) -> None:
        """The worker's answer (``inference.Explained``), shown if it is the one asked for."""
        self.controls.accept(explained)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
