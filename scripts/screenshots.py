"""Render the README's screenshots under Xvfb: a demo library scanned with the tiny random model.

    python scripts/screenshots.py          # writes docs/screenshots/*.png

Starts ``Xvfb :97`` itself when ``DISPLAY`` is unset (needs Xvfb). The scores come from a random
model, so which photos match is arbitrary: the pictures show the interface, not BLIP's accuracy.
Last, issue 15's shots: a RAW + JPEG pair (a DNG from tests/helpers/dng.py) and a copied photo in
their own library (grid-duplicates-raw.png), and Settings' Library rows (settings-library.png).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from shots import (
    OUT,
    ROOT,
    add_folder,
    data_folder,
    median_thresholds,
    open_window,
    run,
    save,
    scan,
    scenes,
    tiny_model,
    wait,
    workdir,
)


def main() -> int:
    return run(render, ":97")


def render() -> int:
    work = workdir("blipdesk-shots-")
    photos = work / "Holiday 2024"
    scenes(
        photos,
        24,
        lambda i: f"{('Beach', 'City', '')[i % 3]}/IMG_{1000 + i}.jpg".lstrip("/"),
        subfolders=("Beach", "City"),
    )
    model = tiny_model(work)
    paths = data_folder(work / "data", model=str(model), batch_size=8)

    from PySide6.QtCore import QTimer

    from blipdesk.qt.values import Tag

    app, window = open_window(paths, 1360, 860)
    add_folder(window, photos, 24)
    for tag in (
        Tag("beach", ("a sandy beach by the sea", "people on a beach"), 0.5, "#e6194b"),
        Tag("sunset", ("a sunset sky",), 0.5, "#f58231"),
        Tag("city", ("a busy city street",), 0.5, "#4363d8"),
        Tag("dog", ("a dog",), 0.5, "#3cb44b"),
    ):
        window.save_tag(tag)
    scan(window)
    wait(600)
    median_thresholds(window)
    window.grid.setCurrentIndex(window.photos.index(4))
    first = window.detail.scores.topLevelItem(0)
    if first is not None:
        first.setExpanded(True)
    wait(1500)
    save(window, "main-window.png")

    # Why? on the photo's first sentence: the Grad-CAM map over the preview.
    explained = []
    window.controller.explained.connect(explained.append)
    if first is not None and first.childCount():
        window.detail.scores.setCurrentItem(first.child(0))
        window.detail.why.click()
        wait(30000, lambda: bool(explained))
        wait(500)
        save(window, "why.png")
        window.detail.why.click()

    window.filter_bar.add_filter("beach", "and")
    window.filter_bar.add_filter("city", "not")
    wait(800)
    save(window, "filtered.png")
    window.filter_bar._remove("beach")
    window.filter_bar._remove("city")

    searched = []
    window.controller.searched.connect(searched.append)
    window.filter_bar.search.setText("a dog running on the sand")
    window.filter_bar._search()
    wait(60000, lambda: bool(searched) and searched[-1].done)
    wait(1000)
    save(window, "search.png")
    window.filter_bar.search.clear()
    wait(300)

    window.grid.setCurrentIndex(window.photos.index(4))
    window.stack.open_viewer(window.grid.current_photo())
    wait(1500, lambda: window.previews.pixmap(window.viewer.photo.path) is not None)
    wait(300)
    save(window, "viewer.png")
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
    save(dialog, "tag-editor.png")
    dialog.close()

    # Settings: the model choice and the vision cache with its size.
    settings_dialog = window.open_settings()
    wait(1500)
    save(settings_dialog, "settings.png")
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
    save(sidecar_dialog, "sidecars.png")
    sidecar_dialog.reject()
    window.close()
    wait(300)
    raw_pairs_and_duplicates(work, model)
    QTimer.singleShot(0, app.quit)
    shutil.rmtree(work, ignore_errors=True)
    print("\n".join(str(p.relative_to(ROOT)) for p in sorted(OUT.glob("*.png"))))
    return 0


def raw_pairs_and_duplicates(work: Path, model: Path) -> None:
    """Issue 15: a RAW + JPEG pair (one photo, a ``RAW`` badge) and a copied photo (``2×``) in
    their own library; then Settings' Library rows."""
    from PIL import Image
    from PySide6.QtCore import QRect

    from tests.helpers.dng import scene, write_dng

    card = work / "Card 2024"
    scenes(card, 5, lambda i: f"DSC_{3001 + i}.jpg")
    write_dng(card / "DSC_3000.dng", 1200, 800, preview="jpeg")
    Image.fromarray(scene(1200, 800, marker=True)).save(card / "DSC_3000.jpg", quality=88)
    shutil.copyfile(card / "DSC_3002.jpg", card / "DSC_3002 copy.jpg")
    paths = data_folder(work / "data-card", model=str(model), batch_size=8)
    _app, window = open_window(paths, 1360, 860)
    add_folder(window, card, 7, ms=15000)  # 8 files: the pair is one photo
    scan(window)
    wait(5000, lambda: bool(window.photos._duplicates))  # read from the cache after the scan
    window.grid.select_path(str(card / "DSC_3000.jpg"))  # the pair: its files in the panel
    wait(1500)
    save(window, "grid-duplicates-raw.png")

    dialog = window.open_settings()
    wait(1500)
    top = (dialog.batch.geometry().bottom() + dialog.recursive.geometry().top()) // 2
    bottom = dialog.first_token.geometry().top() - 4
    save(dialog, "settings-library.png", QRect(0, top, dialog.width(), bottom - top))
    dialog.reject()
    window.close()
    wait(300)


if __name__ == "__main__":
    sys.exit(main())
