"""Render the screenshots of the photographer's desk under Xvfb: the main window in the light and
the dark palette (information panel, ratings, flags and colour labels on the grid), the viewer
at fit with its filmstrip and zoomed to 100%, Help > Keyboard shortcuts, the tag editor's "Try"
and Settings.

    python scripts/screenshots_desk.py     # writes docs/screenshots/*.png

Starts ``Xvfb :96`` itself when ``DISPLAY`` is unset. A demo library scanned with the tiny random
model (which photos match is arbitrary: the pictures show the interface, not BLIP's accuracy).
"""

from __future__ import annotations

from pathlib import Path

import shots


def main() -> int:
    return shots.run(render, ":96")


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
    from tests.helpers.models import scene

    work = shots.workdir("blipdesk-desk-shots-")
    photos = work / "Holiday 2024"
    photos.mkdir(parents=True)
    for i in range(18):
        if i == 4:
            exif_photo(photos / f"DSCF{2000 + i}.jpg", i)
        else:
            scene(800 if i % 5 else 600, 600 if i % 5 else 800, i).save(
                photos / f"DSCF{2000 + i}.jpg", quality=88
            )
    model = shots.tiny_model(work)
    paths = shots.data_folder(work / "data", model=str(model), batch_size=8)

    from PySide6.QtCore import QItemSelectionModel, QPointF

    from blipdesk.qt.common.theme import apply_scheme
    from blipdesk.qt.common.values import Tag

    app, window = shots.open_window(paths, 1360, 860)
    shots.add_folder(window, photos, 18, ms=10000)
    for tag in (
        Tag("beach", ("a sandy beach by the sea",), 0.5, "#e6194b"),
        Tag("sunset", ("a sunset sky",), 0.5, "#f58231"),
        Tag("city", ("a busy city street",), 0.5, "#4363d8"),
    ):
        window.save_tag(tag)
    shots.scan(window)
    shots.median_thresholds(window)  # thresholds at each tag's median: dots to see

    # Ratings, flags and colour labels with the keys' actions, on a few selections.
    selection, grid = window.grid.selectionModel(), window.grid
    for rows, stars, flag, colour in (
        ((0, 4, 9), 5, 1, "green"),
        ((1, 6), 3, 0, "yellow"),
        ((2,), 0, -1, "red"),
        ((7, 11), 4, 0, ""),
        ((3,), 0, 0, "blue"),
    ):
        grid.clearSelection()
        for row in rows:
            selection.select(window.photos.index(row), QItemSelectionModel.SelectionFlag.Select)
        window.desk.ratings.set_stars(stars)
        if flag:
            window.desk.ratings.set_flag(flag)
        if colour:
            window.desk.ratings.set_colour(colour)
    grid.clearSelection()
    window.grid.setCurrentIndex(window.photos.index(4))
    shots.wait(2500, lambda: "Camera" in window.desk.info.values())
    shots.wait(800)
    for scheme in ("light", "dark"):
        apply_scheme(app, scheme)
        shots.wait(700)
        shots.save(window, f"main-window-{scheme}.png")
    shots.save(window.desk.info, "info-panel.png")
    shots.save(grid.viewport(), "ratings.png")

    # The viewer: fit with its filmstrip, then 100% panned onto a detail (dark palette around).
    window.stack.open_viewer(window.grid.current_photo())
    viewer = window.viewer
    shots.wait(
        8000, lambda: viewer.images.cached(viewer.photo.path, viewer.device_size()) is not None
    )
    shots.wait(600)
    shots.save(window, "viewer.png")
    viewer.zoom_actual()
    viewer.centre = QPointF(0.62, 0.4)
    viewer._clamp()
    from blipdesk.qt.workers.viewer_images import FULL

    shots.wait(15000, lambda: viewer.images.cached(viewer.photo.path, FULL) is not None)
    shots.wait(600)
    shots.save(window, "viewer-zoomed.png")
    window.stack.close_viewer()
    apply_scheme(app, "light")
    shots.wait(300)

    dialog = window.desk.show_shortcuts()
    shots.wait(600)
    shots.save(dialog, "shortcuts.png")
    dialog.close()

    # The tag editor's Try, in words; Settings' "Match scoring".
    photo = window.grid.current_photo()
    editor = shots.tag_editor_try(window, "beach", photo, busy=True, settle=400)
    shots.save(editor, "tag-editor.png")
    editor.close()
    shots.settings_shot(window, "settings.png")
    window.close()
    print(f"wrote {shots.OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
