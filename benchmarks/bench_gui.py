"""How fast a 10,000-photo (or 100,000-photo) folder opens: grid visible, visible thumbnails
filled, a filter change and a sort change (the grid model's refresh, on the GUI thread), the
longest stall of the GUI thread while scrolling through the whole folder (a 5 ms heartbeat timer:
the largest gap between its ticks, less 5 ms), memory. Prints a table; asserts nothing.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_gui.py [--photos 10000]

Synthetic small JPEGs (one encoded scene copied under many names, so generation takes seconds).
Thumbnail timings are with a cold disk cache (first open) and a warm one (second open).
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_folder(folder: Path, n: int) -> None:
    import io

    from tests.helpers.models import scene

    folder.mkdir(parents=True)
    blobs = []
    for seed in range(16):
        buf = io.BytesIO()
        scene(640, 480, seed).save(buf, "JPEG", quality=80)
        blobs.append(buf.getvalue())
    for i in range(n):
        (folder / f"IMG_{i:05d}.jpg").write_bytes(blobs[i % len(blobs)])


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def open_once(app, paths, folder: Path, n: int) -> dict[str, float]:
    from PySide6.QtCore import QCoreApplication, QEventLoop

    from blipdesk.qt.window import MainWindow

    def pump_until(cond, limit=60.0) -> float:
        start = time.perf_counter()
        while not cond() and time.perf_counter() - start < limit:
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
            time.sleep(0.001)
        return time.perf_counter() - start

    t0 = time.perf_counter()
    window = MainWindow(paths, use_processes=False)
    window.resize(1360, 860)
    window.show()
    window.add_folder(str(folder))
    pump_until(lambda: window.photos.rowCount() == n)
    grid_s = time.perf_counter() - t0

    def visible_filled() -> bool:
        rows = window.grid.visible_rows()
        return len(rows) > 0 and all(
            window.thumbs.pixmap(window.photos.photo_at(r).path) is not None for r in rows
        )

    pump_until(visible_filled)
    fill_s = time.perf_counter() - t0
    # The grid is laid out in batches: wait until all of it is (the scroll range is whole).
    bar = window.grid.verticalScrollBar()
    last = -1
    while bar.maximum() != last:
        last = bar.maximum()
        pump_until(lambda: False, 0.3)
    visible = len(window.grid.visible_rows())
    # A filter change and a sort change: what the GUI thread spends (the model refreshes at once).
    from blipdesk.services.photo_filter import SortState

    bar_ = window.filter_bar

    def timed(action) -> float:
        start = time.perf_counter()
        action()
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
        return time.perf_counter() - start

    filter_s = max(
        timed(lambda: bar_.set_criteria(file_name="_1")),
        timed(lambda: bar_.set_criteria(file_name="")),
    )
    sort_s = max(
        timed(lambda: bar_.show_sort(SortState("date", descending=True))),
        timed(lambda: bar_.show_sort(SortState("size"))),
        timed(lambda: bar_.show_sort(SortState("name"))),
    )
    # Scroll through the whole folder, page by page, letting thumbnails load a moment per page;
    # a heartbeat timer measures the GUI thread's longest stall meanwhile.
    from PySide6.QtCore import QTimer

    ticks: list[float] = []
    beat = QTimer(interval=5)
    beat.timeout.connect(lambda: ticks.append(time.perf_counter()))
    bar = window.grid.verticalScrollBar()
    peak = rss_mb()
    start_rss = peak
    step = max(1, bar.pageStep())
    t_scroll = time.perf_counter()
    beat.start()
    for value in range(0, bar.maximum() + step, step * 8):
        bar.setValue(value)
        pump_until(lambda: False, 0.03)
        peak = max(peak, rss_mb())
    beat.stop()
    scroll_s = time.perf_counter() - t_scroll
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    stall_s = max(gaps, default=0.0) - 0.005
    pixmaps = window.thumbs.cached_count()
    window.close()
    return dict(
        grid_s=grid_s,
        fill_s=fill_s,
        visible=visible,
        rss_start=start_rss,
        rss_peak=peak,
        pixmaps=pixmaps,
        scroll_s=scroll_s,
        filter_s=filter_s,
        sort_s=sort_s,
        stall_s=stall_s,
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=10_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="blipdesk-bench-"))
    try:
        t = time.perf_counter()
        folder = work / "photos"
        make_folder(folder, args.photos)
        print(f"generated {args.photos} JPEGs in {time.perf_counter() - t:.1f} s")
        from blipdesk.infra.paths import resolve_paths
        from blipdesk.qt.application import make_app

        app = make_app()
        paths = resolve_paths(work / "data").ensure()
        rows = [("cold thumbnail cache", open_once(app, paths, folder, args.photos))]
        rows.append(("warm thumbnail cache", open_once(app, paths, folder, args.photos)))
        print(
            f"\n{args.photos} photos, {os.cpu_count()} CPUs, QT_QPA_PLATFORM={os.environ['QT_QPA_PLATFORM']}"
        )
        print(
            f"{'run':<22}{'grid visible':>14}{'visible filled':>16}{'visible':>9}"
            f"{'RSS start':>11}{'RSS peak':>10}{'pixmaps':>9}{'filter':>9}{'sort':>9}"
            f"{'scroll stall':>14}"
        )
        for name, r in rows:
            print(
                f"{name:<22}{r['grid_s']:>12.2f} s{r['fill_s']:>14.2f} s{r['visible']:>9}"
                f"{r['rss_start']:>8.0f} MB{r['rss_peak']:>7.0f} MB{r['pixmaps']:>9}"
                f"{r['filter_s'] * 1e3:>6.0f} ms{r['sort_s'] * 1e3:>6.0f} ms"
                f"{r['stall_s'] * 1e3:>11.0f} ms"
            )
        print(
            f"(max RSS of the process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3:.0f} MB)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
