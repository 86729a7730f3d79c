"""A camera card copied into a watched library folder while the window is open: how long the GUI
thread stalls, how many refreshes the burst costs, and how soon the grid shows every photo.
Prints a table; asserts nothing.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_watch.py [--files 2000] [--start 200]

The copy is another process (``cp``, as a file manager or a card reader would be), so the
window's process does nothing but watch. The stall probe is the story test's: a 10 ms timer whose
longest gap between ticks is the event loop's longest stall.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--start", type=int, default=200, help="photos already in the folder")
    parser.add_argument(
        "--per-second", type=int, default=0, help="files copied per second (0: as fast as cp)"
    )
    args = parser.parse_args()

    from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from benchmarks.bench_gui import make_folder
    from blipdesk.infra.paths import resolve_paths
    from blipdesk.qt.window import MainWindow

    app = QApplication.instance() or QApplication([])
    tmp = Path(tempfile.mkdtemp())
    library, card = tmp / "library", tmp / "card"
    make_folder(library, args.start)
    make_folder(card, args.files)
    for i, f in enumerate(sorted(card.iterdir())):
        f.rename(card / f"CARD_{i:05d}.jpg")
    paths = resolve_paths(tmp / "data").ensure()

    def pump(seconds: float, until=None) -> float:
        start = time.perf_counter()
        while time.perf_counter() - start < seconds and not (until and until()):
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
            time.sleep(0.001)
        return time.perf_counter() - start

    window = MainWindow(paths, use_processes=False)
    window.resize(1360, 860)
    window.show()
    window.add_folder(str(library))
    pump(30, lambda: window.photos.total() == args.start)
    pump(1.0)
    changed, settled = [], []
    window.live.watcher.changed.connect(changed.append)
    window.live.watcher.settled.connect(settled.append)

    worst, last = [0.0], [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        worst[0] = max(worst[0], now - last[0])
        last[0] = now

    probe = QTimer(interval=10)
    probe.timeout.connect(tick)
    probe.start()
    start = time.perf_counter()
    if args.per_second:  # a card reader's pace: another process, paced
        script = (
            "import shutil, sys, time, pathlib\n"
            "src, dst, rate = pathlib.Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])\n"
            "t0 = time.perf_counter()\n"
            "for i, f in enumerate(sorted(src.iterdir())):\n"
            "    time.sleep(max(0.0, t0 + i / rate - time.perf_counter()))\n"
            "    shutil.copy(f, dst)\n"
        )
        cmd = [sys.executable, "-c", script, str(card), str(library), str(args.per_second)]
        copy = subprocess.Popen(cmd)
    else:
        copy = subprocess.Popen(["sh", "-c", f"cp '{card}'/*.jpg '{library}'/"])
    copy_s = pump(120, lambda: copy.poll() is not None)
    total = args.start + args.files
    shown_s = pump(60, lambda: window.photos.total() == total) + copy_s
    pump(60, lambda: bool(settled))
    settle_s = time.perf_counter() - start
    pump(1.0)
    probe.stop()
    counted = window.folders.index(0, 0).data()
    print(
        f"watching with watchdog: {window.live.watcher.watching}; machine: {os.cpu_count()} cores"
    )
    pace = f"{args.per_second}/s" if args.per_second else "cp"
    print(f"{'files copied in':38s} {args.files:>8d}  ({pace})")
    print(f"{'copy took (another process)':38s} {copy_s:>8.2f} s")
    print(f"{'grid shows all (from the copy start)':38s} {shown_s:>8.2f} s")
    print(f"{'after the copy ended':38s} {shown_s - copy_s:>8.2f} s")
    print(f"{'grid refreshes (changed)':38s} {len(changed):>8d}")
    print(f"{'scans asked for (settled)':38s} {len(settled):>8d}")
    print(f"{'settled after':38s} {settle_s:>8.2f} s")
    print(f"{'longest GUI stall':38s} {worst[0] * 1000:>8.0f} ms  (aim < 100 ms)")
    print(f"{'sidebar':38s} {counted}")
    window.close()
    app.processEvents()


if __name__ == "__main__":
    main()
