"""Screenshots of the grid's issue-14 states under Xvfb: first start, wrapped chips as groups,
a filter that matches nothing, the thumbnail slider at its largest, a smart view, More filters.

    python scripts/screenshots_grid.py     # writes docs/screenshots/grid-*.png
    BLIPDESK_COLOR_SCHEME=dark python scripts/screenshots_grid.py   # grid-*-dark.png

Starts ``Xvfb :91`` when ``DISPLAY`` is unset. Scores are put on the board by hand (no model):
the pictures show the interface.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"


def main() -> int:
    xvfb = None
    if not os.environ.get("DISPLAY"):
        if shutil.which("Xvfb") is None:
            print("needs Xvfb (apt install xvfb)", file=sys.stderr)
            return 1
        xvfb = subprocess.Popen(["Xvfb", ":91", "-screen", "0", "1400x900x24", "-nolisten", "tcp"])
        os.environ["DISPLAY"] = ":91"
        time.sleep(1.0)
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    try:
        return render()
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(5)


def render() -> int:
    sys.path.insert(0, str(ROOT))
    from tests.helpers.models import scene

    work = Path(tempfile.mkdtemp(prefix="blipdesk-grid-shots-"))
    photos = work / "Holiday 2024"
    (photos / "Beach").mkdir(parents=True)
    (photos / "City").mkdir()
    for i in range(24):
        sub = ("Beach", "City", "")[i % 3]
        w, h = (800, 600) if i % 4 else (600, 800)
        scene(w, h, i).save(photos / sub / f"IMG_{1000 + i}.jpg", quality=88)
    (photos / "IMG_2000.png").write_bytes(b"")
    scene(640, 480, 99).save(photos / "IMG_2000.png")
    data = work / "data"

    from PySide6.QtCore import QCoreApplication, QEventLoop

    from blipdesk.paths import resolve_paths
    from blipdesk.photo_filter import SortState
    from blipdesk.qt.application import make_app
    from blipdesk.qt.values import PhotoScores, SentenceScore, Tag
    from blipdesk.qt.widgets.main_window import MainWindow
    from blipdesk.settings import Settings, SettingsFile

    paths = resolve_paths(data).ensure()
    SettingsFile(paths.settings_file).save(Settings(feature_cache=False))
    app = make_app()
    window = MainWindow(paths, use_processes=False)
    window.resize(1320, 820)
    window.show()

    def wait(ms: int, until=None) -> None:
        deadline = time.monotonic() + ms / 1000
        while time.monotonic() < deadline:
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            if until is not None and until():
                return
            time.sleep(0.01)

    OUT.mkdir(parents=True, exist_ok=True)

    dark = "-dark" if os.environ.get("BLIPDESK_COLOR_SCHEME") == "dark" else ""

    def shot(name: str) -> None:
        wait(400)
        window.grab().save(str(OUT / f"grid-{name}{dark}.png"))
        print("wrote", OUT / f"grid-{name}{dark}.png")

    wait(800)
    shot("first-start")

    window.add_folder(str(photos))
    wait(10000, lambda: window.photos.rowCount() == 25 and window.thumbs.cached_count() >= 25)
    tags = {
        "beach": "a sandy beach", "dog": "a dog", "cat": "a cat",
        "city at night": "a city at night", "astronaut": "an astronaut", "sunset": "a sunset",
    }  # fmt: skip
    for name, sentence in tags.items():
        window.save_tag(Tag(name, (sentence,), 0.5))
    batch = []
    for k, p in enumerate(window.photos.photos()):
        scores = {s: SentenceScore(((k * 7 + j * 13) % 10) / 10, 0.0, 0.0, 0.0)
                  for j, s in enumerate(tags.values())}  # fmt: skip
        batch.append(PhotoScores(p.path, scores))
    window._results(batch)
    wait(600)
    bar = window.filter_bar
    for name, mode in (("beach", "or"), ("dog", "or"), ("cat", "or"), ("astronaut", "and"),
                       ("city at night", "not"), ("sunset", "not")):  # fmt: skip
        bar.add_filter(name, mode)
    bar.show_sort(SortState("score", "beach"))
    wait(300)
    shot("chips-wrapped")

    bar.min_score.setValue(0.95)
    shot("empty-filter")
    bar.min_score.setValue(0.0)
    for name in list(tags):
        bar._remove(name)
    bar.add_filter("beach", "and")
    bar.more.setChecked(True)
    bar.facts.folder.setCurrentIndex(bar.facts.folder.findText("Beach"))
    bar.show_sort(SortState("date", descending=True))
    window.flow.add_view("Beach, newest first")
    window.flow.add_view("Dogs on the beach")
    window.grid.selectionModel().select(
        window.photos.index(0), window.grid.selectionModel().SelectionFlag.Select
    )
    shot("smart-view")
    bar.facts.reset()
    bar._remove("beach")
    bar.more.setChecked(False)
    window.flow.slider.slider.setValue(320)
    wait(2000)
    shot("slider-large")
    window.close()
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
