"""Screenshots of teaching a tag (issue 13) under Xvfb, on the trained miniature (drawn shapes):
the grid with ✓ / ✗ label badges and the detail panel's label row, the review dialog, and the
calibration proposal.

    python scripts/screenshots_teach.py     # writes docs/screenshots/teach-*.png

Starts ``Xvfb :96`` itself when ``DISPLAY`` is unset.
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
        xvfb = subprocess.Popen(["Xvfb", ":96", "-screen", "0", "1400x900x24", "-nolisten", "tcp"])
        os.environ["DISPLAY"] = ":96"
        time.sleep(1.0)
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        return render()
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(5)


def render() -> int:
    sys.path.insert(0, str(ROOT))
    from tests.helpers import miniature as mini

    work = Path(tempfile.mkdtemp(prefix="blipdesk-teach-shots-"))
    photos = work / "Shapes"
    photos.mkdir()
    drawn = mini.photos(30, seed=11)
    for i, photo in enumerate(drawn):
        mini.render(photo).resize((320, 240)).save(photos / f"shape_{i:03d}.png")
    data = work / "data"
    os.environ["BLIPDESK_DATA_DIR"] = str(data)

    from blipdesk.paths import resolve_paths
    from blipdesk.settings import Settings, SettingsFile

    paths = resolve_paths(data).ensure()
    SettingsFile(paths.settings_file).save(Settings(model=str(mini.SHIPPED), batch_size=8))

    from PySide6.QtCore import QCoreApplication, QEventLoop

    from blipdesk.qt.application import make_app
    from blipdesk.qt.values import Tag
    from blipdesk.qt.widgets.main_window import MainWindow

    app = make_app()
    window = MainWindow(paths, use_processes=False)
    window.resize(1360, 860)
    window.show()

    def wait(ms: int, until=None) -> None:
        deadline = time.monotonic() + ms / 1000
        while time.monotonic() < deadline:
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            if until is not None and until():
                return
            time.sleep(0.01)

    window.add_folder(str(photos))
    wait(8000, lambda: window.photos.rowCount() == 30 and window.thumbs.cached_count() >= 30)
    window.save_tag(Tag("red", ("a red shape",), 0.5, "#e6194b"))
    window.save_tag(Tag("circle", ("a circle",), 0.5, "#4363d8"))
    done = []
    window.controller.scanFinished.connect(lambda outcome, _summary: done.append(outcome))
    window.scan()
    wait(120000, lambda: bool(done))
    wait(600)
    teach = window.labels
    tags = {t.name: t for t in window.tags.tags()}
    rows = [window.photos.photo_at(r).path for r in range(window.photos.rowCount())]
    truth = {str(photos / f"shape_{i:03d}.png"): p for i, p in enumerate(drawn)}

    def has(path: str, what: str) -> bool:
        return any(what in (it.shape, it.colour) for it in truth[path].items)

    # true labels, as a person would give them, on the first photos of the grid
    circles = [p for p in rows[:8] if has(p, "circle")]
    others = [p for p in rows[:8] if not has(p, "circle")]
    reds = [p for p in rows[:8] if has(p, "red")]
    not_red = [p for p in rows[:8] if not has(p, "red")]
    teach.label(True, tags["circle"], circles[:2])
    teach.label(False, tags["circle"], others[:1])
    teach.label(True, tags["red"], reds[:1])
    teach.label(False, tags["red"], not_red[1:2])
    wait(3000, lambda: not teach._purpose)
    wait(800)
    window.grid.setCurrentIndex(window.photos.index(window.photos.row_of(circles[0])))
    wait(600)
    window.detail.scores.setCurrentItem(window.detail.scores.topLevelItem(0))
    wait(1200)
    OUT.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(OUT / "teach-labels.png"))

    teach.start_review()
    wait(10000, lambda: teach.review is not None)
    wait(1500)
    teach.review.grab().save(str(OUT / "teach-review.png"))
    teach.review.accept()
    teach.calibrate()
    wait(10000, lambda: teach.proposal_box is not None)
    wait(800)
    teach.proposal_box.grab().save(str(OUT / "teach-calibrate.png"))
    teach.proposal_box.close()
    window.grid.setCurrentIndex(window.photos.index(0))
    teach.more_like_this(top=8)
    wait(5000, lambda: not teach._purpose)
    wait(1200)
    window.grab().save(str(OUT / "teach-more-like-this.png"))
    window.close()
    app.processEvents()
    print("\n".join(str(p) for p in sorted(OUT.glob("teach-*.png"))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
