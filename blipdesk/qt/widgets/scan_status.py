"""The status bar's scan progress: done/total, photos/s, time left, with pause/resume and cancel.

Everything has a fixed place: the text has a fixed width (elided, the whole of it in the
tooltip), the bar and the buttons fixed widths, so nothing jumps sideways as the text changes.
A scan's text names its folder when another folder is shown; a finished scan's result goes away
when another folder is shown.
"""

from __future__ import annotations

import os

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from blipdesk.qt.common.values import PRESS_SCAN

TEXT_WIDTH = 420
MESSAGE_ROOM = 160  # what a finished scan's summary leaves the status bar's messages


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "estimating…"
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min left"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60} s left"
    return f"{seconds} s left"


def progress_text(progress) -> str:
    """A new tag over scanned photos is checked from the vision cache, best matches first: say
    so ("Checked 2,340 of 10,000"); a scan that runs the vision pass counts photos."""
    done, total = f"{progress.done:,}", f"{progress.total:,}"
    if progress.done and progress.from_cache == progress.done:
        return f"Checked {done} of {total} photos (best matches first)"
    if progress.from_cache:
        return f"{done} / {total} photos ({progress.from_cache:,} from the vision cache)"
    return f"{done} / {total} photos"


class ScanStatus(QWidget):
    pauseToggled = Signal(bool)
    runningChanged = Signal(bool)  # a scan started or ended
    cancelRequested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.running = False
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel("")
        self.label.setObjectName("scanLabel")
        self.label.setFixedWidth(TEXT_WIDTH)
        self.label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.bar = QProgressBar()
        self.bar.setFixedWidth(160)
        self.bar.setTextVisible(False)
        self.pause = QPushButton("Pause")
        self.pause.setCheckable(True)
        self.pause.toggled.connect(self._toggled)
        self.cancel = QPushButton("Cancel")
        self.cancel.clicked.connect(self.cancelRequested)
        # "Pause" and "Resume" in the same width.
        widest = max(self.pause.fontMetrics().horizontalAdvance(t) for t in ("Pause", "Resume"))
        self.pause.setFixedWidth(max(self.pause.sizeHint().width(), widest + 24))
        self.cancel.setFixedWidth(self.cancel.sizeHint().width())
        for w in (self.label, self.bar, self.pause, self.cancel):
            layout.addWidget(w)
        self.scan_folder: str | None = None  # the folder of the scan running or last finished
        self.shown_folder: str | None = None
        self._text = ""
        self.set_running(False)

    def set_text(self, text: str) -> None:
        """The text, elided to the fixed width; all of it in the tooltip."""
        if self.scan_folder and self.shown_folder != self.scan_folder and text:
            text = f"{os.path.basename(self.scan_folder) or self.scan_folder}: {text}"
        self._text = text
        metrics = self.label.fontMetrics()
        width = self._width_for(text)
        self.label.setFixedWidth(width)
        self.label.setText(metrics.elidedText(text, Qt.TextElideMode.ElideRight, width - 4))
        self.label.setToolTip(text if text != self.label.text() else "")
        # Hidden while there is nothing to say: the status bar's messages get the room.
        self.label.setVisible(bool(text) or self.bar.isVisibleTo(self))

    def _width_for(self, text: str) -> int:
        """A running scan's text keeps a fixed width (nothing jumps as it changes); a finished
        scan's summary takes the room it needs, as far as the status bar has room beside its
        other widgets and a short message."""
        if self.bar.isVisibleTo(self) or not text:
            return TEXT_WIDTH
        need = self.label.fontMetrics().horizontalAdvance(text) + 12
        bar = self.parentWidget()
        if bar is None:
            return max(TEXT_WIDTH, need)
        others = sum(
            w.width()
            for w in bar.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly)
            if w is not self and w.isVisible()
        )
        room = bar.width() - others - MESSAGE_ROOM - (self.width() - self.label.width())
        return max(TEXT_WIDTH, min(need, room))

    def text(self) -> str:
        return self._text

    def folder_shown(self, folder: str | None) -> None:
        """Another folder is shown: a finished scan's result is about the old one (cleared);
        a running scan's text says which folder it scans."""
        self.shown_folder = folder
        if not self.bar.isVisible() and folder != self.scan_folder:
            self.scan_folder = None
            self.set_text("")

    def set_running(self, running: bool) -> None:
        for w in (self.bar, self.pause, self.cancel):
            w.setVisible(running)
        self.label.setVisible(running or bool(self._text))
        if running:
            self.bar.setRange(0, 0)
            self.pause.setChecked(False)
        if running != self.running:
            self.running = running
            self.runningChanged.emit(running)

    def show_started(self, checking: str | None = None, folder: str | None = None) -> None:
        self.scan_folder = folder
        self.set_running(True)
        self.set_text(
            f"Checking “{checking}”, best matches first…" if checking else "Starting scan…"
        )

    def show_finished(
        self, outcome: str, summary, checking: str | None = None, waiting: int = 0
    ) -> None:
        """``summary``: the engine's ScanSummary; ``checking``: the new tag a cache-only scan
        checked, ``waiting``: photos not scanned yet for it."""
        self.set_running(False)
        if outcome == "done" and summary is not None and checking:
            text = f"“{checking}” checked on {summary.scored} scanned photos"
            text += f"; {waiting} not scanned yet — {PRESS_SCAN}" if waiting else ""
        elif outcome == "done" and summary is not None:
            text = f"Scan finished: {summary.tally()}"
        else:
            text = f"Scan {outcome}."
        self.set_text(text)

    def show_progress(self, progress) -> None:
        self.bar.setRange(0, max(1, progress.total))
        self.bar.setValue(progress.done)
        paused = " · paused" if self.pause.isChecked() else ""
        self.set_text(
            f"{progress_text(progress)} · {progress.photos_per_second:.1f} photos/s · "
            f"{format_eta(progress.eta_seconds)}{paused}"
        )

    def _toggled(self, paused: bool) -> None:
        self.pause.setText("Resume" if paused else "Pause")
        self.pauseToggled.emit(paused)
