"""Saving tag edits off the GUI thread, in order, through the store's public API.

One pool thread opens its own ``Library`` per write (the store's threading rule: a connection
belongs to the thread that opened it). SQLite's ``BEGIN IMMEDIATE`` waits its turn when the scan's
writer holds the lock, which must never stall the GUI, hence the thread.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from blipdesk.domain import Tag
from blipdesk.infra.errors import UserError
from blipdesk.store import Library

log = logging.getLogger(__name__)


class _Relay(QObject):
    failed = Signal(str)


class _Write(QRunnable):
    def __init__(self, relay: _Relay, database: str, op: str, value) -> None:
        super().__init__()
        self.relay, self.database, self.op, self.value = relay, database, op, value

    def run(self) -> None:
        try:
            with Library.open(self.database) as lib:
                if self.op == "put":
                    lib.put_tag(self.value)
                else:
                    lib.remove_tag(self.value)
        except UserError as exc:
            self.relay.failed.emit(str(exc))
        except Exception as exc:
            log.exception("saving a tag failed")
            self.relay.failed.emit(f"The tag could not be saved: {exc}")


class TagWriter(QObject):
    failed = Signal(str)

    def __init__(self, database: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.database = database
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)  # one at a time: writes land in the order made
        self._relay = _Relay(self)
        self._relay.failed.connect(self.failed)

    def put(self, tag: Tag) -> None:
        self.pool.start(_Write(self._relay, self.database, "put", tag))

    def remove(self, name: str) -> None:
        self.pool.start(_Write(self._relay, self.database, "remove", name))

    def shutdown(self) -> None:
        self.pool.waitForDone(10000)
