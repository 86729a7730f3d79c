"""The status bar's scan progress: done/total, photos/s, time left, with pause/resume and cancel."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget


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
    cancelRequested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel("")
        self.label.setObjectName("scanLabel")
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(200)
        self.bar.setTextVisible(False)
        self.pause = QPushButton("Pause")
        self.pause.setCheckable(True)
        self.pause.toggled.connect(self._toggled)
        self.cancel = QPushButton("Cancel")
        self.cancel.clicked.connect(self.cancelRequested)
        for w in (self.label, self.bar, self.pause, self.cancel):
            layout.addWidget(w)
        self.set_running(False)

    def set_running(self, running: bool) -> None:
        for w in (self.bar, self.pause, self.cancel):
            w.setVisible(running)
        if running:
            self.bar.setRange(0, 0)
            self.pause.setChecked(False)

    def show_started(self, checking: str | None = None) -> None:
        self.set_running(True)
        self.label.setText(
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
            text += f"; {waiting} not scanned yet — press Scan" if waiting else ""
        elif outcome == "done" and summary is not None:
            text = f"Scan finished: {summary.tally()}"
        else:
            text = f"Scan {outcome}."
        self.label.setText(text)

    def show_progress(self, progress) -> None:
        self.bar.setRange(0, max(1, progress.total))
        self.bar.setValue(progress.done)
        paused = " · paused" if self.pause.isChecked() else ""
        self.label.setText(
            f"{progress_text(progress)} · {progress.photos_per_second:.1f} photos/s · "
            f"{format_eta(progress.eta_seconds)}{paused}"
        )

    def _toggled(self, paused: bool) -> None:
        self.pause.setText("Resume" if paused else "Pause")
        self.pauseToggled.emit(paused)
