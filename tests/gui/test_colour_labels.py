"""Colour labels in the window (issue 25, item 16): the keys 6-9 (red, yellow, green, blue, as in
Lightroom; purple from Photo > Colour label) on the grid's selection, on the photo in the viewer
and in full screen (its menu bar hidden); the key of the label a photo has takes it off; the
swatch under the thumbnail; Photo > Show only keeps one colour; saved by content."""

from __future__ import annotations

from PySide6.QtCore import Qt

from blipdesk.domain import Rating
from blipdesk.services.ratings import load_ratings
from tests.gui.test_desk import _open, _window

KEYS = {Qt.Key.Key_6: "red", Qt.Key.Key_7: "yellow", Qt.Key.Key_8: "green", Qt.Key.Key_9: "blue"}


def test_colour_keys_in_the_grid_the_viewer_and_full_screen(
    qtbot, make_window, photo_dir, app_paths
):
    window = _window(qtbot, make_window, photo_dir, 10)
    grid, photos, desk = window.grid, window.photos, window.desk
    book = desk.ratings.book
    grid.setFocus()
    for row, (key, colour) in enumerate(KEYS.items()):
        grid.setCurrentIndex(photos.index(row))
        qtbot.keyClick(grid, Qt.Key.Key_3)
        qtbot.keyClick(grid, key)
        assert book[photos.photo_at(row).path] == Rating(3, 0, colour)  # the stars stay
    qtbot.keyClick(grid, Qt.Key.Key_9)  # blue again on a blue photo: taken off
    assert book[photos.photo_at(3).path] == Rating(3, 0)
    assert window.statusBar().currentMessage() == "No colour label on 1 photo"
    # Purple has no key (as in Lightroom): the menu.
    purple = next(a for a in desk.colour_actions if a.text() == "Purple")
    grid.setCurrentIndex(photos.index(4))
    purple.trigger()
    assert book[photos.photo_at(4).path].colour == "purple"
    # The swatch is drawn in the strip under the thumbnail (red, on photo 0).
    image = grid.viewport().grab().toImage()
    rect = grid.visualRect(photos.index(0))
    bottom = rect.top() + 8 + grid.delegate.thumb * 3 // 4
    assert any(
        (c := image.pixelColor(x, y)).red() > 180 and c.green() < 90 and c.blue() < 90
        for x in range(rect.left(), rect.right())
        for y in range(bottom, bottom + 22)
    )
    # The viewer: the key labels the photo shown.
    viewer = _open(qtbot, window, 5)
    qtbot.keyClick(viewer, Qt.Key.Key_8)
    assert book[viewer.photo.path].colour == "green"
    assert "green label" in desk.ratings.text(viewer.photo.path)
    # Full screen: the menu bar is hidden, the keys still work.
    desk.toggle_full_screen()
    assert desk.full_screen() and not window.menuBar().isVisible()
    viewer.step.emit(1)
    shown = viewer.photo.path
    qtbot.keyClick(viewer, Qt.Key.Key_7)
    assert book[shown].colour == "yellow"
    qtbot.keyClick(viewer, Qt.Key.Key_Escape)
    # Photo > Show only: one colour.
    desk.filter_actions["Yellow label"].trigger()
    kept = {photos.photo_at(r).path for r in range(photos.rowCount())}
    assert kept == {p for p, r in book.items() if r.colour == "yellow"} and shown in kept
    chip = desk.filter_bar.criterion_chip("rating")  # a chip of the one filter
    assert chip is not None and "yellow label" in chip.toolTip()
    desk.filter_actions["Any rating"].trigger()
    assert photos.rowCount() == 10
    qtbot.waitUntil(lambda: desk.ratings.tasks.pool.activeThreadCount() == 0)
    saved = load_ratings(str(app_paths.database), [shown])
    assert saved == {shown: book[shown]}
