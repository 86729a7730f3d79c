"""Issue 14, the grid, filter bar, sidebar and status bar: each item driven through the real
window (real widgets, real listing in the pool, real SQLite), scores put on the board directly
where a scan would only slow the test down."""

from __future__ import annotations

import os

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from blipdesk.qt.common.values import PhotoScores, SentenceScore, Tag
from blipdesk.qt.workers.inference import SearchResult
from blipdesk.services.photo_filter import FilterState, SortState
from tests.gui.waiting import flush


def _quiet(window):
    """No model here: a new tag is not checked from the vision cache (no scan starts)."""
    window.settings = window.settings.with_changes(feature_cache=False)
    return window


def _open(qtbot, window, folder, n):
    window.add_folder(str(folder))
    qtbot.waitUntil(lambda: window.photos.rowCount() == n, timeout=10000)


def _score(window, values: dict[str, dict[str, float]]):
    """path name -> {sentence: itm} on the board, as a scan's batch would."""
    by_name = {p.name: p.path for p in window.photos.photos()}
    batch = [
        PhotoScores(by_name[name], {s: SentenceScore(v, 0.0, 0.0, 0.0) for s, v in scores.items()})
        for name, scores in values.items()
    ]
    window._results(batch)
    window.photos.refresh()


# ------------------------------------------------------------------ 1: min score rule


def test_min_score_alone_and_not_chips_follow_the_rule(qtbot, make_window, photo_dir):
    window = _quiet(make_window())
    _open(qtbot, window, photo_dir, 10)
    window.save_tag(Tag("cat", ("a cat",), 0.5))
    window.save_tag(Tag("dog", ("a dog",), 0.5))
    _score(window, {
        "p00.jpg": {"a cat": 0.55, "a dog": 0.1},
        "p01.jpg": {"a cat": 0.9, "a dog": 0.1},
        "p02.jpg": {"a cat": 0.1, "a dog": 0.7},
        "p03.jpg": {"a cat": 0.1, "a dog": 0.2},
    })  # fmt: skip
    bar = window.filter_bar
    bar.min_score.setValue(0.6)  # no chip: any tag at 0.60 or more
    shown = {p.name for p in window.photos.visible_photos()}
    assert shown == {"p01.jpg", "p02.jpg"}
    bar.add_filter("cat", "not")  # NOT cat: p00 carries cat (0.55 ≥ 0.5), never shown
    shown = {p.name for p in window.photos.visible_photos()}
    assert shown == {"p02.jpg"}
    assert "none-of" in bar.min_score.toolTip() and "any of its tags" in bar.min_score.toolTip()


# ------------------------------------------------------------------ 2 + 9: chips


def test_chips_wrap_and_never_widen_the_window(qtbot, make_window, photo_dir):
    window = _quiet(make_window())
    _open(qtbot, window, photo_dir, 10)
    names = [f"a rather long tag name {i}" for i in range(8)]
    for name in names:
        window.save_tag(Tag(name, (name,), 0.5))
    QApplication.processEvents()
    width, bar_height = window.width(), window.filter_bar.height()
    least = window.minimumSizeHint().width()
    for i, name in enumerate(names):
        window.filter_bar.add_filter(name, ("and", "or", "not")[i % 3])
        QApplication.processEvents()
        assert window.width() == width
        assert window.minimumSizeHint().width() == least  # chips never raise the minimum
    qtbot.waitUntil(lambda: window.filter_bar.height() > bar_height)  # wrapped onto more lines
    chips = [window.filter_bar.chip_widget(n) for n in names]
    assert len({c.geometry().top() for c in chips if c is not None}) > 1
    # More filters in a narrow window: the row wraps instead of being cut.
    window.filter_bar.more.setChecked(True)
    window.splitter.setSizes([100, 1000, 100])
    flush()
    one_line = window.filter_bar.facts.height()
    window.splitter.setSizes([500, 560, 140])  # the centre at about its minimum
    qtbot.waitUntil(lambda: window.filter_bar.facts.height() > one_line)
    assert window.width() == width
    facts = window.filter_bar.facts
    assert all(facts.rect().contains(w.geometry()) for w in (facts.clear, facts.folder))


