"""File work the GUI starts and must not wait for: sidecar plans and writes, exports, copies,
clearing caches.

``BackgroundTasks`` runs one plain function at a time in its own ``QThreadPool`` thread (one at a
time: two sidecar writes never race each other) and delivers the return value through a signal
with the request id, so a dialog closed meanwhile simply ignores a late answer. The functions it
runs are Qt-free and live outside ``qt/`` (``blipdesk.services.jobs``, ``blipdesk.services.export``,
``blipdesk.services.copying``): they take frozen snapshots (paths, tag names, settings values).
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from blipdesk.infra.errors import UserError

log = logging.getLogger(__name__)


class _Relay(QObject):
    done = Signal(int, object)  # request id, return value
    failed = Signal(int, str, bool, str)  # request id, message, is a UserError, details
    progress = Signal(int, int, int)  # request id, done, total


class _Task(QRunnable):
    def __init__(self, relay: _Relay, request: int, fn: Callable, args: tuple, kwargs: dict):
        super().__init__()
        self.relay, self.request, self.fn, self.args, self.kwargs = (
            relay,
            request,
            fn,
            args,
            kwargs,
        )

    def run(self) -> None:
        try:
            result = self.fn(*self.args, **self.kwargs)
        except UserError as exc:
            self.relay.failed.emit(self.request, str(exc), True, "")
            return
        except Exception as exc:
            log.exception("background task %s failed", getattr(self.fn, "__name__", self.fn))
            self.relay.failed.emit(
                self.request, f"{type(exc).__name__}: {exc}", False, traceback.format_exc()
            )
            return
        self.relay.done.emit(self.request, result)


class BackgroundTasks(QObject):
    """Runs functions off the GUI thread, in order; answers carry the request id."""

    done = Signal(int, object)
    failed = Signal(int, str, bool, str)
    progress = Signal(int, int, int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._relay = _Relay(self)
        self._relay.done.connect(self.done)
        self._relay.failed.connect(self.failed)
        self._relay.progress.connect(self.progress)
        self._request = 0
        self.cancel = threading.Event()  # set on shutdown; long tasks check it between files

    def start(self, fn: Callable, *args, with_progress: bool = False, **kwargs) -> int:
        """Run ``fn(*args, **kwargs)``; with ``with_progress`` it also gets ``progress(done,
        total)`` and ``cancel`` keyword arguments. Returns the request id."""
        self._request += 1
        request = self._request
        if with_progress:
            relay = self._relay

            def progress(done: int, total: int) -> None:
                relay.progress.emit(request, done, total)

            kwargs = {**kwargs, "progress": progress, "cancel": self.cancel}
        self.pool.start(_Task(self._relay, request, fn, args, kwargs))
        return request

    def shutdown(self) -> None:
        self.cancel.set()
        self.pool.clear()
        self.pool.waitForDone(10000)
