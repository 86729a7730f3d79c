"""Progress on stderr for long commands (``scan``, ``search``; any command module can use it).

On a terminal: a tqdm bar once photos are being scored (plain lines before it, at the same
pace as below, while the photos are read and the model loads). Otherwise (a log file, a pipe, cron): plain lines at a steady pace,
one every ``interval`` seconds (10 by default) even while nothing moves (the model loading, a
slow batch), one when the first photo is done and one when the last is:

    scan: 0/2000 photos to score, 0 unreadable, 12 s
    scan: 160/2000 photos to score, 16.0 photos/s, ETA 00:01:55, 1 unreadable, 22 s

Never imports torch or Qt.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from blipdesk.core.engine import ScanProgress

DEFAULT_INTERVAL = 10.0  # seconds between two lines when stderr is not a terminal


class ProgressPrinter:
    """Call it with each ``ScanProgress``; ``note`` says what happens before the first one.
    Use it as a context manager (``with ProgressPrinter("scan") as progress:``): the steady
    lines come from a timer thread that ends with the block."""

    def __init__(
        self,
        what: str,
        interval: float = DEFAULT_INTERVAL,
        stream: IO[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        tty: bool | None = None,
    ) -> None:
        self.what = what
        self.interval = interval
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.tty = bool(self.stream is not None and self.stream.isatty()) if tty is None else tty
        self.bar: Any = None
        self.started = clock()
        self.last_line: float | None = None  # when the last plain line was printed
        self.latest: ScanProgress | None = None
        self.phase = "starting"
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    # ------------------------------------------------------------------ reports

    def note(self, phase: str) -> None:
        """What the command does while no photo is done yet ("loading the model")."""
        with self.lock:
            self.phase = phase

    def __call__(self, p: ScanProgress) -> None:
        with self.lock:
            first, self.latest = self.latest is None, p
            if self.tty:
                self._update_bar(p)
                return
            now = self.clock()
            finished = p.done >= p.total
            due = self.last_line is None or now - self.last_line >= self.interval
            if first or finished or due:
                self._print_line(now)

    def tick(self) -> None:
        """Print the current state if no line came for ``interval`` seconds (the timer calls it)."""
        with self.lock:
            if self.tty and self.bar is not None:  # the bar shows its own time
                return
            now = self.clock()
            since = self.started if self.last_line is None else self.last_line
            if now - since >= self.interval:
                self._print_line(now)

    def line(self) -> str:
        """The plain line for the current state."""
        elapsed = f"{self.clock() - self.started:.0f} s"
        p = self.latest
        if p is None:
            return f"{self.what}: {self.phase}, {elapsed}"
        parts = [f"{self.what}: {p.done}/{p.total} photos to score"]
        if p.photos_per_second > 0:
            parts.append(f"{p.photos_per_second:.1f} photos/s")
        if p.eta_seconds is not None and p.done < p.total:
            parts.append("ETA " + time.strftime("%H:%M:%S", time.gmtime(p.eta_seconds)))
        parts += [f"{p.errors} unreadable", elapsed]
        return ", ".join(parts)

    def _print_line(self, now: float) -> None:
        self.last_line = now
        print(self.line(), file=self.stream, flush=True)

    def _update_bar(self, p: ScanProgress) -> None:
        if self.bar is None or self.bar.total != p.total:  # search runs two phases
            from tqdm import tqdm

            self._close_bar()
            self.bar = tqdm(total=p.total, unit="photo", desc=self.what, file=self.stream)
        self.bar.update(p.done - self.bar.n)
        self.bar.set_postfix(unreadable=p.errors, refresh=False)

    # ------------------------------------------------------------------ lifetime

    def __enter__(self) -> ProgressPrinter:
        if self.interval > 0:
            self.thread = threading.Thread(target=self._run, name="progress", daemon=True)
            self.thread.start()
        return self

    def _run(self) -> None:
        while not self.stop.wait(min(1.0, self.interval)):
            self.tick()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join()
            self.thread = None
        with self.lock:
            self._close_bar()

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
