"""The viewer's pixels: each photo decoded for the size it is shown at, in a thread pool.

"Fit" asks for the photo at the viewer's size in *device* pixels (its logical size times the
screen's device pixel ratio), so it is drawn one image pixel per screen pixel instead of a small
preview stretched; zooming in asks for the photo at full resolution. Decoding goes through
``core.imaging.decode_photo`` (the one decoder: upright, 8-bit RGB, bounded, a ``PhotoError`` that
says why a file cannot be read). Only the newest request per kind is wanted: a request a step
made stale is dropped before it starts, or its answer is ignored.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from PySide6.QtCore import QObject, QRunnable, QSize, QThreadPool, Signal
from PySide6.QtGui import QImage

FULL = QSize(0, 0)  # "the whole image": zoomed views


def decode_for_view(path: str, size: QSize) -> tuple[QImage, QSize]:
    """The photo upright, shrunk to fit ``size`` (device pixels; never enlarged), or whole when
    ``size`` is ``FULL``; and its full upright size. Any thread. Raises ``PhotoError``."""
    from PIL import Image

    from blipdesk.core.imaging import DecodeOptions, decode_photo

    if size.isEmpty():
        im = decode_photo(path, DecodeOptions(draft_size=None))
        full = QSize(im.width, im.height)
    else:
        # The draft keeps both sides at least the shown short side: enough pixels to fill the
        # window whatever the photo's orientation; the full size is read from the header.
        im = decode_photo(path, DecodeOptions(draft_size=max(1, min(size.width(), size.height()))))
        full = _full_size(path, im)
        if im.width > size.width() or im.height > size.height():
            im.thumbnail((size.width(), size.height()), Image.Resampling.LANCZOS, reducing_gap=2.0)
    data = im.tobytes()
    image = QImage(data, im.width, im.height, 3 * im.width, QImage.Format.Format_RGB888)
    # The conversion owns its pixels (``data`` dies with this frame), and RGB32 is what the
    # screen's pixmaps hold: turning it into a pixmap on the GUI thread is then only a copy.
    return image.convertToFormat(QImage.Format.Format_RGB32), full


def _full_size(path: str, decoded) -> QSize:
    """The upright size of the photo at full resolution (the header's, turned as EXIF says)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            width, height = im.size
            if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):
                width, height = height, width
            return QSize(width, height)
    except Exception:  # decoded a moment ago; a file swapped since: what was decoded
        return QSize(decoded.width, decoded.height)


class _Relay(QObject):
    ready = Signal(int, str, QImage, QSize)  # request, path, image, full size
    failed = Signal(int, str, str)  # request, path, reason


class _Task(QRunnable):
    def __init__(self, owner: ViewerImages, request: int, path: str, size: QSize) -> None:
        super().__init__()
        self.owner, self.request, self.path, self.size = owner, request, path, QSize(size)
        self.setAutoDelete(True)

    def run(self) -> None:
        if not self.owner._wanted(self.request):
            return
        try:
            image, full = decode_for_view(self.path, self.size)
        except Exception as exc:  # PhotoError and anything else: the viewer says why
            self.owner._relay.failed.emit(
                self.request, self.path, getattr(exc, "reason", None) or str(exc)
            )
            return
        self.owner._relay.ready.emit(self.request, self.path, image, full)


class ViewerImages(QObject):
    """GUI-thread API: ``request(path, size)``; ``ready``/``failed`` for the newest requests."""

    ready = Signal(str, QSize, QImage, QSize)  # path, requested size (FULL: whole), image, full
    failed = Signal(str, str)  # path, why it cannot be shown

    def __init__(self, parent: QObject | None = None, capacity: int = 4) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(2)  # the photo shown, and the next one or the whole one
        self._relay = _Relay(self)
        self._relay.ready.connect(self._on_ready)
        self._relay.failed.connect(self._on_failed)
        self._lock = threading.Lock()
        self._live: dict[int, tuple[str, QSize]] = {}  # request -> (path, size), newest per kind
        self._kind_of: dict[str, int] = {}  # "fit" | "full" | "ahead" -> request
        self._next = 0
        self.cache: OrderedDict[tuple[str, int, int], tuple[QImage, QSize]] = OrderedDict()
        self.capacity = capacity
        self.errors: dict[str, str] = {}

    def cached(self, path: str, size: QSize) -> tuple[QImage, QSize] | None:
        hit = self.cache.get((path, size.width(), size.height()))
        if hit is not None:
            self.cache.move_to_end((path, size.width(), size.height()))
        return hit

    def request(self, path: str, size: QSize, ahead: bool = False) -> None:
        """Decode ``path`` for ``size`` (``FULL``: whole) unless cached; supersedes the previous
        request of the same kind (fit, full, or ``ahead``: the next photo, decoded before it is
        asked for so that stepping through photos shows each one at once)."""
        if self.cached(path, size) is not None or path in self.errors:
            return
        kind = "ahead" if ahead else "full" if size.isEmpty() else "fit"
        with self._lock:
            old = self._kind_of.get(kind)
            running = next((r for r, want in self._live.items() if want == (path, size)), None)
            self._kind_of[kind] = running if running is not None else self._next + 1
            if old is not None and old not in self._kind_of.values():
                self._live.pop(old, None)  # superseded: dropped before it starts, or ignored
            if running is not None:
                return  # already on its way (asked for ahead, say)
            self._next += 1
            self._live[self._next] = (path, QSize(size))
            request = self._next
        self.pool.start(_Task(self, request, path, size))

    def forget_errors(self) -> None:
        self.errors.clear()

    def shutdown(self) -> None:
        with self._lock:
            self._live.clear()
        self.pool.clear()
        self.pool.waitForDone(5000)

    def _wanted(self, request: int) -> bool:
        with self._lock:
            return request in self._live

    def _take(self, request: int) -> QSize | None:
        with self._lock:
            found = self._live.pop(request, None)
        return None if found is None else found[1]

    def _on_ready(self, request: int, path: str, image: QImage, full: QSize) -> None:
        size = self._take(request)
        if size is None:
            return
        if size.isEmpty():  # one whole photo at a time: 24 MP are 72 MB
            for key in [k for k in self.cache if k[1:] == (0, 0)]:
                del self.cache[key]
        self.cache[(path, size.width(), size.height())] = (image, full)
        while len(self.cache) > self.capacity:
            self.cache.popitem(last=False)
        self.ready.emit(path, size, image, full)

    def _on_failed(self, request: int, path: str, reason: str) -> None:
        if self._take(request) is None:
            return
        self.errors[path] = reason
        self.failed.emit(path, reason)