def test_chip_has_a_remove_button_menu_skips_used_tags_and_groups_read_as_evaluated(
    qtbot, make_window, photo_dir
):
    window = _quiet(make_window())
    _open(qtbot, window, photo_dir, 10)
    for name in ("cat", "dog", "astronaut"):
        window.save_tag(Tag(name, (name,), 0.5))
    bar = window.filter_bar
    bar.add_filter("cat", "or")
    bar.add_filter("dog", "or")
    bar.add_filter("astronaut", "and")
    assert bar.description() == "all of (astronaut) · any of (cat, dog)"
    assert bar.chip_area.toolTip() == bar.description()
    bar._fill_menu()
    offered = [a.text() for a in bar.add_chip.menu().actions()]
    assert offered == ["Every tag is already a filter"]
    chip = bar.chip_widget("dog")
    assert chip is not None and chip.remove_button().text() == "✕"
    qtbot.mouseClick(chip.remove_button(), Qt.MouseButton.LeftButton)
    assert [n for n, _ in bar.chips] == ["cat", "astronaut"]
    assert window.photos.filter.chips == (("cat", "or"), ("astronaut", "and"))
    bar._fill_menu()
    assert [a.text() for a in bar.add_chip.menu().actions()] == ["dog"]
    QApplication.processEvents()  # a widget added to a shown layout shows on the next loop
    labels = [w.text() for w in bar.chip_area.findChildren(type(bar.min_label)) if w.isVisible()]
    assert labels == ["all of:", "· any of:"], labels


# ------------------------------------------------------------------ 4: sort


def test_sort_is_kept_when_tags_change_and_shows_its_whole_text(qtbot, make_window, photo_dir):
    window = _quiet(make_window())
    _open(qtbot, window, photo_dir, 10)
    window.save_tag(Tag("cat", ("a cat",), 0.5))
    bar = window.filter_bar
    bar.show_sort(SortState("score", "cat", descending=True))
    window.save_tag(Tag("dog", ("a dog",), 0.5))  # added
    assert bar.sort_state() == SortState("score", "cat", True)
    window.tag_actions.save(Tag("kitten", ("a cat",), 0.5), replacing=Tag("cat", ("a cat",), 0.5))
    assert bar.sort_state() == SortState("score", "kitten", True)  # renamed: followed
    assert window.photos.sort_state == SortState("score", "kitten", True)
    text = bar.sort.currentText()
    assert text == "Score: kitten"
    assert bar.sort.width() >= bar.sort.fontMetrics().horizontalAdvance(text) + 10
    keys = {bar.sort.itemData(i)[0] for i in range(bar.sort.count())}
    assert {"name", "date", "size", "folder", "score", "search"} <= keys


def test_sort_direction_and_keys_order_the_grid(qtbot, make_window, photo_dir):
    window = _quiet(make_window())
    _open(qtbot, window, photo_dir, 10)
    paths = [p.path for p in window.photos.photos()]
    for i, path in enumerate(paths):
        os.utime(path, (1_600_000_000 + i * 86400,) * 2)
        with open(path, "ab") as fh:
            fh.write(b"\0" * (100_000 * (10 - i)))
    window.flow.refresh()
    qtbot.waitUntil(lambda: window.photos.photos()[0].size > 100_000, timeout=10000)
    bar = window.filter_bar
    names = lambda: [p.name for p in window.photos.visible_photos()]  # noqa: E731
    bar.show_sort(SortState("date", descending=True))
    assert bar.direction.text() == "Newest first"
    assert names()[0] == "p09.jpg"
    bar.direction.click()
    assert bar.direction.text() == "Oldest first" and names()[0] == "p00.jpg"
    bar.show_sort(SortState("size"))
    assert names()[0] == "p09.jpg"  # the smallest
    bar.show_sort(SortState("folder"))
    assert names()[-3:] == ["p07.jpg", "p08.jpg", "p09.jpg"]  # "photos/sub" after "photos"
    bar.show_sort(SortState("name", descending=True))
    assert bar.direction.text() == "Z → A" and names()[0] == "p09.jpg"


# ------------------------------------------------------------------ 5: the grid's place


