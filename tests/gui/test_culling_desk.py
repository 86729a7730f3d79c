"""The culling desk (issue 25) in the window: More like this ranks what it is asked (the menu's
``checked`` never reaches ``top``), every mode that filters the grid is named over it and left
with Esc or ✕, and every change a person makes is one step of Edit > Undo."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, Qt

from blipdesk.domain import Rating
from blipdesk.qt.common.values import Tag
from blipdesk.qt.models.tags import TagRoles


def _window(qtbot, make_window, folder, rows=10):
    window = make_window()
    window.add_folder(str(folder))
    qtbot.waitUntil(lambda: window.photos.rowCount() == rows, timeout=10000)
    return window


def _select(window, rows):
    sel = window.grid.selectionModel()
    window.grid.setCurrentIndex(window.photos.index(rows[0]))
    for row in rows:
        sel.select(window.photos.index(row), QItemSelectionModel.SelectionFlag.Select)
    return [window.photos.photo_at(r).path for r in rows]


def test_menu_actions_never_hand_checked_to_a_defaulted_parameter(
    qtbot, make_window, photo_dir, monkeypatch
):
    """Teach > More like this and New tag from examples, chosen from the menu: the ranking asks
    for its 200 photos (not top=False) and the name typed is the tag's (not False)."""
    from PySide6.QtWidgets import QInputDialog

    window = _window(qtbot, make_window, photo_dir)
    teach = window.labels
    started = []
    monkeypatch.setattr(teach, "_start", lambda purpose, fn, *args: started.append((purpose, args)))
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("Miso", True))
    _select(window, [0])
    teach.like_action.trigger()
    teach.examples_action.trigger()
    (like, args), (examples, named) = started
    assert like == "like" and args[-1] == 200
    assert examples == "examples" and named[1] == "Miso"


def test_more_like_this_is_named_over_the_grid_and_esc_leaves_it(qtbot, scanned_window):
    window = scanned_window
    bar, grid = window.mode_bar, window.grid
    assert not bar.isVisible()
    name = window.photos.photo_at(0).name
    _select(window, [0])
    window.labels.more_like_this(top=2)
    qtbot.waitUntil(lambda: window.photos.filter.search is not None, timeout=20000)
    qtbot.waitUntil(lambda: bar.isVisible(), timeout=5000)
    assert bar.modes() == [f"Search: more like “{name}”"]
    assert window.filter_bar.search.text() == ""  # no text in the box: the banner names it
    assert window.photos.rowCount() < 10
    grid.setFocus()
    qtbot.keyClick(grid, Qt.Key.Key_Escape)
    assert window.photos.filter.search is None and window.photos.rowCount() == 10
    qtbot.waitUntil(lambda: not bar.isVisible(), timeout=5000)


def test_every_show_only_mode_is_named_and_left_with_its_cross_or_esc(
    qtbot, make_window, photo_dir
):
    from blipdesk.qt.controllers.label_actions import ANY_LABEL

    window = _window(qtbot, make_window, photo_dir)
    bar, photos = window.mode_bar, window.photos
    window.grid.setFocus()
    window.grid.setCurrentIndex(photos.index(0))
    qtbot.keyClick(window.grid, Qt.Key.Key_4)
    window.desk.filter_actions["★★★ or more"].trigger()
    window.labels.show_actions["Not labelled"].trigger()
    window.live.duplicates_action.setChecked(True)
    # each a criterion of the one filter: a chip with its ✕ in the filter bar
    chips = window.filter_bar
    assert all(chips.criterion_chip(k) is not None for k in ("rating", "labels", "duplicates"))
    assert photos.rowCount() == 0
    # ✕ on the rating chip: the menu follows (Any rating is checked again)
    chips.criterion_chip("rating").remove_button().click()
    assert window.desk.filter_actions["Any rating"].isChecked()
    assert chips.criterion_chip("rating") is None
    # Esc in the search box leaves the rest
    window.filter_bar.search.setFocus()
    qtbot.keyClick(window.filter_bar.search, Qt.Key.Key_Escape)
    assert window.labels.show_actions[ANY_LABEL].isChecked()
    assert not window.live.duplicates_action.isChecked()
    assert photos.rowCount() == 10 and chips.state() == type(chips.state())()
    qtbot.waitUntil(lambda: not bar.isVisible(), timeout=5000)


