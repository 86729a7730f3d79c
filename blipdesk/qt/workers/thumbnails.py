"""Thumbnails: decoded in a QThreadPool to QImage, cached on disk, turned into pixmaps on the GUI.

Only what the view asks for is decoded: the grid reports the rows near its viewport, queued
requests that scrolled away are dropped (``QThreadPool.clear``), and the GUI side keeps a bounded
LRU of pixmaps so memory stays flat while scrolling through 10,000 photos.

The disk cache is keyed by path + size + mtime + thumbnail size: an edited photo gets a new
thumbnail, and stale files are simply never read again ("clear cache" in Settings removes them).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage, QPixmap

from blipdesk.infra.atomic import write_atomic
from blipdesk.infra.errors import UserError
from blipdesk.qt.common.values import Photo

log = logging.getLogger(__name__)

THUMB_PX = 192
LARGE_THUMB_PX = 320  # when the grid's thumbnails are set larger than THUMB_PX


def cache_file(thumbnails_dir: Path, photo: Photo, px: int = THUMB_PX) -> Path:
    key = f"{photo.path}\0{photo.size}\0{photo.mtime!r}\0{px}".encode()
    digest = hashlib.sha1(key, usedforsecurity=False).hexdigest()
    return thumbnails_dir / digest[:2] / f"{digest}.jpg"


def render_thumbnail(path: str, px: int = THUMB_PX) -> QImage:
    """Decode a photo upright and shrink it to fit ``px``. Any thread. Raises PhotoError."""
    from PIL import Image

    from blipdesk.core.imaging import DecodeOptions, decode_photo

    im = decode_photo(path, DecodeOptions(draft_size=px))
    im.thumbnail((px, px), Image.Resampling.BILINEAR)
    data = im.tobytes()
    image = QImage(data, im.width, im.height, 3 * im.width, QImage.Format.Format_RGB888)
    return image.copy()  # own the pixels: ``data`` dies with this frame


def load_or_render(cache_dir: Path | None, photo: Photo, px: int = THUMB_PX) -> QImage:
    if cache_dir is not None:
        target = cache_file(cache_dir, photo, px)
        if target.is_file():
            image = QImage(str(target))
            if not image.isNull():
                return image
    image = render_thumbnail(photo.path, px)
    if cache_dir is not None:
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        try:
            # PySide6 takes a str format at run time (bytes raise); its stubs say bytes.
            if image.save(buffer, "JPG", 85):  # type: ignore[call-overload]
                target.parent.mkdir(parents=True, exist_ok=True)
                # Derived data, checked when read (a null QImage is rendered again): no fsync.
                write_atomic(target, bytes(data.data()), durable=False)
        except (OSError, UserError) as exc:
            log.warning("cannot write thumbnail cache %s: %s", target, exc)
    return image


class _Relay(QObject):
    """Lives on the GUI thread; runnables emit through it (queued across threads)."""

    ready = Signal(str, QImage, int)  # path, image, the size it was rendered for
    failed = Signal(str, str)


class _ThumbTask(QRunnable):
    def __init__(self, loader: ThumbnailLoader, photo: Photo, generation: int) -> None:
        super().__init__()
        self.loader = loader
        self.photo = photo
        self.generation = generation
        self.px = loader.px
        self.setAutoDelete(True)

    def run(self) -> None:
        loader = self.loader
        if not loader._still_wanted(self.photo.path, self.generation):
            return
        try:
            image = load_or_render(loader.cache_dir, self.photo, self.px)
        except Exception as exc:  # a photo that cannot be decoded gets a "broken" tile
            reason = getattr(exc, "reason", None) or str(exc)
            loader._relay.failed.emit(self.photo.path, reason)
            return
        loader._relay.ready.emit(self.photo.path, image, self.px)


class ThumbnailLoader(QObject):
    """Asynchronous thumbnails with a bounded pixmap LRU. Use from the GUI thread."""

    thumbnailReady = Signal(str)  # path

    def __init__(
        self,
        cache_dir: Path | None,
        px: int = THUMB_PX,
        capacity: int = 800,
        threads: int | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.cache_dir = cache_dir
        self.px = px
        self.capacity = capacity
        self._pixmaps: OrderedDict[str, QPixmap] = OrderedDict()
        self._px_of: dict[str, int] = {}  # the size each pixmap was rendered for
        self._capacity_at_px = capacity
        self.broken: dict[str, str] = {}
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._wanted: dict[str, int] = {}
        self._generation = 0
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads or max(2, min(4, os.cpu_count() or 2)))
        self._relay = _Relay(self)
        self._relay.ready.connect(self._on_ready)
        self._relay.failed.connect(self._on_failed)

    # ----------------------------------------------------------------- GUI-thread API

    def pixmap(self, path: str) -> QPixmap | None:
        pm = self._pixmaps.get(path)
        if pm is not None:
            self._pixmaps.move_to_end(path)
        return pm

    def set_px(self, px: int) -> None:
        """Render at ``px`` from now on (the grid's thumbnails grew or shrank); pixmaps of the
        old size stay shown until their new one arrives. Fewer are kept when larger."""
        if px != self.px:
            self.px = px
            self.capacity = max(100, int(self._capacity_at_px * (THUMB_PX / px) ** 2))

    def cached_count(self) -> int:
        return len(self._pixmaps)

    def request(self, photos: list[Photo]) -> None:
        """Decode these (most important first); drop queued work for anything else."""
        self._generation += 1
        gen = self._generation
        self.pool.clear()  # queued, not yet started: they scrolled away
        with self._lock:
            self._wanted = {p.path: gen for p in photos}
        self._pending.clear()
        for photo in photos:
            if photo.path in self.broken:
                continue
            if photo.path in self._pixmaps and self._px_of.get(photo.path) == self.px:
                continue
            self._pending.add(photo.path)
            self.pool.start(_ThumbTask(self, photo, gen))

    def shutdown(self) -> None:
        self.pool.clear()
        self.pool.waitForDone(5000)

    def forget(self, paths: list[str]) -> None:
        """These files changed on disk: decode them again when next asked."""
        for path in paths:
            self._pixmaps.pop(path, None)
            self.broken.pop(path, None)

    def clear(self) -> None:
        self.pool.clear()
        self._pixmaps.clear()
        self._px_of.clear()
        self.broken.clear()

    # ----------------------------------------------------------------- worker side

    def _still_wanted(self, path: str, generation: int) -> bool:
        with self._lock:
            return self._wanted.get(path) == generation

    def _on_ready(self, path: str, image: QImage, px: int = THUMB_PX) -> None:
        self._pending.discard(path)
        self._pixmaps[path] = QPixmap.fromImage(image)
        self._px_of[path] = px
        self._pixmaps.move_to_end(path)
        while len(self._pixmaps) > self.capacity:
            gone, _ = self._pixmaps.popitem(last=False)
            self._px_of.pop(gone, None)
        self.thumbnailReady.emit(path)

    def _on_failed(self, path: str, reason: str) -> None:
        self._pending.discard(path)
        self.broken[path] = reason
        self.thumbnailReady.emit(path)
