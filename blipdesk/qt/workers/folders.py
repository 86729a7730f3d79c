"""Folder listing off the GUI thread: photos of a folder, then their EXIF dates; subfolder counts.

Listing is ``os.scandir`` + ``stat`` (10,000 files in well under a second); the EXIF dates need a
header read per file, so they follow in a second pass and arrive in batches. Each request carries
an id, and a late answer for a folder the person already left is dropped by the receiver.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from blipdesk.qt.values import Photo

log = logging.getLogger(__name__)

PHOTO_SUFFIXES = frozenset(
    ".jpg .jpeg .jpe .png .webp .tif .tiff .bmp .gif .heic .heif .jfif .mpo".split()
)


def is_photo(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in PHOTO_SUFFIXES


def list_photos(folder: str, recursive: bool) -> list[Photo]:
    """Photos in ``folder`` (and below it when ``recursive``), sorted by path. Hidden entries skipped."""
    out: list[Photo] = []
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError as exc:
            log.info("cannot list %s: %s", current, exc)
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    if recursive:
                        stack.append(entry.path)
                elif is_photo(entry.name) and entry.is_file():
                    st = entry.stat()
                    out.append(Photo(entry.path, entry.name, st.st_size, st.st_mtime))
            except OSError:
                continue
    out.sort(key=lambda p: p.path)
    return out


def exif_taken(path: str) -> float | None:
    """EXIF DateTimeOriginal (else DateTime) as a local timestamp; None when absent or unreadable."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            exif = im.getexif()
            value = exif.get_ifd(0x8769).get(0x9003) or exif.get(0x0132)
    except Exception:
        return None
    if not value:
        return None
    try:
        return datetime.strptime(str(value).strip("\0 "), "%Y:%m:%d %H:%M:%S").timestamp()
    except ValueError:
        return None


@dataclass(frozen=True)
class FolderCounts:
    """A library folder's subfolders (relative paths) with the photos directly inside each."""

    root: str
    counts: tuple[tuple[str, int], ...]


def count_tree(root: str) -> FolderCounts:
    counts: list[tuple[str, int]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel = os.path.relpath(dirpath, root)
        counts.append((rel, sum(1 for f in filenames if is_photo(f))))
    return FolderCounts(root, tuple(counts))


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
        photos = list_photos(self.folder, self.recursive)
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
    def __init__(self, relay: _Relay, root: str):
        super().__init__()
        self.relay, self.root = relay, root

    def run(self) -> None:
        self.relay.counted.emit(count_tree(self.root))


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

    def list(self, folder: str | Path, recursive: bool, dates: bool = True) -> int:
        self._request += 1
        self.pool.start(_ListTask(self, self._request, str(folder), recursive, dates))
        return self._request

    def count(self, root: str | Path) -> None:
        self.pool.start(_CountTask(self._relay, str(root)))

    def shutdown(self) -> None:
        self.pool.clear()
        self.pool.waitForDone(5000)
