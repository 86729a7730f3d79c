"""Auto-stacks for bursts (issue 25, item 18): frames taken within a second or two of each other
with near-identical pixels show as one stack in the grid, the best-rated on top with a count;
S opens and closes it. Another photo taken in the same second, or the same pixels taken later,
are no part of it."""

from __future__ import annotations

from PIL import Image, ImageEnhance
from PySide6.QtCore import Qt

from blipdesk.core import exif
from blipdesk.core.engine import ScanOptions, model_key, scan
from blipdesk.core.model import ModelSpec
from blipdesk.domain.near import BURST_SECONDS, bursts, stack_top
from blipdesk.store import Library
from tests.gui.test_desk import _window
from tests.helpers.models import scene


def _save(im: Image.Image, path, when: str | None, quality: int = 90) -> None:
    e = Image.Exif()
    if when is not None:
        e.get_ifd(exif.EXIF_IFD)[exif.DATETIME_ORIGINAL] = when
    im.save(path, quality=quality, exif=e)


def test_bursts_are_runs_of_near_identical_frames_seconds_apart():
    a, a2 = bytes(18), bytes([1] + [0] * 17)
    far = bytes([255] * 18)
    frames = [
        ("b1", a, 100.0), ("b2", a2, 100.5), ("b3", a, 101.9),  # a burst, each near the last
        ("other", far, 100.7),  # another photo in the same second
        ("later", a, 100.0 + 60),  # the same pixels, a minute on
        ("untimed", a, None), ("unhashed", None, 100.2),
    ]  # fmt: skip
    assert bursts(frames) == [("b1", "b2", "b3")]
    assert bursts([("x", a, 0.0), ("y", a, BURST_SECONDS + 0.5)]) == []
    ratings = {"b1": (3, 0), "b2": (5, -1), "b3": (3, 1)}
    assert stack_top(("b1", "b2", "b3"), ratings.__getitem__) == "b3"  # the reject never on top
    assert stack_top(("b1", "b2"), lambda _p: (0, 0)) == "b1"  # unrated: the first taken


def test_a_burst_is_one_stack_in_the_grid_best_rated_on_top_s_opens_it(
    qtbot, make_window, tmp_path, app_paths, tiny_model_dir, tiny_scorer
):
    folder = tmp_path / "shoot"
    folder.mkdir()
    base = scene(640, 480, 3)
    _save(base, folder / "IMG_0001.jpg", "2024:07:01 12:30:05")
    _save(
        ImageEnhance.Brightness(base).enhance(1.05), folder / "IMG_0002.jpg", "2024:07:01 12:30:06"
    )
    _save(base, folder / "IMG_0003.jpg", "2024:07:01 12:30:06", quality=70)
    _save(scene(640, 480, 4), folder / "IMG_0004.jpg", "2024:07:01 12:30:06")  # another photo
    _save(base, folder / "IMG_0005.jpg", "2024:07:01 12:45:00", quality=80)  # later: no burst
    _save(scene(640, 480, 5), folder / "IMG_0006.jpg", None)
    with Library.open(app_paths.database) as lib:
        key = model_key(ModelSpec(str(tiny_model_dir)))
        options = ScanOptions(batch_size=4, use_processes=False, decode_workers=1)
        scan(lib, [folder], (), key, lambda: tiny_scorer, options)
    window = _window(qtbot, make_window, folder, 6)
    stacks, photos = window.desk.stacks, window.photos
    qtbot.waitUntil(lambda: photos.rowCount() == 4, timeout=10000)  # 3 frames, one shown
    burst = tuple(str(folder / f"IMG_000{i}.jpg") for i in (1, 2, 3))
    assert stacks.groups == [burst]
    shown = [photos.photo_at(r).path for r in range(photos.rowCount())]
    assert burst[0] in shown and not {burst[1], burst[2]} & set(shown)
    assert stacks.badge(burst[0]) == "▣3"
    assert photos.counts_text() == "4 of 6 photos shown"
    # S on the stack opens it: every frame, each with its place in the stack.
    window.grid.setCurrentIndex(photos.index(photos.row_of(burst[0])))
    window.grid.setFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_S)
    assert photos.rowCount() == 6 and stacks.badge(burst[2]) == "▣3/3"
    # The best rated goes on top when the stack closes again.
    window.grid.setCurrentIndex(photos.index(photos.row_of(burst[2])))
    qtbot.keyClick(window.grid, Qt.Key.Key_5)
    qtbot.keyClick(window.grid, Qt.Key.Key_S)
    assert photos.rowCount() == 4
    shown = [photos.photo_at(r).path for r in range(photos.rowCount())]
    assert burst[2] in shown and burst[0] not in shown
