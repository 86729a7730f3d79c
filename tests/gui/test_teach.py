"""Issue 13 in the window: ✓ / ✗ labels on a selection (buttons and keys), undo, the review queue
with the keyboard, a calibration proposal applied, a tag from examples, more like this."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QItemSelectionModel, QPoint, Qt

from blipdesk.qt.models.photos import Roles
from blipdesk.services.options import model_choice, read_key
from blipdesk.store import Library


def _select(window, rows) -> list[str]:
    sel = window.grid.selectionModel()
    sel.clearSelection()
    for row in rows:
        sel.select(window.photos.index(row), QItemSelectionModel.SelectionFlag.Select)
    window.grid.setCurrentIndex(window.photos.index(rows[0]))
    for row in rows:
        sel.select(window.photos.index(row), QItemSelectionModel.SelectionFlag.Select)
    return [window.photos.photo_at(r).path for r in rows]


def _labels(window) -> dict:
    with Library.open(window.paths.database, readonly=True) as lib:
        return lib.tag_labels("beach")


def _wait_tasks(qtbot, window) -> None:
    qtbot.waitUntil(lambda: not window.labels._purpose, timeout=20000)


def test_labels_undo_review_calibrate_examples_and_more_like_this(qtbot, scanned_window):
    from PySide6.QtTest import QTest

    window = scanned_window
    teach = window.labels
    chosen = _select(window, [0, 1])
    teach.label(True)
    # shown at once, before the write lands
    assert all(window.board.matches(p, window.tags.tags()[0]) for p in chosen)
    assert window.photos.index(0).data(Roles.Labels) == [("#e6194b", True)]
    _wait_tasks(qtbot, window)
    assert sorted(_labels(window).values()) == [True, True]
    top = window.detail.scores.topLevelItem(0)
    assert top.text(0) == "beach  ✓" and top.data(0, Qt.ItemDataRole.UserRole) == "beach"

    # the N key on the grid: a rejection, kept and shown
    _select(window, [2])
    window.grid.setFocus()
    QTest.keyClick(window.grid, Qt.Key.Key_N)
    _wait_tasks(qtbot, window)
    assert sorted(_labels(window).values()) == [False, True, True]
    assert window.photos.index(2).data(Roles.Labels) == [("#e6194b", False)]
    assert not window.board.matches(window.photos.photo_at(2).path, window.tags.tags()[0])
    # undo (Edit > Undo, one step of the window's stack): shown at once, then in the cache
    window.undo_actions.undo()
    assert window.statusBar().full_message() == "Undid: “beach”: no on 1 photo"
    assert window.board.label(window.photos.photo_at(2).path, "beach") is None
    _wait_tasks(qtbot, window)
    # The cache read after the write has landed (its labels are on the board): it left the
    # board as it was.
    qtbot.waitUntil(lambda: not teach._shown, timeout=10000)
    assert window.board.label(window.photos.photo_at(2).path, "beach") is None
    assert window.board.label(chosen[0], "beach") is True
    assert sorted(_labels(window).values()) == [True, True]

    # review borderline with the keyboard: yes, skip, no
    teach.start_review()
    qtbot.waitUntil(lambda: teach.review is not None, timeout=20000)
    dialog = teach.review
    first = dialog.content
    assert first is not None and first not in _labels(window)
    assert dialog.chance.isHidden()  # 2 labels so far: the queue's own pick
    QTest.keyClick(dialog, Qt.Key.Key_Y)
    # the fourth answer's photo is drawn at random, and the dialog says so
    assert not dialog.chance.isHidden() and "at random" in dialog.chance.text()
    QTest.keyClick(dialog, Qt.Key.Key_S)
    assert dialog.chance.isHidden()
    QTest.keyClick(dialog, Qt.Key.Key_N)
    _wait_tasks(qtbot, window)
    labels = _labels(window)
    assert labels[first] is True and len(labels) == 4 and sorted(labels.values()).count(False) == 1
    assert "1 no" in dialog.facts.text()
    dialog.accept()

    # calibrate: the proposal, then applied (read-time: no scan)
    teach.calibrate()
    qtbot.waitUntil(lambda: teach.proposal_box is not None, timeout=20000)
    box = teach.proposal_box
    # plain words first (what is gained and risked), the figures one click away
    assert "You labelled 3 photos yes and 1 no." in box.text()
    assert "F1" not in box.text() and "logistic" not in box.text()
    assert "would gain the tag" in box.text() or "do not point to a better rule" in box.text()
    details = box.detailedText()
    assert "Held out one at a time" in details and "3 yes and 1 no" in details
    assert "Estimated F1 over these photos: today ≈" in details
    assert "(rough: from 4 labels, most near the boundary" in details
    apply = next(b for b in box.buttons() if b.text() == "Apply")
    apply.click()
    _wait_tasks(qtbot, window)
    with Library.open(window.paths.database, readonly=True) as lib:
        key = read_key(lib, model_choice(window.settings))
        assert key is not None
    # every labelled photo still follows its label
    tag = window.tags.tags()[0]
    for path in chosen:
        assert window.board.matches(path, tag)

    # a tag from examples alone
    _select(window, [3, 4])
    teach.from_examples("Miso")
    _wait_tasks(qtbot, window)
    miso = next(t for t in window.tags.tags() if t.name == "Miso")
    assert miso.sentences == ()
    qtbot.waitUntil(lambda: window.board.label(window.photos.photo_at(3).path, "Miso") is True)

    # more like this: the folder ranked by likeness to the selection
    query = _select(window, [0])[0]
    teach.more_like_this(top=5)
    _wait_tasks(qtbot, window)
    assert window.photos.filter.search is not None
    assert 2 <= window.photos.rowCount() <= 6  # the chosen photo first, then the 5 most alike
    assert window.photos.photo_at(0).path == query
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus.index("&Tags") < menus.index("T&each") < menus.index("&Help")
    assert "More like this" in window.statusBar().currentMessage()


@pytest.mark.qt_log_ignore("does not support raise", "does not support grabbing the keyboard")
def test_a_click_on_a_thumbnails_tag_labels_that_photo_and_show_only_filters_by_label(
    qtbot, scanned_window
):
    """The ✓ / ✗ on a thumbnail's tag: a click on the tag's dot (or on the label badge it
    becomes) offers yes / no / clear for that photo and tag; Teach > Show only keeps the photos
    by their labels, and the empty grid says where to turn that off."""
    from PySide6.QtTest import QTest

    from blipdesk.qt.common.values import Tag
    from blipdesk.qt.controllers.label_actions import ANY_LABEL

    window, teach, grid = scanned_window, scanned_window.labels, scanned_window.grid
    window.save_tag(Tag("beach", ("a dog on a beach",), 0.0, "#e6194b"))  # every photo carries it
    qtbot.waitUntil(lambda: window.photos.index(1).data(Roles.TagColours) == ["#e6194b"])
    path = window.photos.photo_at(1).path

    def placed():
        index = window.photos.index(window.photos.row_of(path))
        return grid.delegate.placed_marks(grid.visualRect(index), index)

    def click(point) -> None:
        QTest.mouseClick(
            grid.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point
        )

    box, marks = placed()
    ((dot, mark, kind),) = marks
    # in the strip under the photo (qt/common/badges.py), on its left: never over the photo
    assert kind == "dot" and mark.tag == "beach" and not box.intersects(dot)
    assert dot.center().x() < box.center().x() and dot.top() > box.bottom()
    _select(window, [0])
    click(dot.center() + QPoint(2, 1))  # a little off the dot's centre still lands on it
    menu = teach.mark_menu
    assert menu is not None and menu.isVisible()
    assert grid.current_photo().path == path  # the clicked photo is selected
    assert window.labels.current_tag() is not None
    texts = [a.text() for a in menu.actions() if a.text()]
    assert texts[0].startswith("“beach” on ") and texts[1:] == [
        "Yes, it applies",
        "No, it does not",
        "Clear my label",
    ]
    assert not menu.actions()[-1].isEnabled()  # nothing to clear yet
    next(a for a in menu.actions() if a.text().startswith("No")).trigger()
    menu.close()
    _wait_tasks(qtbot, window)
    assert list(_labels(window).values()) == [False]
    assert window.board.label(path, "beach") is False
    assert window.board.label(window.photos.photo_at(0).path, "beach") is None  # only that photo

    # now a ✗ badge bottom right (no dot: the photo no longer carries the tag); a click on it
    # offers the same, "No" checked
    box, marks = placed()
    ((badge, mark, kind),) = marks
    assert kind == "label" and mark.label is False and badge.center().x() > box.center().x()
    click(badge.center())
    menu = teach.mark_menu
    checked = [a.text() for a in menu.actions() if a.isChecked()]
    assert checked == ["No, it does not"] and menu.actions()[-1].isEnabled()
    menu.close()
    # a click elsewhere on a thumbnail selects it and opens no menu
    teach.mark_menu = None
    click(box.center())
    assert teach.mark_menu is None and grid.current_photo().path == path

    # Teach > Show only
    teach.show_actions["✗ Rejected (any tag)"].trigger()
    assert [p.path for p in window.photos.visible_photos()] == [path]
    teach.show_only("Not labelled")
    assert window.photos.rowCount() == 9 and window.photos.row_of(path) == -1
    teach.show_only("✓ Confirmed (any tag)")
    qtbot.waitUntil(lambda: window.flow.empty.isVisible())
    assert f"the label filter: Teach &gt; Show only &gt; {ANY_LABEL}" in window.flow.empty.text()
    teach.show_only(ANY_LABEL)
    assert window.photos.rowCount() == 10 and teach.show_actions[ANY_LABEL].isChecked()