def test_grid_keeps_its_place(qtbot, make_window, tmp_path):
    from tests.helpers.models import scene

    big, other = tmp_path / "big", tmp_path / "other"
    for folder, n in ((big, 60), (other, 30)):
        folder.mkdir()
        for i in range(n):
            scene(64, 48, i).save(folder / f"q{i:03d}.jpg")
    window = _quiet(make_window())
    _open(qtbot, window, big, 60)
    grid = window.grid
    # Esc from the viewer: the photo it ended on is in sight.
    window.stack.open_viewer(window.photos.photo_at(0))
    for _ in range(50):
        window.stack._step(1)
    window.stack.close_viewer()
    assert grid.currentIndex().row() == 50
    assert grid.viewport().rect().intersects(grid.visualRect(grid.currentIndex()))
    # Another folder opens at its top.
    assert grid.verticalScrollBar().value() > 0
    window.add_folder(str(other))
    qtbot.waitUntil(lambda: window.photos.rowCount() == 30, timeout=10000)
    qtbot.waitUntil(lambda: grid.verticalScrollBar().value() == 0, timeout=5000)
    # A search opens at its best match.
    grid.verticalScrollBar().setValue(grid.verticalScrollBar().maximum())

    order = {p.path: (1.0 if p.name == "q000.jpg" else 0.1) for p in window.photos.photos()}
    result = SearchResult("a red square", order, {}, {}, 0, 30, 0, True)
    window.filter_bar.search.setText("a red square")
    window.filter_bar.show_sort(SortState("search"))
    window.flow.searched(result)
    assert grid.currentIndex().row() == 0
    assert window.photos.photo_at(0).name == "q000.jpg"
    assert grid.verticalScrollBar().value() == 0


# ------------------------------------------------------------------ 6: counts


def test_sidebar_and_grid_count_the_same_files_and_follow_the_disk(qtbot, make_window, photo_dir):
    from PySide6.QtGui import QImage

    from blipdesk.qt.models.folders import CountRole

    (photo_dir / ".hidden.jpg").write_bytes((photo_dir / "p00.jpg").read_bytes())
    (photo_dir / ".cache").mkdir()
    (photo_dir / ".cache" / "x.jpg").write_bytes(b"")
    window = _quiet(make_window())
    _open(qtbot, window, photo_dir, 10)
    root = window.folders.index(0, 0)
    qtbot.waitUntil(lambda: window.folders.data(root, CountRole) == 10, timeout=10000)
    assert window.flow.count_label.text() == "10 photos"
    # A file added and one removed on disk: shown after a refresh (F5), counts agree.
    os.remove(photo_dir / "p01.jpg")
    for name in ("new1.jpg", "new2.png"):
        image = QImage(32, 24, QImage.Format.Format_RGB888)
        image.fill(0x3366AA)
        image.save(str(photo_dir / name))
    window.flow.refresh()
    qtbot.waitUntil(lambda: window.photos.rowCount() == 11, timeout=10000)
    qtbot.waitUntil(lambda: window.folders.data(root, CountRole) == 11, timeout=10000)
    # Not recursive: the sidebar counts what the grid lists (only the folder's own photos).
    window._settings_accepted(window.settings.with_changes(recursive=False))
    qtbot.waitUntil(lambda: window.photos.rowCount() == 8, timeout=10000)
    assert window.folders.data(root, CountRole) == 8


def test_status_title_and_selection_follow_the_folder_shown(qtbot, make_window, tmp_path):
    from tests.helpers.models import scene

    one, two = tmp_path / "one", tmp_path / "two"
    for folder in (one, two):
        folder.mkdir()
        for i in range(3):
            scene(64, 48, i).save(folder / f"{folder.name}{i}.jpg")
    window = _quiet(make_window())
    _open(qtbot, window, one, 3)

    from blipdesk.core.engine import ScanSummary

    summary = ScanSummary(3, 3, (), cancelled=False, model_loaded=True, seconds=1.0)
    window.scan_status.show_started(None, str(one))
    window.scan_status.show_finished("done", summary)
    assert window.scan_status.text() == "Scan finished: 3 photos: 3 scored, 0 unreadable"
    window.add_folder(str(two))
    qtbot.waitUntil(lambda: window.photos.rowCount() == 3, timeout=10000)
    assert window.scan_status.text() == ""  # about "one": gone
    # A scan of "two" running while "one" is shown says whose it is.
    window.scan_status.show_started(None, str(two))
    window.open_folder(str(one))
    window.scan_status.show_finished("done", summary)
    assert window.scan_status.text() == "two: Scan finished: 3 photos: 3 scored, 0 unreadable"
    # Remove the folder shown: the title and the selection stop naming it.
    assert window.windowTitle().startswith("one")
    window.remove_folder(str(one))
    assert window.windowTitle() == "blipdesk"
    assert not window.sidebar.tree.currentIndex().isValid()
    assert window.photos.total() == 0
    assert window.state.last_folder() is None


