"""Screenshots of the grid's issue-14 states under Xvfb: first start, wrapped chips as groups,
a filter that matches nothing, the thumbnail slider at its largest, a smart view, More filters.

    python scripts/screenshots_grid.py     # writes docs/screenshots/grid-*.png
    BLIPDESK_COLOR_SCHEME=dark python scripts/screenshots_grid.py   # grid-*-dark.png

Starts ``Xvfb :91`` when ``DISPLAY`` is unset. Scores are put on the board by hand (no model):
the pictures show the interface.
"""

from __future__ import annotations

import os
import sys

import shots


def main() -> int:
    return shots.run(render, ":91", offline=False)


def render() -> int:
    from tests.helpers.models import scene

    work = shots.workdir("blipdesk-grid-shots-")
    photos = work / "Holiday 2024"
    shots.scenes(
        photos,
        24,
        lambda i: f"{('Beach', 'City', '')[i % 3]}/IMG_{1000 + i}.jpg".lstrip("/"),
        size=lambda i: (800, 600) if i % 4 else (600, 800),
        subfolders=("Beach", "City"),
    )
    (photos / "IMG_2000.png").write_bytes(b"")
    scene(640, 480, 99).save(photos / "IMG_2000.png")

    from blipdesk.qt.common.values import PhotoScores, SentenceScore, Tag
    from blipdesk.services.photo_filter import SortState

    paths = shots.data_folder(work / "data", env=False, feature_cache=False)
    app, window = shots.open_window(paths, 1320, 820)

    dark = "-dark" if os.environ.get("BLIPDESK_COLOR_SCHEME") == "dark" else ""

    def shot(name: str) -> None:
        shots.wait(400)
        print("wrote", shots.save(window, f"grid-{name}{dark}.png"))

    shots.wait(800)
    shot("first-start")

    shots.add_folder(window, photos, 25, ms=10000)
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
    shots.wait(600)
    bar = window.filter_bar
    for name, mode in (("beach", "or"), ("dog", "or"), ("cat", "or"), ("astronaut", "and"),
                       ("city at night", "not"), ("sunset", "not")):  # fmt: skip
        bar.add_filter(name, mode)
    bar.show_sort(SortState("score", "beach"))
    shots.wait(300)
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
    shots.wait(2000)
    shot("slider-large")
    window.close()
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
