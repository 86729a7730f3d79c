"""The culling desk's keys (issue 25): every key that rates, flags or undoes works the same in the
grid, the windowed viewer and the full-screen viewer (full screen hides the menu bar, where those
keys used to live), and a session driven by keys alone lands in the store."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from blipdesk.domain import Rating
from blipdesk.services.ratings import load_ratings

KEYS = [
    (Qt.Key.Key_3, Rating(3, 0)),
    (Qt.Key.Key_5, Rating(5, 0)),
    (Qt.Key.Key_1, Rating(1, 0)),
    (Qt.Key.Key_2, Rating(2, 0)),
    (Qt.Key.Key_4, Rating(4, 0)),
    (Qt.Key.Key_P, Rating(0, 1)),
    (Qt.Key.Key_X, Rating(0, -1)),
]


def _window(qtbot, make_window, folder):
    window = make_window()
    window.add_folder(str(folder))
    qtbot.waitUntil(lambda: window.photos.rowCount() == 10, timeout=10000)
    qtbot.waitExposed(window)
    window.activateWindow()
    return window


def _enter(qtbot, window, mode):
    """The widget that has the keys in ``mode``, on the grid's first photo."""
    window.grid.setFocus()
    window.grid.setCurrentIndex(window.photos.index(0))
    if mode == "grid":
        return window.grid
    qtbot.keyClick(window.grid, Qt.Key.Key_Return)
    assert window.stack.currentWidget() is window.viewer
    if mode == "full screen":
        qtbot.keyClick(window.viewer, Qt.Key.Key_F)
        assert window.desk.full_screen() and not window.menuBar().isVisible()
    return window.viewer


@pytest.mark.parametrize("mode", ["grid", "viewer", "full screen"])
def test_rating_flag_and_undo_keys_work_in_every_mode(qtbot, make_window, photo_dir, mode):
    window = _window(qtbot, make_window, photo_dir)
    target = _enter(qtbot, window, mode)
    path = window.photos.photo_at(0).path
    ratings = window.desk.ratings
    for key, expected in KEYS:
        qtbot.keyClick(target, Qt.Key.Key_0)
        qtbot.keyClick(target, Qt.Key.Key_U)
        qtbot.keyClick(target, key)
        assert ratings.rating(path) == expected, (mode, key)
    qtbot.keyClick(target, Qt.Key.Key_U)
    assert ratings.rating(path) == Rating(0, 0)
    qtbot.keyClick(target, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert ratings.rating(path) == Rating(0, -1), mode  # the reject is back
    mods = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(target, Qt.Key.Key_Z, mods)
    assert ratings.rating(path) == Rating(0, 0), mode  # and gone again
    assert window.statusBar().full_message().startswith("Redid:") or window.desk.full_screen()


def test_keys_alone_cull_two_photos_and_the_store_holds_it(
    qtbot, make_window, photo_dir, app_paths
):
    """Click the first thumbnail, Enter, F, 3, P, →, 5, Ctrl+Z, Esc: three stars and a pick on
    the first photo, the second unrated, in the library (not only on the screen)."""
    window = _window(qtbot, make_window, photo_dir)
    grid = window.grid
    qtbot.mouseClick(
        grid.viewport(),
        Qt.MouseButton.LeftButton,
        pos=grid.visualRect(window.photos.index(0)).center(),
    )
    first, second = (window.photos.photo_at(r).path for r in (0, 1))
    qtbot.keyClick(grid, Qt.Key.Key_Return)
    viewer = window.viewer
    for key in (Qt.Key.Key_F, Qt.Key.Key_3, Qt.Key.Key_P, Qt.Key.Key_Right, Qt.Key.Key_5):
        qtbot.keyClick(viewer, key)
    assert viewer.photo.path == second
    qtbot.keyClick(viewer, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(viewer, Qt.Key.Key_Escape)
    assert not window.desk.full_screen() and window.stack.currentWidget() is grid
    tasks = window.desk.ratings.tasks
    qtbot.waitUntil(lambda: tasks.pool.activeThreadCount() == 0, timeout=10000)
    stored = load_ratings(str(app_paths.database), [first, second])
    assert stored.get(first) == Rating(3, 1)
    assert stored.get(second, Rating()) == Rating()