def test_after_a_restart_the_open_folder_is_highlighted(qtbot, make_window, photo_dir):
    from blipdesk.qt.models.folders import PathRole

    window = _quiet(make_window())
    _open(qtbot, window, photo_dir, 10)
    sub = str(photo_dir / "sub")
    qtbot.waitUntil(lambda: window.folders.index_of(sub).isValid(), timeout=10000)
    window.open_folder(sub)
    qtbot.waitUntil(lambda: window.photos.rowCount() == 3, timeout=10000)
    window.close()
    again = _quiet(make_window())
    qtbot.waitUntil(lambda: again.photos.rowCount() == 3, timeout=10000)
    qtbot.waitUntil(lambda: again.sidebar.tree.currentIndex().data(PathRole) == sub, timeout=10000)


# ------------------------------------------------------------------ 8: empty states


def test_empty_states_say_what_to_do(qtbot, make_window, photo_dir):
    window = _quiet(make_window())
    empty = window.flow.empty
    qtbot.waitUntil(lambda: empty.isVisible())
    assert "Add folder" in empty.text() and "write a tag" in empty.text()
    _open(qtbot, window, photo_dir, 10)
    qtbot.waitUntil(lambda: not empty.isVisible())
    window.save_tag(Tag("cat", ("a cat",), 0.5))
    window.filter_bar.add_filter("cat")
    qtbot.waitUntil(lambda: empty.isVisible())
    assert "No photo matches" in empty.text()
    assert "remove a chip (✕) or lower the minimum score" in empty.text()
    assert "all of (cat)" in empty.text()


# ------------------------------------------------------------------ 10: scan status places


def test_scan_status_parts_keep_their_places(qtbot, make_window):
    from blipdesk.core.engine import ScanProgress

    window = _quiet(make_window())
    status = window.scan_status
    status.show_started(None, None)
    QApplication.processEvents()

    def places():
        return [
            w.mapTo(window, QPoint(0, 0)).x() for w in (status.bar, status.pause, status.cancel)
        ]

    seen = set()
    for done, text_len in ((1, 1), (10, 50), (12345, 9)):
        progress = ScanProgress(done, 20000, 0, 1.5 * text_len, 3600.0 * text_len)
        status.show_progress(progress)
        status.pause.setChecked(done == 10)  # "Resume" is wider than "Pause"
        QApplication.processEvents()
        seen.add(tuple(places()))
    assert len(seen) == 1


# ------------------------------------------------------------------ 12: selection, sizes


def test_selection_count_and_small_sizes(qtbot, make_window, photo_dir):
    window = _quiet(make_window())
    _open(qtbot, window, photo_dir, 10)
    window.grid.selectAll()
    assert window.flow.count_label.text() == "10 photos · 10 selected"
    window.grid.clearSelection()
    assert window.flow.count_label.text() == "10 photos"
    tip = window.photos.tooltip(window.photos.photo_at(0))
    assert " KB" in tip and "0.0 MB" not in tip


# ------------------------------------------------------------------ 17: thumbnail size


def test_thumbnail_slider_and_ctrl_wheel_resize_landscape_cells(qtbot, make_window, photo_dir):
    window = _quiet(make_window())
    _open(qtbot, window, photo_dir, 10)
    grid, slider = window.grid, window.flow.slider.slider
    cell = grid.gridSize()
    assert cell.width() > cell.height()  # landscape cells
    slider.setValue(slider.value() + 64)
    assert grid.thumb_size() == slider.value()
    assert grid.gridSize().height() > cell.height()
    before = grid.thumb_size()
    wheel = QWheelEvent(
        QPointF(20, 20), QPointF(grid.viewport().mapToGlobal(QPoint(20, 20))), QPoint(0, 0),
        QPoint(0, -240), Qt.MouseButton.NoButton, Qt.KeyboardModifier.ControlModifier,
        Qt.ScrollPhase.NoScrollPhase, False,
    )  # fmt: skip
    QApplication.sendEvent(grid.viewport(), wheel)
    assert grid.thumb_size() == before - 32
    assert slider.value() == grid.thumb_size()
    # Large thumbnails are rendered large (sharp), small ones small again.
    first = window.photos.photo_at(0).path
    slider.setValue(320)
    qtbot.waitUntil(lambda: window.thumbs.pixmap(first) is not None, timeout=10000)
    qtbot.waitUntil(lambda: window.thumbs.pixmap(first).width() == 320, timeout=10000)
    slider.setValue(150)
    qtbot.waitUntil(lambda: window.thumbs.pixmap(first).width() == 192, timeout=10000)


# ------------------------------------------------------------------ 20: facts filters, smart views


