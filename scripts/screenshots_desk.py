"""Render the screenshots of the photographer's desk under Xvfb: the main window in the light and
the dark palette (information panel, ratings and flags on the grid), the viewer at fit with its
filmstrip and zoomed to 100%, Help > Keyboard shortcuts, the tag editor's "Try" and Settings.

    python scripts/screenshots_desk.py     # writes docs/screenshots/*.png

Starts ``Xvfb :96`` itself when ``DISPLAY`` is unset. A demo library scanned with the tiny random
model (which photos match is arbitrary: the pictures show the interface, not BLIP's accuracy).
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


def exif_photo(path: Path, seed: int) -> None:
    """A demo photo with a camera's EXIF, as the information panel shows it."""
    from PIL import Image

    from blipdesk.core import exif
    from tests.helpers.models import scene

    e = Image.Exif()
    e[exif.MAKE], e[exif.MODEL] = "FUJIFILM", "X-T5"
    sub = e.get_ifd(exif.EXIF_IFD)
    sub[exif.EXPOSURE_TIME], sub[exif.F_NUMBER], sub[exif.ISO] = 1 / 500, 5.6, 160
    sub[exif.FOCAL_LENGTH], sub[exif.FOCAL_35MM] = 23.0, 35
    sub[exif.LENS_MAKE], sub[exif.LENS_MODEL] = "FUJIFILM", "XF23mmF1.4 R LM WR"
    sub[exif.DATETIME_ORIGINAL] = "2024:07:14 19:42:08"
    g = e.get_ifd(exif.GPS_IFD)
    g[1], g[exif.GPS_LATITUDE], g[3], g[exif.GPS_LONGITUDE] = (
        "N",
        (43.0, 17.0, 5.0),
        "E",
        (5.0, 22.0, 1.0),
    )
    scene(3000, 2000, seed).save(path, quality=90, exif=e)


def render() -> int:
    sys.path.insert(0, str(ROOT))
    from tests.helpers.models import build_random_blip, scene

    work = Path(tempfile.mkdtemp(prefix="blipdesk-desk-shots-"))
    photos = work / "Holiday 2024"
    photos.mkdir(parents=True)
    for i in range(18):
        if i == 4:
            exif_photo(photos / f"DSCF{2000 + i}.jpg", i)
        else:
            scene(800 if i % 5 else 600, 600 if i % 5 else 800, i).save(
                photos / f"DSCF{2000 + i}.jpg", quality=88
            )
    model = build_random_blip(work / "model")
    data = work / "data"
    os.environ["BLIPDESK_DATA_DIR"] = str(data)

    from blipdesk.paths import resolve_paths
    from blipdesk.settings import Settings, SettingsFile

    paths = resolve_paths(data).ensure()
    SettingsFile(paths.settings_file).save(Settings(model=str(model), batch_size=8))

    from PySide6.QtCore import QCoreApplication, QEventLoop, QItemSelectionModel, QPointF

    from blipdesk.qt.application import make_app
    from blipdesk.qt.theme import apply_scheme
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
    wait(10000, lambda: window.photos.rowCount() == 18 and window.thumbs.cached_count() >= 18)
    for tag in (
        Tag("beach", ("a sandy beach by the sea",), 0.5, "#e6194b"),
        Tag("sunset", ("a sunset sky",), 0.5, "#f58231"),
        Tag("city", ("a busy city street",), 0.5, "#4363d8"),
    ):
        window.save_tag(tag)
    done = []
    window.controller.scanFinished.connect(lambda outcome, _summary: done.append(outcome))
    window.scan()
    wait(120000, lambda: bool(done))
    from blipdesk.qt.models.tags import TagRoles

    for tag in window.tags.tags():  # thresholds at each tag's median: dots to see
        scores = sorted(
            s
            for p in window.photos.photos()
            if (s := window.board.tag_score(p.path, tag)) is not None
        )
        if scores:
            row = window.tags.row_of(tag.name)
            window.tags.setData(
                window.tags.index(row), scores[len(scores) // 2], TagRoles.Threshold
            )

    # Ratings and flags with the keys' actions, on a few selections.
    selection, grid = window.grid.selectionModel(), window.grid
    for rows, stars, flag in (((0, 4, 9), 5, 1), ((1, 6), 3, 0), ((2,), 0, -1), ((7, 11), 4, 0)):
        grid.clearSelection()
        for row in rows:
            selection.select(window.photos.index(row), QItemSelectionModel.SelectionFlag.Select)
        window.desk.ratings.set_stars(stars)
        if flag:
            window.desk.ratings.set_flag(flag)
    grid.clearSelection()
    window.grid.setCurrentIndex(window.photos.index(4))
    wait(2500, lambda: "Camera" in window.desk.info.values())
    wait(800)
    OUT.mkdir(parents=True, exist_ok=True)
    for scheme in ("light", "dark"):
        apply_scheme(app, scheme)
        wait(700)
        window.grab().save(str(OUT / f"main-window-{scheme}.png"))
    window.desk.info.grab().save(str(OUT / "info-panel.png"))
    grid.viewport().grab().save(str(OUT / "ratings.png"))

    # The viewer: fit with its filmstrip, then 100% panned onto a detail (dark palette around).
    window.stack.open_viewer(window.grid.current_photo())
    viewer = window.viewer
    wait(8000, lambda: viewer.images.cached(viewer.photo.path, viewer.device_size()) is not None)
    wait(600)
    window.grab().save(str(OUT / "viewer.png"))
    viewer.zoom_actual()
    viewer.centre = QPointF(0.62, 0.4)
    viewer._clamp()
    from blipdesk.qt.workers.viewer_images import FULL

    wait(15000, lambda: viewer.images.cached(viewer.photo.path, FULL) is not None)
    wait(600)
    window.grab().save(str(OUT / "viewer-zoomed.png"))
    window.stack.close_viewer()
    apply_scheme(app, "light")
    wait(300)

    dialog = window.desk.show_shortcuts()
    wait(600)
    dialog.grab().save(str(OUT / "shortcuts.png"))
    dialog.close()

    # The tag editor's Try, in words; Settings' "Match scoring".
    from blipdesk.qt.widgets.tag_editor import TagEditorDialog
    from blipdesk.qt.workers.inference import TryJob, next_job_id

    photo = window.grid.current_photo()
    editor = TagEditorDialog(window.tags.tag("beach"), set(), photo.name, window)
    editor.show()
    tried = []
    window.controller.tried.connect(tried.append)
    window.controller.tried.connect(editor.show_try)
    editor.show_try_busy(f"Scoring {photo.name}…")
    job = TryJob(
        next_job_id(), window._model_choice(), path=photo.path, sentences=editor.sentence_list()
    )
    window.controller.submit(job)
    wait(30000, lambda: bool(tried))
    wait(400)
    editor.grab().save(str(OUT / "tag-editor.png"))
    editor.close()
    settings_dialog = window.open_settings()
    wait(1500)
    settings_dialog.grab().save(str(OUT / "settings.png"))
    settings_dialog.reject()
    window.close()
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
