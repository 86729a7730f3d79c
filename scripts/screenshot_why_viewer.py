"""Render docs/screenshots/why-viewer.png: "Why?" in the viewer, on the trained miniature BLIP.

    python scripts/screenshot_why_viewer.py [--word WORD]

A few drawn photos (tests/helpers/miniature.py) scanned with tests/data/miniature-blip, so the map
shows where the miniature really found the sentence's shape (not a random model's noise). Starts
``Xvfb :96`` itself when ``DISPLAY`` is unset (needs Xvfb).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import shots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--word", default=None, help="show this word's map, not the sentence's")
    parser.add_argument("--out", type=Path, default=shots.OUT / "why-viewer.png")
    args = parser.parse_args(argv)
    return shots.run(lambda: render(args.word, args.out), ":96")


def render(word: str | None, out: Path) -> int:
    from tests.helpers import miniature as mini

    work = shots.workdir("blipdesk-why-")
    photos = work / "Shapes"
    photos.mkdir()
    # square photos, items on the miniature's 8 x 8 patch grid (96-px cells), as it was trained
    drawn = [
        mini.Photo(
            768,
            768,
            (
                mini.Item("circle", "red", (96, 192, 384, 480)),
                mini.Item("square", "blue", (480, 384, 768, 672)),
            ),
            seed=41,
        ),
        mini.Photo(768, 768, (mini.Item("triangle", "yellow", (384, 96, 672, 384)),), seed=42),
        mini.Photo(
            768,
            768,
            (
                mini.Item("star", "white", (96, 384, 384, 672)),
                mini.Item("circle", "green", (480, 96, 672, 288)),
            ),
            seed=43,
        ),
    ]
    for i, photo in enumerate(drawn):
        mini.render(photo).save(photos / f"shapes_{i + 1}.png")
    paths = shots.data_folder(
        work / "data", model=str(shots.miniature_model()), batch_size=8, device="cpu"
    )

    from blipdesk.qt.common.values import Tag

    app, window = shots.open_window(paths, 1100, 760)
    shots.add_folder(window, photos, len(drawn), thumbs=False)
    window.save_tag(Tag("red circle", ("a red circle",), 0.5, "#e6194b"))
    window.save_tag(Tag("blue square", ("a blue square",), 0.5, "#4363d8"))
    shots.scan(window)
    shots.wait(600)
    first = next(p for p in window.photos.photos() if p.name == "shapes_1.png")
    window.grid.select_path(first.path)
    window.stack.open_viewer(first)
    why = window.stack.why.controls
    shots.wait(3000, lambda: window.previews.pixmap(first.path) is not None)
    explained: list[object] = []
    window.controller.explained.connect(explained.append)
    assert why.sentence is not None
    why.sentence.setCurrentText("a red circle")
    why.why.click()
    shots.wait(30000, lambda: bool(explained))
    if word:
        why.word.setCurrentText(word)
    shots.wait(800)
    shots.save(window, out)
    print(f"wrote {out}")
    window.close()  # stops the inference worker
    shots.wait(300)
    app.quit()
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
