"""Screenshots of teaching a tag (issue 13) under Xvfb, on the trained miniature (drawn shapes):
the grid with ✓ / ✗ label badges and the detail panel's label row, the yes / no menu of a click on
a thumbnail's tag dot, the review dialog, and the calibration proposal.

    python scripts/screenshots_teach.py     # writes docs/screenshots/teach-*.png

Starts ``Xvfb :96`` itself when ``DISPLAY`` is unset.
"""

from __future__ import annotations

import shots


def main() -> int:
    return shots.run(render, ":96")


def render() -> int:
    from tests.helpers import miniature as mini

    work = shots.workdir("blipdesk-teach-shots-")
    photos = work / "Shapes"
    photos.mkdir()
    drawn = mini.photos(30, seed=11)
    for i, photo in enumerate(drawn):
        mini.render(photo).resize((320, 240)).save(photos / f"shape_{i:03d}.png")
    paths = shots.data_folder(work / "data", model=str(shots.miniature_model()), batch_size=8)

    from blipdesk.qt.common.values import Tag

    app, window = shots.open_window(paths, 1360, 860)
    shots.add_folder(window, photos, 30)
    window.save_tag(Tag("red", ("a red shape",), 0.5, "#e6194b"))
    window.save_tag(Tag("circle", ("a circle",), 0.5, "#4363d8"))
    shots.scan(window)
    shots.wait(600)
    teach = window.labels
    tags = {t.name: t for t in window.tags.tags()}
    rows = [window.photos.photo_at(r).path for r in range(window.photos.rowCount())]
    truth = {str(photos / f"shape_{i:03d}.png"): p for i, p in enumerate(drawn)}

    def has(path: str, what: str) -> bool:
        return any(what in (it.shape, it.colour) for it in truth[path].items)

    # true labels, as a person would give them, on the first photos of the grid
    circles = [p for p in rows[:8] if has(p, "circle")]
    others = [p for p in rows[:8] if not has(p, "circle")]
    reds = [p for p in rows[:8] if has(p, "red")]
    not_red = [p for p in rows[:8] if not has(p, "red")]
    teach.label(True, tags["circle"], circles[:2])
    teach.label(False, tags["circle"], others[:1])
    teach.label(True, tags["red"], reds[:1])
    teach.label(False, tags["red"], not_red[1:2])
    shots.wait(3000, lambda: not teach._purpose)
    shots.wait(800)
    window.grid.setCurrentIndex(window.photos.index(window.photos.row_of(circles[0])))
    shots.wait(600)
    window.detail.scores.setCurrentItem(window.detail.scores.topLevelItem(0))
    shots.wait(1200)
    shots.save(window, "teach-labels.png")

    teach.start_review()
    shots.wait(10000, lambda: teach.review is not None)
    shots.wait(1500)
    shots.save(teach.review, "teach-review.png")
    teach.review.accept()
    teach.calibrate()
    shots.wait(10000, lambda: teach.proposal_box is not None)
    shots.wait(800)
    shots.save(teach.proposal_box, "teach-calibrate.png")
    teach.proposal_box.close()
    thumbnail_menu(app, window, rows[:8])
    window.grid.setCurrentIndex(window.photos.index(0))
    teach.more_like_this(top=8)
    shots.wait(5000, lambda: not teach._purpose)
    shots.wait(1200)
    shots.save(window, "teach-more-like-this.png")
    window.close()
    app.processEvents()
    print("\n".join(str(p) for p in sorted(shots.OUT.glob("teach-*.png"))))
    return 0


def thumbnail_menu(app, window, paths: list[str]) -> None:
    """A click on a tag's dot on a thumbnail: the yes / no menu, grabbed from the screen (a
    menu is a window of its own) around the photo."""
    from PySide6.QtCore import QRect, Qt
    from PySide6.QtTest import QTest

    grid = window.grid
    for path in paths:
        index = window.photos.index(window.photos.row_of(path))
        _box, placed = grid.delegate.placed_marks(grid.visualRect(index), index)
        dots = [r for r, _m, kind in placed if kind == "dot"]
        if dots and window.board.label(path, "circle") is None:
            break
    else:
        return
    QTest.mouseClick(
        grid.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, dots[0].center()
    )
    shots.wait(800)
    cell = grid.visualRect(index)
    top_left = grid.viewport().mapToGlobal(cell.topLeft())
    area = QRect(top_left.x() - 10, top_left.y() - 10, 470, 300)
    shot = app.primaryScreen().grabWindow(0, area.x(), area.y(), area.width(), area.height())
    shot.save(str(shots.OUT / "teach-thumbnail-menu.png"))
    window.labels.mark_menu.close()


if __name__ == "__main__":
    raise SystemExit(main())
