"""Folder listing off the GUI thread: photos of a folder, then their EXIF dates; subfolder counts.

What a photo is and how a folder is walked is ``blipdesk.core.files``' (the scan uses the same
rules). Listing is a walk + ``stat`` (10,000 files in well under a second); the EXIF dates need a
header read per file, so they follow in a second pass and arrive in batches. Each request carries
an id, and a late answer for a folder the person already left is dropped by the receiver.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from blipdesk.core.files import count_tree, exif_taken, list_photos

log = logging.getLogger(__name__)


class _Relay(QObject):
    listed = Signal(int, str, list)  # request id, folder, [Photo]
    dated = Signal(int, list)  # request id, [(path, timestamp)]
    counted = Signal(object)  # FolderCounts


class _ListTask(QRunnable):
    def __init__(
        self, lister: FolderLister, request: int, folder: str, recursive: bool, dates: bool
    ):
        super().__init__()
        self.lister, self.relay = lister, lister._relay
        self.request, self.folder = request, folder
        self.recursive, self.dates = recursive, dates

    def run(self) -> None:
        photos = list_photos(self.folder, self.recursive, group_pairs=self.lister.group_pairs)
        self.relay.listed.emit(self.request, self.folder, photos)
        if not self.dates:
            return
        batch: list[tuple[str, float]] = []
        for photo in photos:
            if self.lister._request != self.request:
                return  # the person moved on to another folder
            taken = exif_taken(photo.path)
            if taken is not None:
                batch.append((photo.path, taken))
            if len(batch) >= 500:
                self.relay.dated.emit(self.request, batch)
                batch = []
        if batch:
            self.relay.dated.emit(self.request, batch)


class _CountTask(QRunnable):
    def __init__(self, relay: _Relay, root: str, group_pairs: bool):
        super().__init__()
        self.relay, self.root, self.group_pairs = relay, root, group_pairs

    def run(self) -> None:
        self.relay.counted.emit(count_tree(self.root, self.group_pairs))


class FolderLister(QObject):
    """Lists folders in a pool; ``listed``/``dated`` carry the request id from ``list``."""

    listed = Signal(int, str, list)
    dated = Signal(int, list)
    counted = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(2)
        self._relay = _Relay(self)
        self._relay.listed.connect(self.listed)
        self._relay.dated.connect(self.dated)
        self._relay.counted.connect(self.counted)
        self._request = 0
        self.group_pairs = True  # RAW + JPEG pairs listed and counted as one photo (a setting)

    def list(self, folder: str | Path, recursive: bool, dates: bool = True) -> int:
        self._request += 1
        self.pool.start(_ListTask(self, self._request, str(folder), recursive, dates))
        return self._request

    def count(self, root: str | Path) -> None:
        self.pool.start(_CountTask(self._relay, str(root), self.group_pairs))

    def shutdown(self) -> None:
        self.pool.clear()
        self.pool.waitForDone(5000)
