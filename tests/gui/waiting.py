"""Waiting on what happened, not on the clock: the GUI tests' helpers for "the window is up to
date" and "the worker is holding a paused job". A fixed ``qtbot.wait(N)`` passes on a fast
machine and fails on a loaded one, and a negative check after one passes even when the job it
watches never started."""

from __future__ import annotations

import threading

from PySide6.QtWidgets import QApplication


def flush() -> None:
    """Deliver the events already posted (layout requests, deferred resizes, queued signals):
    what the next paint or measurement sees is the settled layout."""
    QApplication.sendPostedEvents()
    QApplication.processEvents()


def settle(qtbot, window, timeout: int = 5000) -> None:
    """The window's coalescing timers have fired: the recount after score batches and the grid
    model's repaint and re-filter (each a single-shot timer restarted by every change)."""
    flush()
    timers = (window._recount, window.photos._repaint, window.photos._relayout)
    qtbot.waitUntil(lambda: not any(t.isActive() for t in timers), timeout=timeout)


def viewer_settled(viewer) -> bool:
    """The viewer draws its photo from pixels decoded at its present size (no refit pending)."""
    flush()
    if viewer._refit.isActive() or viewer.photo is None:
        return False
    return viewer.images.cached(viewer.photo.path, viewer.device_size()) is not None


class PauseProbe(threading.Event):
    """A scan job's ``pause`` flag that notes when the worker, not the GUI, found it set: the
    engine checks it before each batch, so a note means the job started and is holding before
    its first (or next) batch."""

    def __init__(self) -> None:
        super().__init__()
        self.held = 0  # checks from the worker's thread that found the flag set

    def is_set(self) -> bool:
        found = super().is_set()
        if found and threading.current_thread() is not threading.main_thread():
            self.held += 1
        return found
