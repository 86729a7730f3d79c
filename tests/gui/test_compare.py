"""Compare (issue 25, item 18): C shows two to four selected photos side by side, zoom and pan
linked across the panes, the rating, flag and colour keys on the active pane's photo; C is no
longer "clear the label" (that is Shift+C)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent

from blipdesk.domain import Rating
from tests.gui.test_desk import _window


def _select(window, rows):
    grid, photos = window.grid, window.photos
    grid.clearSelection()
    grid.setCurrentIndex(photos.index(rows[0]))
    for row in rows:
        grid.selectionModel().select(photos.index(row), grid.selectionModel().SelectionFlag.Select)
    grid.setFocus()


def _drag(widget, start: QPointF, end: QPointF) -> None:
    for kind, pos, buttons in (
        (QEvent.Type.MouseButtonPress, start, Qt.MouseButton.LeftButton),
        (QEvent.Type.MouseMove, end, Qt.MouseButton.LeftButton),
        (QEvent.Type.MouseButtonRelease, end, Qt.MouseButton.NoButton),
    ):
        event = QMouseEvent(
            kind, pos, widget.mapToGlobal(pos), Qt.MouseButton.LeftButton, buttons,
            Qt.KeyboardModifier.NoModifier,
        )  # fmt: skip
        widget.event(event)


def test_compare_side_by_side_keys_on_the_active_pane_zoom_and_pan_linked(
    qtbot, make_window, photo_dir
):
    window = _window(qtbot, make_window, photo_dir, 10)
    window.resize(1320, 820)
    window.show()
    qtbot.waitExposed(window)
    stack, photos, desk = window.stack, window.photos, window.desk
    book = desk.ratings.book
    _select(window, [0])
    qtbot.keyClick(window.grid, Qt.Key.Key_C)  # one photo: nothing to compare
    assert not stack.comparing()
    assert "two to four" in window.statusBar().currentMessage()
    _select(window, [1, 2, 3])
    qtbot.keyClick(window.grid, Qt.Key.Key_C)
    assert stack.comparing()
    compare = stack.compare
    chosen = [photos.photo_at(r).path for r in (1, 2, 3)]
    assert [p.path for p in compare.photos()] == chosen
    panes = compare.panes
    assert all(p.isVisible() for p in panes)
    assert panes[0].x() < panes[1].x() < panes[2].x()  # side by side
    qtbot.waitUntil(lambda: all(p.full_size is not None for p in panes), timeout=20000)
    # The keys act on the active pane's photo only.
    active = compare.active_pane()
    qtbot.keyClick(active, Qt.Key.Key_4)
    assert book[chosen[0]] == Rating(4, 0) and chosen[1] not in book
    qtbot.keyClick(active, Qt.Key.Key_Right)  # the next pane is active
    assert compare.active_photo().path == chosen[1] and panes[1].active and not panes[0].active
    qtbot.keyClick(compare.active_pane(), Qt.Key.Key_P)
    qtbot.keyClick(compare.active_pane(), Qt.Key.Key_6)
    assert book[chosen[1]] == Rating(0, 1, "red") and book[chosen[0]] == Rating(4, 0)
    qtbot.mouseClick(panes[2], Qt.MouseButton.LeftButton)  # a click makes a pane active
    assert compare.active_photo().path == chosen[2]
    qtbot.keyClick(panes[2], Qt.Key.Key_X)
    assert book[chosen[2]].flag == -1
    # Zoom in one pane: all zoom alike (the same multiple of each one's fit).
    for _ in range(3):
        qtbot.keyClick(panes[0], Qt.Key.Key_Plus, Qt.KeyboardModifier.ControlModifier)
    times = [p.scale() / p.fit_scale() for p in panes]
    assert times[0] > 1.5 and all(abs(t - times[0]) < 1e-6 for t in times)
    # Pan one: the others follow to the same point of their photos.
    centre = QPointF(panes[1].centre)
    middle = QPointF(panes[1].image_area().center())
    _drag(panes[1], middle, middle + QPointF(40, 30))
    assert panes[1].centre != centre
    assert all(p.centre == panes[1].centre for p in panes)
    # Esc: back to the grid; C with five selected compares the first four.
    qtbot.keyClick(compare.active_pane(), Qt.Key.Key_Escape)
    assert stack.currentWidget() is window.grid and not stack.comparing()
    _select(window, [0, 1, 2, 3, 4])
    qtbot.keyClick(window.grid, Qt.Key.Key_C)
    assert len(stack.compare.panes) == 4
    panes = stack.compare.panes
    assert panes[0].y() == panes[1].y() < panes[2].y() == panes[3].y()  # two by two
    qtbot.keyClick(stack.compare.active_pane(), Qt.Key.Key_C)  # C again: back
    assert not stack.comparing()
