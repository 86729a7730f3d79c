"""Folder listing off the GUI thread: photos of a folder, then their EXIF facts; subfolder counts.

What a photo is and how a folder is walked is ``blipdesk.core.files``' (the scan uses the same
rules). Listing is a walk + ``stat`` (10,000 files in well under a second); the EXIF facts (the
moment taken, camera, lens, ISO, focal length, aperture: ``core/exif.shot_facts``) need a header
read per file, so they follow in a second pass and arrive in batches. They are cached by path,
size and modification time for the session: a folder opened again, or listed again after a
change on disk, reads only the files that changed. Each request carries an id, and a late answer
for a folder the person already left is dropped by the receiver.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from blipdesk.core.exif import NO_FACTS, ShotFacts, shot_facts
from blipdesk.core.files import Photo, count_tree, list_photos
from blipdesk.services.photo_filter import folder_facts

log = logging.getLogger(__name__)

# The EXIF pass is Python work in a pool thread: it pauses a moment every so many files, so that
# it never keeps the interpreter lock from the GUI thread for long (scrolling stays smooth).
BREATHE_EVERY, BREATHE_S = 32, 0.002


class _Relay(QObject):
    listed = Signal(int, str, list)  # request id, folder, [Photo]
    dated = Signal(int, list)  # request id, [(path, ShotFacts)]
    described = Signal(int, object)  # request id, FolderFacts (after the last facts)
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
            self._describe(photos)  # the types, folders and file days, without EXIF
            return
        known: list[tuple[str, ShotFacts]] = []
        unread: list[Photo] = []
        for photo in photos:  # what the cache knows goes at once, in one batch
            facts = self.lister.cached_facts(photo.path, photo.size, photo.mtime)
            if facts is None:
                unread.append(photo)
            else:
                known.append((photo.path, facts))
        if known:
            self.relay.dated.emit(self.request, known)
        if unread:  # the types, folders and file days now; the EXIF's when all is read
            self._describe(photos)
        batch: list[tuple[str, ShotFacts]] = []
        for i, photo in enumerate(unread):
            if self.lister._request != self.request:
                return  # the person moved on to another folder (or the window closed)
            if i % BREATHE_EVERY == BREATHE_EVERY - 1:
                time.sleep(BREATHE_S)  # the GUI thread gets the interpreter lock meanwhile
            facts = shot_facts(photo.path)
            self.lister.keep_facts(photo.path, photo.size, photo.mtime, facts)
            batch.append((photo.path, facts))
            if len(batch) >= 500:
                self.relay.dated.emit(self.request, batch)
                batch = []
        if batch:
            self.relay.dated.emit(self.request, batch)
        if self.lister._request == self.request:
            self._describe(photos)

    def _describe(self, photos: list[Photo]) -> None:
        cached = self.lister.cached_facts
        self.relay.described.emit(
            self.request, folder_facts(photos, lambda p: cached(p, None, None) or NO_FACTS)
        )


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
    described = Signal(int, object)
    counted = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(2)
        self._relay = _Relay(self)
        self._relay.listed.connect(self.listed)
        self._relay.dated.connect(self.dated)
        self._relay.described.connect(self.described)
        self._relay.counted.connect(self.counted)
        self._request = 0
        self.group_pairs = True  # RAW + JPEG pairs listed and counted as one photo (a setting)
        self._facts: dict[str, tuple[int, float, ShotFacts]] = {}  # path -> size, mtime, facts
        self._facts_lock = threading.Lock()  # the pool's threads read and write it

    def cached_facts(self, path: str, size: int | None, mtime: float | None) -> ShotFacts | None:
        """The facts read of ``path`` at this size and time (None, None: whatever they are)."""
        with self._facts_lock:
            found = self._facts.get(path)
        if found is None or (size is not None and found[:2] != (size, mtime)):
            return None
        return found[2]

    def keep_facts(self, path: str, size: int, mtime: float, facts: ShotFacts) -> None:
        with self._facts_lock:
            self._facts[path] = (size, mtime, facts)

    def list(self, folder: str | Path, recursive: bool, dates: bool = True) -> int:
        self._request += 1
        self.pool.start(_ListTask(self, self._request, str(folder), recursive, dates))
        return self._request

    def count(self, root: str | Path) -> None:
        self.pool.start(_CountTask(self._relay, str(root), self.group_pairs))

    def shutdown(self) -> None:
        self._request += 1  # a facts pass in flight stops at its next file
        self.pool.clear()
        self.pool.waitForDone(5000)