def test_date_type_folder_filters_and_a_smart_view_that_persists(qtbot, make_window, photo_dir):
    from PySide6.QtGui import QImage

    image = QImage(32, 24, QImage.Format.Format_RGB888)
    image.fill(0x3366AA)
    image.save(str(photo_dir / "z.png"))
    for i, path in enumerate(sorted(photo_dir.rglob("*.*"))):
        os.utime(path, (1_700_000_000 + i * 86400,) * 2)
    window = _quiet(make_window())
    _open(qtbot, window, photo_dir, 11)
    bar = window.filter_bar
    bar.more.setChecked(True)
    kinds = [bar.facts.kind.itemText(i) for i in range(bar.facts.kind.count())]
    assert kinds == ["All types", "JPG", "PNG"]
    bar.facts.kind.setCurrentIndex(1)
    assert window.photos.rowCount() == 10
    folders = [bar.facts.folder.itemText(i) for i in range(bar.facts.folder.count())]
    assert folders == ["All folders", ".", "sub"]
    bar.facts.folder.setCurrentIndex(2)
    assert {p.name for p in window.photos.visible_photos()} == {"p07.jpg", "p08.jpg", "p09.jpg"}
    window.save_tag(Tag("cat", ("a cat",), 0.5))
    _score(window, {"p08.jpg": {"a cat": 0.9}})
    bar.add_filter("cat", "not")
    assert {p.name for p in window.photos.visible_photos()} == {"p07.jpg", "p09.jpg"}
    bar.show_sort(SortState("name", descending=True))
    window.flow.add_view("sub, no cats")
    want = bar.state()
    assert window.sidebar.views.count() == 1 and window.sidebar.views.isVisible()
    qtbot.waitUntil(lambda: (window.paths.data_dir / "smart-views.json").exists(), timeout=5000)
    window.close()

    again = _quiet(make_window())
    _ = qtbot.waitUntil(lambda: again.photos.rowCount() == 11, timeout=10000)
    assert again.sidebar.views.item(0).text() == "sub, no cats"
    again.flow.apply_view("sub, no cats")
    assert again.filter_bar.state() == want
    assert again.filter_bar.sort_state() == SortState("name", None, True)
    assert again.filter_bar.more.isChecked()
    # The date range: the photos of the second and third day (dates are the files' here).
    facts = again.filter_bar.facts
    facts.reset()
    first = min(p.date for p in again.photos.photos())
    from datetime import datetime

    from PySide6.QtCore import QDate

    day = datetime.fromtimestamp(first).date()
    facts.date_from.setDate(QDate(day.year, day.month, day.day).addDays(1))
    facts.date_to.setDate(QDate(day.year, day.month, day.day).addDays(2))
    assert again.photos.rowCount() == 2
    again.flow.remove_view("sub, no cats")
    assert again.sidebar.views.count() == 0
    assert isinstance(again.photos.filter, FilterState)


# ------------------------------------------------------------------ 12: sidecar progress, quitting


def test_writing_many_sidecars_shows_progress(qtbot, make_window, tmp_path):
    from tests.helpers.models import scene

    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(60):
        scene(32, 24, i).save(folder / f"s{i:03d}.jpg")
    window = _quiet(make_window())
    _open(qtbot, window, folder, 60)
    window.save_tag(Tag("scene", ("a scene",), 0.1))
    _score(window, {f"s{i:03d}.jpg": {"a scene": 0.9} for i in range(60)})
    dialog = window.write_sidecars()
    with qtbot.waitSignal(dialog.planned, timeout=10000):
        pass
    seen: list[tuple[int, int]] = []
    window.tasks.progress.connect(lambda _r, done, total: seen.append((done, total)))
    with qtbot.waitSignal(dialog.applied, timeout=20000):
        dialog.go.click()
    assert seen and all(total == 60 for _, total in seen) and len(seen) >= 3
    assert dialog.bar.isVisible() and dialog.bar.value() == dialog.bar.maximum() == 60
    dialog.reject()


def test_quitting_skips_the_interpreters_full_collections():
    """After the event loop, run_gui freezes what is alive: the teardown's full garbage
    collections over torch's objects took 3-4 s (benchmarks/bench_quit.py measures it)."""
    import gc

    from blipdesk.qt.application import leave_quickly

    before = gc.get_freeze_count()
    try:
        leave_quickly()
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()