def test_undo_and_redo_every_change_named_in_the_status_bar(
    qtbot, make_window, photo_dir, use_tiny_model
):
    window = _window(qtbot, make_window, photo_dir)
    undo, status = window.undo_actions, window.statusBar()
    ratings = window.desk.ratings
    paths = _select(window, [0, 1, 2, 3])
    window.grid.setFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_3)  # a bulk change: one step
    assert all(ratings.rating(p) == Rating(3, 0) for p in paths)
    assert undo.undo_action.text() == "&Undo 3 stars on 4 photos"
    undo.undo()
    assert status.full_message() == "Undid: 3 stars on 4 photos"
    assert all(ratings.rating(p) == Rating() for p in paths)
    undo.redo()
    assert status.full_message() == "Redid: 3 stars on 4 photos"
    assert all(ratings.rating(p) == Rating(3, 0) for p in paths)
    # tags: added, edited (renamed), removed, threshold dragged: each one step
    tags = window.tags
    window.save_tag(Tag("sea", ("the sea",), 0.5))
    window.save_tag(Tag("ocean", ("the sea",), 0.5), replacing=tags.tag("sea"))
    assert [t.name for t in tags.tags()] == ["ocean"]
    index = tags.index(tags.row_of("ocean"))
    for value in (0.55, 0.6, 0.7):  # the slider's moves
        tags.setData(index, value, TagRoles.Threshold)
    assert undo.undo_action.text() == "&Undo “ocean”: threshold 70%"
    undo.undo()
    assert tags.tag("ocean").threshold == 0.5
    undo.undo()
    assert [t.name for t in tags.tags()] == ["sea"]
    undo.undo()
    assert tags.tags() == [] and status.full_message() == "Undid: “sea”: new tag"
    undo.redo()
    assert [t.name for t in tags.tags()] == ["sea"]
    window.undo.clear()
    undo.undo()
    assert status.full_message() == "Nothing to undo."


def test_the_information_panel_follows_a_file_changed_on_disk(qtbot, make_window, tmp_path):
    """The watcher re-lists the folder after the selected photo's file changed: the panel reads
    it again (it kept the old size and pixels)."""
    import os

    from PIL import Image

    from tests.unit.test_ratings import _jpeg_with_exif

    folder = tmp_path / "live"
    folder.mkdir()
    target = folder / "a.jpg"
    _jpeg_with_exif(str(target))
    Image.new("RGB", (30, 20)).save(folder / "b.png")
    window = _window(qtbot, make_window, folder, rows=2)
    window.grid.select_path(str(target))
    info = window.desk.info
    qtbot.waitUntil(lambda: info.values().get("Pixels", "").startswith("60 × 40"), timeout=10000)
    Image.new("RGB", (90, 30), "red").save(target, quality=90)
    later = os.stat(target).st_mtime + 5
    os.utime(target, (later, later))
    window.live.watcher.changed.emit([str(folder)])  # what the watcher says
    qtbot.waitUntil(lambda: info.values().get("Pixels", "").startswith("90 × 30"), timeout=10000)
    assert "Camera" not in info.values()


