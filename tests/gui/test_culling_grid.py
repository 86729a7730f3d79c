"""Issue 25 (the culling desk): the date boxes, what the window keeps over a restart, the
layout of the tags list, counting and order, tag colours."""

from __future__ import annotations

import os
from datetime import datetime

import pytest
from PySide6.QtCore import QDate, QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from blipdesk.qt.widgets.filter_bar import NO_DATE, FactsRow
from tests.gui.waiting import flush


def _open_calendar(qtbot, edit) -> None:
    edit.setFocus()
    QTest.mouseClick(
        edit, Qt.MouseButton.LeftButton, pos=QPoint(edit.width() - 6, edit.height() // 2)
    )
    qtbot.waitUntil(lambda: edit.calendarWidget().isVisible(), timeout=3000)


def test_a_typed_day_is_kept_in_both_date_boxes(qtbot):
    row = FactsRow()
    qtbot.addWidget(row)
    row.show()
    for edit, typed, want in (
        (row.date_from, "2024-03-05", QDate(2024, 3, 5)),
        (row.date_to, "20241231", QDate(2024, 12, 31)),
        (row.date_from, "2019-11-30", QDate(2019, 11, 30)),
    ):
        edit.setFocus()
        edit.lineEdit().selectAll()
        QTest.keyClicks(edit, typed)
        QTest.keyClick(edit, Qt.Key.Key_Return)
        assert edit.date() == want, typed
    from blipdesk.services.photo_filter import FilterState

    state = row.apply(FilterState())
    assert datetime.fromtimestamp(state.date_from).date().isoformat() == "2019-11-30"
    assert datetime.fromtimestamp(state.date_to).date().isoformat() == "2025-01-01"  # exclusive
    # Emptied, a box is "any" again: no bound.
    row.date_to.setFocus()
    row.date_to.lineEdit().selectAll()
    QTest.keyClick(row.date_to, Qt.Key.Key_Delete)
    QTest.keyClick(row.date_to, Qt.Key.Key_Return)
    assert row.date_to.date() == NO_DATE
    assert row.apply(FilterState()).date_to is None


@pytest.mark.qt_log_ignore("does not support raise", "does not support grabbing the keyboard")
def test_the_calendars_open_at_the_librarys_days_not_1900(qtbot, tmp_path):
    from blipdesk.core.files import Photo

    old, new = datetime(2017, 6, 3, 12).timestamp(), datetime(2021, 9, 20, 12).timestamp()
    photos = [
        Photo(str(tmp_path / "a.jpg"), "a.jpg", 1, old),
        Photo(str(tmp_path / "b.jpg"), "b.jpg", 1, 0.0, taken=new),
    ]
    row = FactsRow()
    qtbot.addWidget(row)
    row.show()
    # No library: today.
    _open_calendar(qtbot, row.date_from)
    cal = row.date_from.calendarWidget()
    today = QDate.currentDate()
    assert (cal.yearShown(), cal.monthShown()) == (today.year(), today.month())
    QApplication.activePopupWidget() and QApplication.activePopupWidget().close()
    row.set_photos(photos, str(tmp_path))
    _open_calendar(qtbot, row.date_from)
    assert (cal.yearShown(), cal.monthShown()) == (2017, 6)
    QApplication.activePopupWidget() and QApplication.activePopupWidget().close()
    _open_calendar(qtbot, row.date_to)
    cal_to = row.date_to.calendarWidget()
    assert (cal_to.yearShown(), cal_to.monthShown()) == (2021, 9)
    QApplication.activePopupWidget() and QApplication.activePopupWidget().close()
    # "from" set: "to" still opens within the library (never 1900), at "from" when later.
    row.date_from.setDate(QDate(2023, 2, 1))
    _open_calendar(qtbot, row.date_to)
    assert (cal_to.yearShown(), cal_to.monthShown()) == (2023, 2)


# ------------------------------------------------------------------ 10: kept over a restart


def _quiet(window):
    window.settings = window.settings.with_changes(feature_cache=False)
    return window


def test_thumbnail_size_and_sort_are_kept_over_a_restart(qtbot, make_window, photo_dir):
    from blipdesk.qt.common.values import Tag
    from blipdesk.services.photo_filter import SortState

    for sort in (SortState("score", "cat", descending=True), SortState("size", None, True)):
        window = _quiet(make_window())
        window.add_folder(str(photo_dir))
        qtbot.waitUntil(lambda w=window: w.photos.rowCount() == 10, timeout=10000)
        if not any(t.name == "cat" for t in window.tags.tags()):
            window.save_tag(Tag("cat", ("a cat",), 0.5))
        size = 150 if sort.key == "score" else 260
        window.grid.set_thumb_size(size)
        window.filter_bar.show_sort(sort)
        window.tag_actions.flush()
        window.close()
        again = make_window()
        qtbot.waitUntil(lambda a=again: a.photos.rowCount() == 10, timeout=10000)
        assert again.grid.thumb_size() == size
        assert again.flow.slider.slider.value() == size
        assert again.filter_bar.sort_state() == sort
        assert again.photos.sort_state == sort  # the grid is in that order, not just the box
        again.close()
    # A search's order is not kept: the sort before it is.
    window = _quiet(make_window())
    qtbot.waitUntil(lambda: window.photos.rowCount() == 10, timeout=10000)
    window.filter_bar.show_sort(SortState("search"))
    window.close()
    again = make_window()
    assert again.filter_bar.sort_state() == SortState("size", None, True)


# ------------------------------------------------------------------ 13: the tags list's room


@pytest.mark.parametrize("size", [(1320, 820), (1100, 700), (1920, 1080)])
def test_the_tags_list_shows_three_whole_tags_and_the_information_gives_way(
    qtbot, make_window, photo_dir, size
):
    from blipdesk.qt.common.values import Tag
    from blipdesk.qt.widgets.tags_panel import ROW_H

    window = _quiet(make_window())
    window.resize(*size)
    window.add_folder(str(photo_dir))
    qtbot.waitUntil(lambda: window.photos.rowCount() == 10, timeout=10000)
    for name in ("beach", "dog", "cat", "sunset", "snow"):
        window.save_tag(Tag(name, (f"a {name}",), 0.5))
    qtbot.waitUntil(lambda: window.tags.rowCount() == 5, timeout=5000)
    flush()
    view = window.tags_panel.view
    assert view.viewport().height() >= 3 * ROW_H
    scores = window.detail.scores
    scores_before, tags_before = scores.height(), view.height()
    # Drag the handle above the tags list up: the information gives way, not the scores.
    right = window.right
    assert right.sizes()[1] >= 120 or size == (1100, 700)
    handle = right.handle(2)
    start = QPoint(handle.width() // 2, handle.height() // 2)
    QTest.mousePress(handle, Qt.MouseButton.LeftButton, pos=start)
    QTest.mouseMove(handle, start - QPoint(0, 60))
    QTest.mouseRelease(handle, Qt.MouseButton.LeftButton, pos=start - QPoint(0, 60))
    flush()
    if size != (1100, 700):  # smaller than the default: every panel is at its minimum already
        assert view.height() == tags_before + 60
        assert scores.height() == scores_before
    # Dragged down as far as it goes: the list still shows three whole tags.
    handle = right.handle(2)
    QTest.mousePress(handle, Qt.MouseButton.LeftButton, pos=start)
    QTest.mouseMove(handle, start + QPoint(0, 600))
    QTest.mouseRelease(handle, Qt.MouseButton.LeftButton, pos=start + QPoint(0, 600))
    flush()
    assert view.viewport().height() >= 3 * ROW_H


# ------------------------------------------------------------------ 14: one rule for tags


def test_the_tag_editor_takes_the_name_as_the_sentence_and_its_colour_word(qtbot, make_window):
    from blipdesk.domain.tags import COLOUR_WORDS
    from blipdesk.qt.models.tags import TagRoles
    from blipdesk.qt.widgets.tag_editor import TagEditorDialog

    window = _quiet(make_window())
    for name, taken in (("blue square", set()), ("green triangle", {"a", "b", "c"})):
        editor = TagEditorDialog(None, taken, None, window)
        qtbot.addWidget(editor)
        editor.name.setText(name)
        assert editor.colour_button.text() == COLOUR_WORDS[name.split()[0]]
        editor._accept()
        assert editor.result() == editor.DialogCode.Accepted, editor.error.text()
        tag = editor.tag()
        assert tag.sentences == (name,)
        assert tag.colour == COLOUR_WORDS[name.split()[0]]
        window.save_tag(tag)
    # A colour picked by hand stays, whatever the words.
    editor = TagEditorDialog(window.tags.tag("blue square"), set(), None, window)
    qtbot.addWidget(editor)
    editor.name.setText("red square")
    assert editor.tag().colour == COLOUR_WORDS["blue"]
    # The tags list shows the words' colour.
    row = window.tags.row_of("green triangle")
    assert window.tags.index(row).data(TagRoles.Colour) == COLOUR_WORDS["green"]


def test_the_tag_editor_reads_blank_lines_as_no_sentence(qtbot, make_window):
    from blipdesk.qt.widgets.tag_editor import TagEditorDialog

    window = _quiet(make_window())
    editor = TagEditorDialog(None, set(), None, window)
    qtbot.addWidget(editor)
    editor.name.setText("  dog ")
    editor.sentences.setPlainText("\n   \n")
    editor._accept()
    assert editor.result() == editor.DialogCode.Accepted, editor.error.text()
    assert editor.tag().sentences == ("dog",)


# ------------------------------------------------------------------ 14: the order during a scan


def _scores(window, values):
    from blipdesk.qt.common.values import PhotoScores, SentenceScore

    by_name = {p.name: p.path for p in window.photos.photos()}
    return [
        PhotoScores(by_name[name], {"a cat": SentenceScore(v, 0.0, 0.0, 0.0)})
        for name, v in values.items()
    ]


@pytest.mark.parametrize("how", ["pause", "end"])
def test_a_scan_does_not_reshuffle_the_grid_under_the_cursor(qtbot, make_window, photo_dir, how):
    from blipdesk.qt.common.values import Tag
    from blipdesk.services.photo_filter import SortState

    window = _quiet(make_window())
    window.add_folder(str(photo_dir))
    qtbot.waitUntil(lambda: window.photos.rowCount() == 10, timeout=10000)
    window.save_tag(Tag("cat", ("a cat",), 0.5))
    window.filter_bar.show_sort(SortState("score", "cat"))
    names = lambda: [p.name for p in window.photos.visible_photos()]  # noqa: E731
    before = names()
    window.grid.setCurrentIndex(window.photos.index(4))
    current = window.grid.current_photo().name
    status = window.scan_status
    status.show_started(folder=str(photo_dir))  # a scan runs
    # Its batches arrive: the best matches are the first photos by name (the last shown first).
    assert before[:2] == ["p09.jpg", "p08.jpg"]  # no scores yet: by name, best first
    window._results(_scores(window, {f"p{i:02d}.jpg": 0.9 - i / 10 for i in range(5)}))
    qtbot.wait(400)  # longer than the model's re-sort delay: nothing may move
    assert names() == before
    assert window.grid.currentIndex().row() == 4 and window.grid.current_photo().name == current
    assert "order updates when the scan pauses or ends" in window.flow.count_label.text()
    if how == "pause":
        status.pause.setChecked(True)
    else:
        status.show_finished("done", None)
    assert names()[:5] == ["p00.jpg", "p01.jpg", "p02.jpg", "p03.jpg", "p04.jpg"]
    assert window.grid.current_photo().name == current  # the cursor follows its photo
    assert "order updates" not in window.flow.count_label.text()
    if how == "pause":  # resumed: held again
        status.pause.setChecked(False)
        window._results(_scores(window, {"p07.jpg": 0.99}))
        qtbot.wait(400)
        assert names()[0] == "p00.jpg"
        status.show_finished("done", None)
        assert names()[0] == "p07.jpg"


def test_without_a_scan_new_scores_reorder_at_once(qtbot, make_window, photo_dir):
    from blipdesk.qt.common.values import Tag
    from blipdesk.services.photo_filter import SortState

    window = _quiet(make_window())
    window.add_folder(str(photo_dir))
    qtbot.waitUntil(lambda: window.photos.rowCount() == 10, timeout=10000)
    window.save_tag(Tag("cat", ("a cat",), 0.5))
    window.filter_bar.show_sort(SortState("score", "cat"))
    window._results(_scores(window, {"p03.jpg": 0.9}))
    qtbot.waitUntil(lambda: window.photos.visible_photos()[0].name == "p03.jpg", timeout=3000)


# ------------------------------------------------------------------ 17: metadata, date tree


def test_metadata_columns_and_the_date_tree_filter_the_grid(qtbot, make_window, tmp_path):
    from tests.unit.test_metadata_filter import shot

    folder = tmp_path / "shots"
    folder.mkdir()
    shot(folder / "a.jpg", model="Canon EOS R5", iso=200, when="2024:07:14 10:00:01")
    shot(folder / "b.jpg", model="Canon EOS R5", iso=800, when="2024:07:14 10:00:00")
    shot(folder / "c.jpg", make="FUJIFILM", model="X-T5", iso=800, when="2023:12:31 23:59:59")
    window = _quiet(make_window())
    with qtbot.waitSignal(window.shown.described, timeout=10000):
        window.add_folder(str(folder))
    names = lambda: sorted(p.name for p in window.photos.visible_photos())  # noqa: E731
    facts = window.filter_bar.facts
    cameras = facts.shot["cameras"]
    # the folder is described twice: its types and days at once, its EXIF once all is read
    qtbot.waitUntil(lambda: cameras.count() == 3, timeout=10000)
    texts = [cameras.itemText(i) for i in range(cameras.count())]
    assert texts == ["All cameras", "Canon EOS R5 (2)", "FUJIFILM X-T5 (1)"]
    cameras.setCurrentIndex(1)
    assert names() == ["a.jpg", "b.jpg"]
    facts.shot["isos"].setCurrentIndex(facts.shot["isos"].findData(800))
    assert names() == ["b.jpg"]
    assert window.filter_bar.state().isos == (800,)
    facts.reset()
    assert names() == ["a.jpg", "b.jpg", "c.jpg"]
    # The date tree: year › month › day, newest first, with counts; a click filters.
    tree = window.sidebar.dates
    assert window.sidebar.dates.isVisibleTo(window.sidebar)
    top = [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())]
    assert top == ["All dates (3)", "2024 (2)", "2023 (1)"]
    july = tree.topLevelItem(1).child(0)
    assert july.text(0) == "July (2)" and july.child(0).text(0).startswith("14 ")
    window.sidebar._day_clicked(tree.topLevelItem(2))
    assert names() == ["c.jpg"]
    window.sidebar._day_clicked(july.child(0))
    assert names() == ["a.jpg", "b.jpg"]
    window.sidebar._day_clicked(tree.topLevelItem(0))
    assert names() == ["a.jpg", "b.jpg", "c.jpg"]
    # Capture time sorts to the second.
    from blipdesk.services.photo_filter import SortState

    window.filter_bar.show_sort(SortState("date"))
    assert [p.name for p in window.photos.visible_photos()] == ["c.jpg", "b.jpg", "a.jpg"]


def test_sort_by_rating_and_flag_in_the_window(qtbot, make_window, photo_dir):
    from blipdesk.domain import Rating
    from blipdesk.services.photo_filter import SortState

    window = _quiet(make_window())
    window.add_folder(str(photo_dir))
    qtbot.waitUntil(lambda: window.photos.rowCount() == 10, timeout=10000)
    keys = {window.filter_bar.sort.itemData(i)[0] for i in range(window.filter_bar.sort.count())}
    assert {"rating", "flag", "date"} <= keys
    ratings = {"p03.jpg": Rating(4, 0), "p05.jpg": Rating(2, 1), "p07.jpg": Rating(5, -1)}
    by_name = {p.name: p.path for p in window.photos.photos()}
    window.photos.set_ratings(lambda path: {by_name[n]: r for n, r in ratings.items()}.get(path))
    window.filter_bar.show_sort(SortState("rating"))
    assert [p.name for p in window.photos.visible_photos()][:3] == ["p07.jpg", "p03.jpg", "p05.jpg"]
    window.filter_bar.show_sort(SortState("flag"))
    shown = [p.name for p in window.photos.visible_photos()]
    assert shown[0] == "p05.jpg" and shown[-1] == "p07.jpg"


def test_exif_facts_are_read_off_the_gui_thread_once_per_file(qtbot, photo_dir, monkeypatch):
    import threading

    from blipdesk.qt.workers import folders

    reads: list[tuple[str, bool]] = []
    real = folders.shot_facts

    def counted(path):
        reads.append(
            (os.path.basename(path), threading.current_thread() is threading.main_thread())
        )
        return real(path)

    monkeypatch.setattr(folders, "shot_facts", counted)
    lister = folders.FolderLister()
    try:
        lister.list(photo_dir, recursive=True)
        qtbot.waitUntil(lambda: len(reads) == 10, timeout=10000)
        # Listed again: every fact from the cache, at once (one "described", nothing read).
        with qtbot.waitSignal(lister.described, timeout=10000) as got:
            lister.list(photo_dir, recursive=True)
        assert sum(got.args[1].days.values()) == 10
        assert len(reads) == 10 and not any(on_gui for _n, on_gui in reads)
        changed = photo_dir / "p01.jpg"
        changed.write_bytes(changed.read_bytes() + b"\0")  # a changed file is read again
        lister.list(photo_dir, recursive=True)
        qtbot.waitUntil(lambda: len(reads) == 11, timeout=10000)
        assert reads[10][0] == "p01.jpg"
    finally:
        lister.shutdown()
