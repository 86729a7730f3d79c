"""Viewer benchmark: what the viewer decodes for a 24-MP JPEG, and how long it takes.

The viewer used to show a <=1024 px preview stretched to the window; it now decodes the photo at
the window's size in device pixels (``workers/viewer_images.decode_for_view``), whole only when
zoomed in. For each target: the pixels decoded and shown, the time (median of ``--runs``, in a
worker thread's terms: no Qt event loop), and the ratio to the old preview's time. Also the GUI
thread's only pixel work, turning the decoded image into a pixmap (``QPixmap.fromImage``).

    nice -n 15 python benchmarks/bench_viewer.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def timed(fn, runs: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from PySide6.QtCore import QSize
    from PySide6.QtGui import QGuiApplication, QPixmap

    from blipdesk.qt.workers.thumbnails import render_thumbnail
    from blipdesk.qt.workers.viewer_images import FULL, decode_for_view
    from tests.helpers.models import scene

    app = QGuiApplication([])  # noqa: F841  (pixmaps need one)
    folder = Path(tempfile.mkdtemp(prefix="bench-viewer-"))
    photo = str(folder / "chart-24mp.jpg")
    scene(6000, 4000, 7).save(photo, quality=90)
    base, preview = timed(lambda: render_thumbnail(photo, 1024), args.runs)
    rows = [("old: 1024 px preview, stretched", preview.width(), preview.height(), base)]
    for label, size in (
        ("fit, 1280x720 window, ratio 1", QSize(1280, 720)),
        ("fit, 1920x1080 window, ratio 1", QSize(1920, 1080)),
        ("fit, 1920x1080 window, ratio 2", QSize(3840, 2160)),
        ("100% (whole photo)", FULL),
    ):
        took, (image, _full) = timed(lambda s=size: decode_for_view(photo, s), args.runs)
        rows.append((label, image.width(), image.height(), took))
    print(f"24-MP JPEG (6000x4000, q90), median of {args.runs} runs, {os.cpu_count()} CPUs")
    print(f"{'what is decoded':34} {'pixels':>11} {'ms':>8} {'x old':>7}")
    for label, w, h, took in rows:
        print(f"{label:34} {w:>5}x{h:<5} {took * 1000:8.0f} {took / base:7.2f}")
    _, (whole, _) = timed(lambda: decode_for_view(photo, FULL), 1)
    gui, _ = timed(lambda: QPixmap.fromImage(whole), args.runs)
    print(f"GUI thread: QPixmap.fromImage of the whole photo: {gui * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
