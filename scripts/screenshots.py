"""Render the README's screenshots under Xvfb: a demo library scanned with the tiny random model.

    python scripts/screenshots.py          # writes docs/screenshots/*.png

Starts ``Xvfb :97`` itself when ``DISPLAY`` is unset (needs Xvfb). The scores come from a random
model, so which photos match is arbitrary: the pictures show the interface, not BLIP's accuracy.
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
        xvfb = subprocess.Popen(["Xvfb", ":97", "-screen", "0", "1400x900x24", "-nolisten", "tcp"])
        os.environ["DISPLAY"] = ":97"
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
    from tests.helpers.models import build_random_blip, scene

    work = Path(tempfile.mkdtemp(prefix="blipdesk-shots-"))
    photos = work / "Holiday 2024"
    (photos / "Beach").mkdir(parents=True)
    (photos / "City").mkdir()
    for i in range(24):
        sub = ("Beach", "City", "")[i % 3]
        scene(800, 600, i).save(photos / sub / f"IMG_{1000 + i}.jpg", quality=88)
    model = build_random_blip(work / "model")
    data = work / "data"
    os.environ["BLIPDESK_DATA_DIR"] = str(data)

    from blipdesk.paths import resolve_paths
    from blipdesk.settings import Settings, SettingsFile

    paths = resolve_paths(data).ensure()
    SettingsFile(paths.settings_file).save(Settings(model=str(model), batch_size=8))

    from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer

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
    wait(8000, lambda: window.photos.rowCount() == 24 and window.thumbs.cached_count() >= 24)
    for tag in (
        Tag("beach", ("a sandy beach by the sea", "people on a beach"), 0.5, "#e6194b"),
        Tag("sunset", ("a sunset sky",), 0.5, "#f58231"),
        Tag("city", ("a busy city street",), 0.5, "#4363d8"),
        Tag("dog", ("a dog",), 0.5, "#3cb44b"),
    ):
        window.save_tag(tag)
    done = []
    window.controller.scanFinished.connect(lambda outcome, _summary: done.append(outcome))
    window.scan()
    wait(120000, lambda: bool(done))
    wait(600)
    # Thresholds at each tag's median so that the dots and counts show something.
    from blipdesk.qt.models.tags import TagRoles

    for tag in window.tags.tags():
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
    window.grid.setCurrentIndex(window.photos.index(4))
    first = window.detail.scores.topLevelItem(0)
    if first is not None:
        first.setExpanded(True)
    wait(1500)
    OUT.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(OUT / "main-window.png"))

    # Why? on the photo's first sentence: the Grad-CAM map over the preview.
    explained = []
    window.controller.explained.connect(explained.append)
    if first is not None and first.childCount():
        window.detail.scores.setCurrentItem(first.child(0))
        window.detail.why.click()
        wait(30000, lambda: bool(explained))
        wait(500)
        window.grab().save(str(OUT / "why.png"))
        window.detail.why.click()

    window.filter_bar.add_filter("beach", "and")
    window.filter_bar.add_filter("city", "not")
    wait(800)
    window.grab().save(str(OUT / "filtered.png"))
    window.filter_bar._remove("beach")
    window.filter_bar._remove("city")

    searched = []
    window.controller.searched.connect(searched.append)
    window.filter_bar.search.setText("a dog running on the sand")
    window.filter_bar._search()
    wait(60000, lambda: bool(searched) and searched[-1].done)
    wait(1000)
    window.grab().save(str(OUT / "search.png"))
    window.filter_bar.search.clear()
    wait(300)

    window.grid.setCurrentIndex(window.photos.index(4))
    window.stack.open_viewer(window.grid.current_photo())
    wait(1500, lambda: window.previews.pixmap(window.viewer.photo.path) is not None)
    wait(300)
    window.grab().save(str(OUT / "viewer.png"))
    window.stack.close_viewer()

    from blipdesk.qt.widgets.tag_editor import TagEditorDialog

    dialog = TagEditorDialog(window.tags.tag("beach"), set(), "IMG_1004.jpg", window)
    dialog.show()
    tried = []
    window.controller.tried.connect(tried.append)
    window.controller.tried.connect(dialog.show_try)
    from blipdesk.qt.workers.inference import TryJob, next_job_id

    window.controller.submit(
        TryJob(
            next_job_id(),
            window._model_choice(),
            path=window.grid.current_photo().path,
            sentences=dialog.sentence_list(),
        )
    )
    wait(30000, lambda: bool(tried))
    wait(500)
    dialog.grab().save(str(OUT / "tag-editor.png"))
    dialog.close()

    # Settings: the model choice and the vision cache with its size.
    settings_dialog = window.open_settings()
    wait(1500)
    settings_dialog.grab().save(str(OUT / "settings.png"))
    settings_dialog.reject()

    # Sidecar preview: a few photos selected, one with a sidecar of its own already.
    from PySide6.QtCore import QItemSelectionModel

    (photos / "City" / "IMG_1001.jpg.xmp").write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:subject><rdf:Bag>'
        "<rdf:li>holiday</rdf:li></rdf:Bag></dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>",
        encoding="utf-8",
    )
    selection = window.grid.selectionModel()
    for row in range(0, 12):
        selection.select(window.photos.index(row), QItemSelectionModel.SelectionFlag.Select)
    planned = []
    sidecar_dialog = window.write_sidecars()
    sidecar_dialog.planned.connect(lambda: planned.append(True))
    wait(10000, lambda: bool(planned))
    wait(400)
    sidecar_dialog.grab().save(str(OUT / "sidecars.png"))
    sidecar_dialog.reject()
    window.close()
    QTimer.singleShot(0, app.quit)
    shutil.rmtree(work, ignore_errors=True)
    print("\n".join(str(p.relative_to(ROOT)) for p in sorted(OUT.glob("*.png"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
