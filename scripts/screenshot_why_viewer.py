"""Render docs/screenshots/why-viewer.png: "Why?" in the viewer, on the trained miniature BLIP.

    python scripts/screenshot_why_viewer.py [--word WORD]

A few drawn photos (tests/helpers/miniature.py) scanned with tests/data/miniature-blip, so the map
shows where the miniature really found the sentence's shape (not a random model's noise). Starts
``Xvfb :96`` itself when ``DISPLAY`` is unset (needs Xvfb).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--word", default=None, help="show this word's map, not the sentence's")
    parser.add_argument("--out", type=Path, default=OUT / "why-viewer.png")
    args = parser.parse_args(argv)
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
        return render(args.word, args.out)
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(5)


def render(word: str | None, out: Path) -> int:
    sys.path.insert(0, str(ROOT))
    from tests.helpers import miniature as mini

    work = Path(tempfile.mkdtemp(prefix="blipdesk-why-"))
    photos = work / "Shapes"
    photos.mkdir()
    drawn = [
        mini.Photo(
            960,
            640,
            (
                mini.Item("circle", "red", (110, 150, 390, 430)),
                mini.Item("square", "blue", (560, 250, 840, 530)),
            ),
            seed=41,
        ),
        mini.Photo(960, 640, (mini.Item("triangle", "yellow", (520, 120, 820, 420)),), seed=42),
        mini.Photo(
            960,
            640,
            (
                mini.Item("star", "white", (90, 300, 350, 560)),
                mini.Item("circle", "green", (600, 90, 860, 350)),
            ),
            seed=43,
        ),
    ]
    for i, photo in enumerate(drawn):
        mini.render(photo).save(photos / f"shapes_{i + 1}.png")
    data = work / "data"
    os.environ["BLIPDESK_DATA_DIR"] = str(data)

    from blipdesk.paths import resolve_paths
    from blipdesk.settings import Settings, SettingsFile

    paths = resolve_paths(data).ensure()
    SettingsFile(paths.settings_file).save(
        Settings(model=str(mini.SHIPPED), batch_size=8, device="cpu")
    )

    from PySide6.QtCore import QCoreApplication, QEventLoop

    from blipdesk.qt.application import make_app
    from blipdesk.qt.values import Tag
    from blipdesk.qt.widgets.main_window import MainWindow

    app = make_app()
    window = MainWindow(paths, use_processes=False)
    window.resize(1100, 760)
    window.show()

    def wait(ms: int, until=None) -> None:
        deadline = time.monotonic() + ms / 1000
        while time.monotonic() < deadline:
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            if until is not None and until():
                return
            time.sleep(0.01)

    window.add_folder(str(photos))
    wait(8000, lambda: window.photos.rowCount() == len(drawn))
    window.save_tag(Tag("red circle", ("a red circle",), 0.5, "#e6194b"))
    window.save_tag(Tag("blue square", ("a blue square",), 0.5, "#4363d8"))
    done: list[str] = []
    window.controller.scanFinished.connect(lambda outcome, _summary: done.append(outcome))
    window.scan()
    wait(120000, lambda: bool(done))
    wait(600)
    first = next(p for p in window.photos.photos() if p.name == "shapes_1.png")
    window.grid.select_path(first.path)
    window.stack.open_viewer(first)
    why = window.stack.why.controls
    wait(3000, lambda: window.previews.pixmap(first.path) is not None)
    explained: list[object] = []
    window.controller.explained.connect(explained.append)
    assert why.sentence is not None
    why.sentence.setCurrentText("a red circle")
    why.why.click()
    wait(30000, lambda: bool(explained))
    if word:
        why.word.setCurrentText(word)
    wait(800)
    out.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(out))
    print(f"wrote {out}")
    window.close()  # stops the inference worker
    wait(300)
    app.quit()
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
