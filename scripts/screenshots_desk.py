"""Render the screenshots of the photographer's desk under Xvfb: the main window in the light and
the dark palette (information panel, ratings and flags on the grid), the viewer at fit with its
filmstrip and zoomed to 100%, Help > Keyboard shortcuts, the tag editor's "Try" and Settings.

    python scripts/screenshots_desk.py     # writes docs/screenshots/*.png

Starts ``Xvfb :96`` itself when ``DISPLAY`` is unset. A demo library scanned with the tiny random
model (which photos match is arbitrary: the pictures show the interface, not BLIP's accuracy).
"""

from __future__ import annotations

from pathlib import Path

from shots import (
    OUT,
    add_folder,
    data_folder,
    median_thresholds,
    open_window,
    run,
    save,
    scan,
    tiny_model,
    wait,
    workdir,
)


def main() -> int:
    return run(render, ":96")


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

    work = workdir("blipdesk-desk-shots-")
    photos = work / "Holiday 2024"
    photos.mkdir(parents=True)
    for i in range(18):
        if i == 4:
            exif_photo(photos / f"DSCF{2000 + i}.jpg", i)
        else:
            scene(800 if i % 5 else 600, 600 if i % 5 else 800, i).save(
                photos / f"DSCF{2000 + i}.jpg", quality=88
            )
    model = tiny_model(work)
    paths = data_folder(work / "data", model=str(model), batch_size=8)

    from PySide6.QtCore import QItemSelectionModel, QPointF

    from blipdesk.qt.theme import apply_scheme
    from blipdesk.qt.values import Tag

    app, window = open_window(paths, 1360, 860)
    add_folder(window, photos, 18, ms=10000)
    for tag in (
        Tag("beach", ("a sandy beach by the sea",), 0.5, "#e6194b"),
        Tag("sunset", ("a sunset sky",), 0.5, "#f58231"),
        Tag("city", ("a busy city street",), 0.5, "#4363d8"),
    ):
        window.save_tag(tag)
    scan(window)
    median_thresholds(window)  # thresholds at each tag's median: dots to see

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
    for scheme in ("light", "dark"):
        apply_scheme(app, scheme)
        wait(700)
        save(window, f"main-window-{scheme}.png")
    save(window.desk.info, "info-panel.png")
    save(grid.viewport(), "ratings.png")

    # The viewer: fit with its filmstrip, then 100% panned onto a detail (dark palette around).
    window.stack.open_viewer(window.grid.current_photo())
    viewer = window.viewer
    wait(8000, lambda: viewer.images.cached(viewer.photo.path, viewer.device_size()) is not None)
    wait(600)
    save(window, "viewer.png")
    viewer.zoom_actual()
    viewer.centre = QPointF(0.62, 0.4)
    viewer._clamp()
    from blipdesk.qt.workers.viewer_images import FULL

    wait(15000, lambda: viewer.images.cached(viewer.photo.path, FULL) is not None)
    wait(600)
    save(window, "viewer-zoomed.png")
    window.stack.close_viewer()
    apply_scheme(app, "light")
    wait(300)

    dialog = window.desk.show_shortcuts()
    wait(600)
    save(dialog, "shortcuts.png")
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
    save(editor, "tag-editor.png")
    editor.close()
    settings_dialog = window.open_settings()
    wait(1500)
    save(settings_dialog, "settings.png")
    settings_dialog.reject()
    window.close()
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