def test_settings_has_no_large_gap_above_ok(qtbot, make_window):
    window = make_window()
    dialog = window.open_settings()
    qtbot.waitExposed(dialog)
    form = dialog._form
    last = max(
        form.itemAt(i).geometry().bottom() for i in range(form.count()) if form.itemAt(i).widget()
    )
    gap = dialog._buttons.geometry().top() - last
    assert gap < 20, gap  # 37 px at the old fixed 460 px height (offscreen fonts)
    dialog.reject()


def test_a_criterion_set_outside_the_chips_is_a_chip_of_the_one_filter(
    qtbot, make_window, photo_dir
):
    """A criterion set from a menu or a saved view (here the file name) is part of the bar's
    one FilterState: a chip with a ✕ shows it, the grid, the empty state and smart views follow
    it."""
    window = _quiet(make_window())
    _open(qtbot, window, photo_dir, 10)
    bar = window.filter_bar
    bar.set_criteria(file_name="p0")
    assert window.photos.rowCount() == 10
    bar.set_criteria(file_name="P03")  # case ignored
    assert [p.name for p in window.photos.visible_photos()] == ["p03.jpg"]
    chip = bar.criterion_chip("file_name")
    assert chip is not None and "name has “P03”" in chip.toolTip()
    assert bar.chip_widget("name") is None  # not a tag's chip
    window.flow.add_view("only three")
    bar.set_criteria(file_name="nothing")
    qtbot.waitUntil(lambda: window.flow.empty.isVisible())
    assert "the file name filter: its chip&#x27;s ✕" in window.flow.empty.text().replace(
        "'", "&#x27;"
    )
    window.flow.apply_view("only three")
    assert window.photos.rowCount() == 1
    bar.criterion_chip("file_name").remove_button().click()
    assert window.photos.rowCount() == 10 and bar.criterion_chip("file_name") is None
    assert bar.state() == FilterState()


def test_a_smart_view_that_cannot_be_written_is_said(qtbot, make_window):
    window = make_window()
    (window.paths.data_dir / "smart-views.json").mkdir()  # hostile: a folder in its place
    with qtbot.waitSignal(window.tasks.failed, timeout=5000):
        window.flow.add_view("mine")
    assert "could not be saved" in window.statusBar().currentMessage()
    assert window.sidebar.views.count() == 1  # kept for this session


def test_counting_again_keeps_the_tree_as_it_was(qtbot, make_window, photo_dir):
    """Opening a folder counts its library folder again: when no folder came or went, only the
    numbers change; the tree keeps its expanded folders and selection."""
    from blipdesk.qt.models.folders import CountRole

    (photo_dir / "sub" / "deeper").mkdir()
    from tests.helpers.models import scene

    scene(64, 48, 1).save(photo_dir / "sub" / "deeper" / "d.jpg")
    window = _quiet(make_window())
    _open(qtbot, window, photo_dir, 11)
    deeper = str(photo_dir / "sub" / "deeper")
    qtbot.waitUntil(lambda: window.folders.index_of(deeper).isValid(), timeout=10000)
    sub = window.folders.index_of(str(photo_dir / "sub"))
    window.sidebar.tree.expand(sub)
    removed: list = []
    window.folders.rowsRemoved.connect(lambda *a: removed.append(a))
    scene(64, 48, 2).save(photo_dir / "sub" / "deeper" / "e.jpg")
    window.open_folder(deeper)
    qtbot.waitUntil(lambda: window.photos.rowCount() == 2, timeout=10000)
    qtbot.waitUntil(
        lambda: window.folders.data(window.folders.index_of(deeper), CountRole) == 2, timeout=10000
    )
    assert not removed
    assert window.sidebar.tree.isExpanded(window.folders.index_of(str(photo_dir / "sub")))
    assert window.folders.data(window.folders.index(0, 0), CountRole) == 12


def test_a_rating_chosen_in_the_menu_is_saved_with_a_smart_view(qtbot, make_window, photo_dir):
    """Photo > Show only sets a criterion of the one filter: a smart view keeps it (before, the
    rating filter lived beside the filter and a view lost it)."""
    window = _quiet(make_window())
    _open(qtbot, window, photo_dir, 10)
    window.grid.setCurrentIndex(window.photos.index(2))
    window.desk.ratings.set_stars(3)
    window.desk.filter_actions["★★★ or more"].trigger()
    assert window.photos.rowCount() == 1
    window.flow.add_view("three stars")
    window.desk.filter_actions["Any rating"].trigger()
    assert window.photos.rowCount() == 10
    window.flow.apply_view("three stars")
    assert window.photos.rowCount() == 1
    assert window.desk.filter_actions["★★★ or more"].isChecked()