def test_a_calibrated_tag_says_so_and_its_slider_does_not_move(qtbot, make_window):
    from PySide6.QtCore import QEvent, QPointF
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QStyleOptionViewItem

    from blipdesk.domain import Calibration
    from blipdesk.qt.widgets.tags_panel import _slider_rect
    from blipdesk.services.wording import calibrated_note

    window = make_window()
    tags, board = window.tags, window.board
    tags.set_tags([Tag("sea", ("the sea",), 0.5), Tag("dog", ("a dog",), 0.4)])
    calibration = Calibration("logistic", 2.0, -1.0)
    board.calibrations["sea"] = calibration
    tags.recount()
    sea, dog = tags.index(tags.row_of("sea")), tags.index(tags.row_of("dog"))
    assert sea.data(TagRoles.Calibration) is calibration and dog.data(TagRoles.Calibration) is None
    assert calibrated_note(calibration, 0.5) in sea.data(Qt.ItemDataRole.ToolTipRole)
    assert "threshold 40%" in dog.data(Qt.ItemDataRole.ToolTipRole)
    view = window.tags_panel.view

    def press_on_slider(index):
        option = QStyleOptionViewItem()
        option.rect = view.visualRect(index)
        at = QPointF(_slider_rect(option.rect).center())
        press = QMouseEvent(
            QEvent.Type.MouseButtonPress, at, at, Qt.MouseButton.LeftButton,
            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
        )  # fmt: skip
        return view.itemDelegate().editorEvent(press, tags, option, index)

    assert not press_on_slider(sea) and tags.tag("sea").threshold == 0.5
    assert press_on_slider(dog)  # a plain tag's slider moves
    view.grab()


def test_a_finished_scans_summary_is_shown_whole_at_the_default_window_size(qtbot, make_window):
    class Summary:
        def tally(self):
            return (
                "184 photos: 180 scored (12 from the vision cache), 2 duplicates, "
                "1 already scored, 0 unreadable, 1 RAW beside its JPEG"
            )

    window = make_window()
    window.resize(1320, 820)
    qtbot.waitExposed(window)
    status = window.scan_status
    status.show_finished("done", Summary())
    text = "Scan finished: " + Summary().tally()
    assert status.text() == text and status.label.text() == text  # not cut
    status.show_started()
    assert status.label.width() == 420  # a running scan's text keeps its place


def test_the_label_actions_and_the_sidecar_preview_name_what_they_act_on(
    qtbot, make_window, tmp_path
):
    from blipdesk.qt.widgets.sidecar_dialog import SidecarDialog
    from blipdesk.qt.workers.tasks import BackgroundTasks

    window = make_window()
    window.tags.set_tags([Tag("sea", ("the sea",), 0.5)])  # one tag: the one labelled
    window.labels._show_target()
    assert window.labels.yes_action.text() == "✓ &Yes, “sea” applies"
    assert window.labels.no_action.text() == "✗ &No, “sea” does not apply"
    # The sidecar preview: a long path is cut in the middle, its file name kept.
    tasks = BackgroundTasks()
    deep = tmp_path / ("a-very-long-folder-name-" * 4) / "IMG_2024-07-01_beach.jpg"
    dialog = SidecarDialog(tasks, "write", [("All", {str(deep): ["sea"]})], [str(tmp_path)])
    qtbot.addWidget(dialog)
    tree = dialog.tree
    shown = tree.fontMetrics().elidedText(
        str(deep.relative_to(tmp_path)) + ".xmp", tree.textElideMode(), 240
    )
    assert "…" in shown and shown.endswith("beach.jpg.xmp")
    tasks.shutdown()


def test_the_calibration_proposal_says_gain_and_risk_in_plain_words():
    from types import SimpleNamespace

    from blipdesk.core.calibration import Fit, Proposal, StepReport
    from blipdesk.domain import Calibration
    from blipdesk.qt.controllers.label_actions import LabelActions

    steps = (StepReport("today", 0.5, 0.6, True), StepReport("logistic", 0.9, 0.9, True))
    fit = Fit(Calibration("logistic", 2.0, -1.0), "logistic", steps, 3, 2)
    proposal = Proposal("sea", fit, ("c1",), (), 4, 5)
    teach = SimpleNamespace(paths={"c1": ["/photos/beach.jpg"]})
    words = LabelActions._proposal_words(teach, proposal)
    assert "You labelled 3 photos yes and 2 no." in words
    assert "gets 90% of them right; the tag as it is gets 60% right" in words
    assert "1 photo would gain the tag and 0 would lose it" in words and "Gain: beach.jpg" in words
    assert "The risk: With this few labels it is a rough guide" in words
    assert not any(w in words for w in ("F1", "logistic", "held out", "log-odds"))
