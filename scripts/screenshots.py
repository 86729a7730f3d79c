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

import shots


def main() -> int:
    return shots.run(render, ":97")


def render() -> int:
    work = shots.workdir("blipdesk-shots-")
    photos = work / "Holiday 2024"
    shots.scenes(
        photos,
        24,
        lambda i: f"{('Beach', 'City', '')[i % 3]}/IMG_{1000 + i}.jpg".lstrip("/"),
        subfolders=("Beach", "City"),
    )
    model = shots.tiny_model(work)
    paths = shots.data_folder(work / "data", model=str(model), batch_size=8)

    from PySide6.QtCore import QTimer

    from blipdesk.qt.common.values import Tag

    app, window = shots.open_window(paths, 1360, 860)
    shots.add_folder(window, photos, 24)
    for tag in (
        Tag("beach", ("a sandy beach by the sea", "people on a beach"), 0.5, "#e6194b"),
        Tag("sunset", ("a sunset sky",), 0.5, "#f58231"),
        Tag("city", ("a busy city street",), 0.5, "#4363d8"),
        Tag("dog", ("a dog",), 0.5, "#3cb44b"),
    ):
        window.save_tag(tag)
    shots.scan(window)
    shots.wait(600)
    shots.median_thresholds(window)
    window.grid.setCurrentIndex(window.photos.index(4))
    first = window.detail.scores.topLevelItem(0)
    if first is not None:
        first.setExpanded(True)
    shots.wait(1500)
    shots.save(window, "main-window.png")

    # Why? on the photo's first sentence: the Grad-CAM map over the preview.
    explained = []
    window.controller.explained.connect(explained.append)
    if first is not None and first.childCount():
        window.detail.scores.setCurrentItem(first.child(0))
        window.detail.why.click()
        shots.wait(30000, lambda: bool(explained))
        shots.wait(500)
        shots.save(window, "why.png")
        window.detail.why.click()

    window.filter_bar.add_filter("beach", "and")
    window.filter_bar.add_filter("city", "not")
    shots.wait(800)
    shots.save(window, "filtered.png")
    window.filter_bar._remove("beach")
    window.filter_bar._remove("city")

    searched = []
    window.controller.searched.connect(searched.append)
    window.filter_bar.search.setText("a dog running on the sand")
    window.filter_bar._search()
    shots.wait(60000, lambda: bool(searched) and searched[-1].done)
    shots.wait(1000)
    shots.save(window, "search.png")
    window.filter_bar.search.clear()
    shots.wait(300)

    window.grid.setCurrentIndex(window.photos.index(4))
    window.stack.open_viewer(window.grid.current_photo())
    shots.wait(1500, lambda: window.previews.pixmap(window.viewer.photo.path) is not None)
    shots.wait(300)
    shots.save(window, "viewer.png")
    window.stack.close_viewer()

    dialog = shots.tag_editor_try(window, "beach", window.grid.current_photo())
    shots.save(dialog, "tag-editor.png")
    dialog.close()

    # Settings: the model choice and the vision cache with its size.
    shots.settings_shot(window, "settings.png")

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
    shots.wait(10000, lambda: bool(planned))
    shots.wait(400)
    shots.save(sidecar_dialog, "sidecars.png")
    sidecar_dialog.reject()
    window.close()
    shots.wait(300)
    raw_pairs_and_duplicates(work, model)
    QTimer.singleShot(0, app.quit)
    shutil.rmtree(work, ignore_errors=True)
    print("\n".join(str(p.relative_to(shots.ROOT)) for p in sorted(shots.OUT.glob("*.png"))))
    return 0


def raw_pairs_and_duplicates(work: Path, model: Path) -> None:
    """Issue 15: a RAW + JPEG pair (one photo, a ``RAW`` badge) and a copied photo (``2×``) in
    their own library; then Settings' Library rows."""
    from PIL import Image
    from PySide6.QtCore import QRect

    from tests.helpers.dng import scene, write_dng

    card = work / "Card 2024"
    shots.scenes(card, 5, lambda i: f"DSC_{3001 + i}.jpg")
    write_dng(card / "DSC_3000.dng", 1200, 800, preview="jpeg")
    Image.fromarray(scene(1200, 800, marker=True)).save(card / "DSC_3000.jpg", quality=88)
    shutil.copyfile(card / "DSC_3002.jpg", card / "DSC_3002 copy.jpg")
    paths = shots.data_folder(work / "data-card", model=str(model), batch_size=8)
    _app, window = shots.open_window(paths, 1360, 860)
    shots.add_folder(window, card, 7, ms=15000)  # 8 files: the pair is one photo
    shots.scan(window)
    shots.wait(
        5000, lambda: bool(window.photos._duplicates)
    )  # read from the cache after the shots.scan
    window.grid.select_path(str(card / "DSC_3000.jpg"))  # the pair: its files in the panel
    shots.wait(1500)
    shots.save(window, "grid-duplicates-raw.png")

    dialog = window.open_settings()
    shots.wait(1500)
    top = (dialog.batch.geometry().bottom() + dialog.recursive.geometry().top()) // 2
    bottom = dialog.first_token.geometry().top() - 4
    shots.save(dialog, "settings-library.png", QRect(0, top, dialog.width(), bottom - top))
    dialog.reject()
    window.close()
    shots.wait(300)


if __name__ == "__main__":
    sys.exit(main())
