"""Watching the library's folders: what changed on disk, coalesced, reported on the GUI thread.

The watcher is ``watchdog`` (inotify on Linux, FSEvents on macOS, ReadDirectoryChangesW on
Windows), chosen over ``QFileSystemWatcher`` because:

* one recursive watch per library folder, where Qt needs a watch per subfolder (and on macOS a
  kqueue file descriptor per watched folder: a library of a few hundred folders runs out of them);
* it reports files modified in place (inotify's close-write), which Qt's directory watches miss;
* its events arrive on its own thread, so a burst of 2,000 files costs the GUI thread nothing but
  a set insertion per event under a lock; the GUI thread looks at that set on a timer.

Coalescing: a change marks its library folder as dirty. ``changed`` fires at most every
``max_wait_ms`` while changes keep coming (the grid shows new photos within seconds during a long
copy), and at the latest ``quiet_ms`` after the last one. ``settled`` fires once the folders have
been quiet for ``settle_ms``: the moment to scan, once, for a whole burst.

Fallback, for file systems that report nothing (network shares, some FUSE mounts) and for when
watchdog is missing or cannot start (inotify limits): every ``poll_s`` seconds a cheap rescan in
a background thread compares each folder's directory modification times (one ``stat`` per
folder, no file reads; it notices files added, removed and renamed, not edits in place).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from blipdesk.core.files import is_hidden, is_photo, walk

log = logging.getLogger(__name__)


def folder_signature(root: str) -> tuple[tuple[str, int], ...]:
    """Each folder under ``root`` (as ``files.walk`` visits them) with its modification time:
    changes when a file is added, removed or renamed in it."""
    out = []
    for folder, _names in walk(root):
        try:
            out.append((folder, os.stat(folder).st_mtime_ns))
        except OSError:
            out.append((folder, -1))
    return tuple(out)


def _relevant(path: str, is_directory: bool) -> bool:
    """A photo, or a folder (a folder moved in or out carries photos); hidden names never."""
    name = os.path.basename(path.rstrip(os.sep))
    if not name:
        return False
    parts = path.split(os.sep)
    if any(is_hidden(p) for p in parts if p):
        return False
    return is_directory or is_photo(name)


class FolderWatcher(QObject):
    """Watches ``roots`` (set with ``set_roots``) from the GUI thread's point of view."""

    changed = Signal(list)  # library folders in which photos appeared, changed or went away
    settled = Signal(list)  # the same, once quiet for ``settle_ms``: scan now
    polled = Signal()  # a fallback rescan ran (tests wait on it)

    def __init__(
        self,
        quiet_ms: int = 400,
        max_wait_ms: int = 2000,
        settle_ms: int = 1500,
        poll_s: float = 30.0,
        use_watchdog: bool = True,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.quiet_ms, self.max_wait_ms, self.settle_ms = quiet_ms, max_wait_ms, settle_ms
        self.poll_s = poll_s
        self._lock = threading.Lock()
        self._dirty: set[str] = set()  # roots with unreported changes (watchdog thread adds)
        self._first = self._last = 0.0  # monotonic times of the first and last unreported event
        self._unsettled: set[str] = set()
        self._last_any = 0.0
        self._roots: tuple[str, ...] = ()
        self._observer: Any = None  # a watchdog Observer while watching
        self.watching = False  # watchdog is running (else only the periodic rescan)
        self._use_watchdog = use_watchdog
        self._signatures: dict[str, tuple[tuple[str, int], ...]] = {}
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self._polled_flag = False
        self.tick = QTimer(self, interval=100)
        self.tick.timeout.connect(self._check)
        self.tick.start()

    # ----------------------------------------------------------------- GUI-thread API

    def set_roots(self, roots: Iterable[str]) -> None:
        roots = tuple(dict.fromkeys(os.path.abspath(r) for r in roots))
        if roots == self._roots:
            return
        self._roots = roots
        self._restart()

    def roots(self) -> tuple[str, ...]:
        return self._roots

    def shutdown(self) -> None:
        self.tick.stop()
        self._stop.set()
        self._stop_observer()
        if self._poller is not None:
            self._poller.join(timeout=5)
            self._poller = None

    # ----------------------------------------------------------------- any thread

    def note(self, path: str, is_directory: bool = False) -> None:
        """Something happened at ``path`` (watchdog's thread, the poller, or a test)."""
        if not _relevant(path, is_directory):
            return
        root = self._root_of(path)
        if root is None:
            return
        now = time.monotonic()
        with self._lock:
            if not self._dirty:
                self._first = now
            self._dirty.add(root)
            self._last = now

    def _root_of(self, path: str) -> str | None:
        for root in self._roots:
            if path == root or path.startswith(root.rstrip(os.sep) + os.sep):
                return root
        return None

    # ----------------------------------------------------------------- internals

    def _restart(self) -> None:
        self._stop_observer()
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=5)
        self._stop = threading.Event()
        self._signatures = {}
        self.watching = self._start_observer() if self._use_watchdog else False
        if self._roots and self.poll_s > 0:
            self._poller = threading.Thread(
                target=self._poll_loop, args=(self._roots, self._stop), name="folder-poll",
                daemon=True,
            )  # fmt: skip
            self._poller.start()

    def _start_observer(self) -> bool:
        if not self._roots:
            return False
        try:
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers import Observer
        except ImportError:
            log.info("watchdog is not installed: folders are rescanned every %s s", self.poll_s)
            return False
        watcher = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event) -> None:
                if event.event_type in ("opened", "closed_no_write"):
                    return  # reads (our own thumbnails and scans among them) change nothing
                for where in (event.src_path, getattr(event, "dest_path", "")):
                    if where:
                        watcher.note(os.fsdecode(where), event.is_directory)

        observer = Observer()
        observer.daemon = True
        try:
            for root in self._roots:
                if os.path.isdir(root):
                    observer.schedule(Handler(), root, recursive=True)
            observer.start()
        except (OSError, RuntimeError) as exc:  # inotify watch limit, a folder gone meanwhile
            log.warning("cannot watch the library folders (%s); rescanning every %s s", exc,
                        self.poll_s)  # fmt: skip
            with contextlib.suppress(RuntimeError):
                observer.stop()
            return False
        self._observer = observer
        return True

    def _stop_observer(self) -> None:
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join(timeout=5)

    def _poll_loop(self, roots: tuple[str, ...], stop: threading.Event) -> None:
        signatures = {root: folder_signature(root) for root in roots}
        while not stop.wait(self.poll_s):
            for root in roots:
                now = folder_signature(root)
                if now != signatures[root]:
                    signatures[root] = now
                    self.note(root, True)
            with self._lock:
                self._polled_flag = True

    def _check(self) -> None:
        """On the GUI thread, every 100 ms: report what the other threads noted, coalesced."""
        now = time.monotonic()
        with self._lock:
            polled, self._polled_flag = self._polled_flag, False
            ready = bool(self._dirty) and (
                now - self._last >= self.quiet_ms / 1000
                or now - self._first >= self.max_wait_ms / 1000
            )
            dirty = sorted(self._dirty) if ready else []
            if ready:
                self._dirty.clear()
        if dirty:
            self._unsettled.update(dirty)
            self._last_any = now
            self.changed.emit(dirty)
        elif self._unsettled and not self._dirty and now - self._last_any >= self.settle_ms / 1000:
            with self._lock:
                quiet = not self._dirty and now - self._last >= self.settle_ms / 1000
            if quiet:
                settled, self._unsettled = sorted(self._unsettled), set()
                self.settled.emit(settled)
        if polled:
            self.polled.emit()
