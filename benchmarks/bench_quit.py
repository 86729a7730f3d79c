"""How long quitting takes: (1) with a large folder just opened (its EXIF date pass and
thumbnails still running): the window's close, and each worker's shutdown; (2) after a scan on
the tiny random BLIP with decode processes, as the app runs: from the window's close to the
process's exit, measured from outside. Prints tables; asserts nothing.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_quit.py [--photos 2000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_gui import make_folder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from PySide6.QtCore import QCoreApplication, QEventLoop
    from PySide6.QtWidgets import QApplication

    from blipdesk.infra.paths import resolve_paths
    from blipdesk.qt.window import MainWindow

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        make_folder(folder, args.photos)
        rows = []
        for run in range(args.runs):
            paths = resolve_paths(Path(tmp) / f"data{run}").ensure()
            window = MainWindow(paths, use_processes=False)
            window.resize(1360, 860)
            window.show()
            window.add_folder(str(folder))
            start = time.perf_counter()
            while window.photos.rowCount() < args.photos and time.perf_counter() - start < 60:
                QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
            for _ in range(20):  # the date pass and the thumbnails are under way
                QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
                time.sleep(0.005)
            parts: dict[str, float] = {}
            for name in ("thumbs", "previews", "lister", "cache", "tag_writer", "tasks"):
                worker = getattr(window, name)
                original = worker.shutdown

                def timed(original=original, name=name) -> None:
                    t = time.perf_counter()
                    original()
                    parts[name] = time.perf_counter() - t

                worker.shutdown = timed
            original_controller = window.controller.shutdown

            def controller_timed() -> None:
                t = time.perf_counter()
                original_controller()
                parts["inference"] = time.perf_counter() - t

            window.controller.shutdown = controller_timed
            t0 = time.perf_counter()
            window.close()
            total = time.perf_counter() - t0
            rows.append((total, parts))
        print(f"quit with {args.photos} photos just opened ({args.runs} runs; shared machine)")
        print(f"{'run':>4} {'close s':>8}  slowest parts")
        for i, (total, parts) in enumerate(rows):
            worst = sorted(parts.items(), key=lambda kv: -kv[1])[:3]
            text = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in worst)
            print(f"{i:>4} {total:>8.3f}  {text}")
        print()
        print("after a scan (tiny model, decode processes): close -> process exit")
        print(f"{'run':>4} {'close s':>8} {'exit s before':>14} {'exit s after':>13} {'ratio':>6}")
        small = Path(tmp) / "small"
        make_folder(small, 40)
        from tests.helpers.models import build_random_blip

        model = build_random_blip(Path(tmp) / "tiny")
        for run in range(args.runs):
            close, before = quit_after_scan(Path(tmp) / f"scan{run}", small, model, "before")
            _, after = quit_after_scan(Path(tmp) / f"scan{run}b", small, model, "after")
            print(f"{run:>4} {close:>8.3f} {before:>14.3f} {after:>13.3f} {before / after:>5.1f}x")
        del app


CHILD = """
import sys, time
from pathlib import Path
from PySide6.QtCore import QTimer
from blipdesk.infra.paths import resolve_paths
from blipdesk.qt.application import make_app
from blipdesk.qt.window import MainWindow
from blipdesk.qt.common.values import Tag
from blipdesk.services.settings import Settings, SettingsFile
data, folder, model = sys.argv[1:4]
paths = resolve_paths(Path(data)).ensure()
SettingsFile(paths.settings_file).save(Settings(model=model, batch_size=8))
app = make_app()
window = MainWindow(paths)
window.show()
window.add_folder(folder)
window.save_tag(Tag("dog", ("a dog",), 0.5))
def finished(*_):
    t = time.time()
    window.close()
    print("closed", t, time.time(), flush=True)
    app.quit()
window.controller.scanFinished.connect(lambda *a: QTimer.singleShot(300, finished))
QTimer.singleShot(1500, window.scan)
app.exec()
if sys.argv[4] == "after":
    from blipdesk.qt.application import leave_quickly

    leave_quickly()  # what run_gui does after the event loop
"""


def quit_after_scan(data: Path, folder: Path, model: Path, how: str) -> tuple[float, float]:
    import subprocess

    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data), str(folder), str(model), how],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    out, _ = child.communicate(timeout=600)
    end = time.time()
    line = next(x for x in out.splitlines() if x.startswith("closed"))
    _, start, closed = line.split()
    return float(closed) - float(start), end - float(start)


if __name__ == "__main__":
    main()
