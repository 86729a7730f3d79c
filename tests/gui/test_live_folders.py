"""Folders that change while the window is open, on a real folder: files created, renamed, moved
and deleted by the test, watched by watchdog (and by the periodic rescan fallback), under
pytest-qt. And the same photo twice: the badge and the "show duplicates" filter."""

from __future__ import annotations

import os
import shutil

from blipdesk.qt.models.photos import Roles
from blipdesk.qt.workers.watcher import FolderWatcher, folder_signature
from tests.helpers.dng import write_dng
from tests.helpers.models import scene


def names(window) -> set[str]:
    return {p.name for p in window.photos.photos()}


def test_watcher_reports_changes_coalesced(qtbot, tmp_path):
    root = tmp_path / "lib"
    (root / "sub").mkdir(parents=True)
    watcher = FolderWatcher(quiet_ms=200, max_wait_ms=1000, settle_ms=500, poll_s=0)
    changed, settled = [], []
    watcher.changed.connect(changed.append)
    watcher.settled.connect(settled.append)
    watcher.set_roots([str(root)])
    try:
        assert watcher.watching  # watchdog started
        with qtbot.waitSignal(watcher.changed, timeout=5000) as got:
            scene(64, 48, 1).save(root / "sub" / "new.jpg")
        assert got.args[0] == [str(root)]
        (root / "notes.txt").write_text("not a photo")  # not a photo: not reported
        (root / ".hidden.jpg").write_bytes(b"x")
        qtbot.waitUntil(lambda: len(settled) == 1, timeout=5000)
        changed.clear()
        settled.clear()
        # A burst: 2,000 files copied in. A few grid refreshes, one scan.
        source = root / "sub" / "new.jpg"
        card = root / "card"
        card.mkdir()
        for i in range(2000):
            shutil.copyfile(source, card / f"IMG_{i:04d}.jpg")
        qtbot.waitUntil(lambda: len(settled) == 1, timeout=20000)
        assert 1 <= len(changed) <= 10, len(changed)
        # The one clock left in the GUI tests: "one settle per burst" is a quiet period of the
        # real file system (inotify events arrive on watchdog's thread, and nothing marks the
        # last one). The burst has settled once already, so this is no check on a job that
        # never started; 800 ms is longer than settle_ms (500), the time a late event needs.
        qtbot.wait(800)
        assert len(settled) == 1
    finally:
        watcher.shutdown()


def test_periodic_rescan_sees_what_is_not_reported(qtbot, tmp_path):
    root = tmp_path / "share"
    root.mkdir()
    watcher = FolderWatcher(quiet_ms=50, poll_s=0.2, use_watchdog=False)
    watcher.set_roots([str(root)])
    try:
        assert not watcher.watching
        qtbot.waitSignal(watcher.polled, timeout=5000).wait()
        before = folder_signature(str(root))
        with qtbot.waitSignal(watcher.changed, timeout=5000) as got:
            scene(64, 48, 2).save(root / "from-the-nas.jpg")
        assert got.args[0] == [str(root)] and folder_signature(str(root)) != before
    finally:
        watcher.shutdown()


def test_grid_and_counts_follow_the_disk(qtbot, make_window, photo_dir):
    window = make_window()
    window.add_folder(str(photo_dir))
    qtbot.waitUntil(lambda: window.photos.rowCount() == 10, timeout=10000)
    assert window.live.watcher.watching
    window.grid.select_path(str(photo_dir / "p03.jpg"))  # the person is looking at p03
    # Created (a JPEG and a RAW file).
    scene(320, 240, 42).save(photo_dir / "new.jpg")
    write_dng(photo_dir / "sub" / "IMG_0001.dng")
    qtbot.waitUntil(lambda: {"new.jpg", "IMG_0001.dng"} <= names(window), timeout=10000)
    assert window.photos.total() == 12
    qtbot.waitUntil(lambda: "(12)" in window.folders.index(0, 0).data(), timeout=10000)
    # Renamed, moved into a subfolder, deleted.
    os.rename(photo_dir / "new.jpg", photo_dir / "renamed.jpg")
    os.rename(photo_dir / "p00.jpg", photo_dir / "sub" / "p00.jpg")
    os.remove(photo_dir / "p01.jpg")
    qtbot.waitUntil(
        lambda: "renamed.jpg" in names(window) and "p01.jpg" not in names(window), timeout=10000
    )
    qtbot.waitUntil(lambda: window.photos.total() == 11, timeout=10000)
    moved = [p for p in window.photos.photos() if p.name == "p00.jpg"]
    assert [p.path for p in moved] == [str(photo_dir / "sub" / "p00.jpg")]
    qtbot.waitUntil(lambda: "(11)" in window.folders.index(0, 0).data(), timeout=10000)
    # Photos came and went around it: p03 is still the current photo.
    assert window.grid.current_photo().path == str(photo_dir / "p03.jpg")


def test_new_photos_are_scanned_in_the_background_and_copies_are_duplicates(
    qtbot, scanned_window, photo_dir
):
    window = scanned_window
    beach = window.tags.tag("beach")
    scans = window.live.auto_scans
    scene(320, 240, 77).save(photo_dir / "arrived.jpg")
    shutil.copyfile(photo_dir / "p02.jpg", photo_dir / "p02 copy.jpg")
    qtbot.waitUntil(lambda: window.live.auto_scans == scans + 1, timeout=15000)
    arrived = str(photo_dir / "arrived.jpg")
    qtbot.waitUntil(lambda: window.board.tag_score(arrived, beach) is not None, timeout=90000)
    copy = str(photo_dir / "p02 copy.jpg")
    qtbot.waitUntil(lambda: window.photos.row_of(copy) >= 0, timeout=10000)
    row = window.photos.row_of(copy)
    qtbot.waitUntil(
        lambda: window.photos.index(window.photos.row_of(copy)).data(Roles.Duplicates) == 2,
        timeout=20000,
    )
    assert row >= 0
    assert window.board.tag_score(copy, beach) == window.board.tag_score(
        str(photo_dir / "p02.jpg"), beach
    )  # scored once: the same content's score
    assert "scored once" in window.photos.tooltip(
        window.photos.photo_at(window.photos.row_of(copy))
    )
    # "Show duplicates only": the two files of that photo.
    window.live.duplicates_action.setChecked(True)
    assert {p.name for p in window.photos.visible_photos()} == {"p02.jpg", "p02 copy.jpg"}
    window.live.duplicates_action.setChecked(False)
    assert window.photos.rowCount() == 12


def test_a_raw_jpeg_pair_is_one_photo_in_the_grid_and_the_counts(qtbot, make_window, tmp_path):
    folder = tmp_path / "card"
    folder.mkdir()
    write_dng(folder / "IMG_0001.CR2.dng")  # a RAW of another stem: stays a photo of its own
    write_dng(folder / "IMG_0002.dng")
    window = make_window()
    window.add_folder(str(folder))
    qtbot.waitUntil(lambda: window.photos.total() == 2, timeout=10000)
    # The RAW's thumbnail is its embedded preview (decode_photo, as the model sees it).
    raw = str(folder / "IMG_0002.dng")
    qtbot.waitUntil(lambda: window.thumbs.pixmap(raw) is not None, timeout=10000)
    assert raw not in window.thumbs.broken
    # The camera's JPEG lands beside its RAW: one photo with both files.
    scene(320, 240, 5).save(folder / "IMG_0002.jpg")
    qtbot.waitUntil(lambda: "IMG_0002.jpg" in names(window), timeout=10000)
    assert names(window) == {"IMG_0001.CR2.dng", "IMG_0002.jpg"}
    [pair] = [p for p in window.photos.photos() if p.name == "IMG_0002.jpg"]
    assert pair.companions == (str(folder / "IMG_0002.dng"),)
    assert "With its RAW file IMG_0002.dng" in window.photos.tooltip(pair)
    qtbot.waitUntil(lambda: "(2)" in window.folders.index(0, 0).data(), timeout=10000)
    # Not grouped (the setting): both files are photos.
    window._settings_accepted(window.settings.with_changes(group_pairs=False))
    window.live.follow_settings()
    qtbot.waitUntil(lambda: window.photos.total() == 3, timeout=10000)
    qtbot.waitUntil(lambda: "(3)" in window.folders.index(0, 0).data(), timeout=10000)


def test_settings_dialog_library_options(qtbot, tmp_path):
    from blipdesk.qt.widgets.dialogs import SettingsDialog
    from blipdesk.services.settings import Settings

    dialog = SettingsDialog(Settings(), tmp_path)
    qtbot.addWidget(dialog)
    options = dialog.library
    assert options.watch.isChecked() and options.scan_new.isChecked() and options.pairs.isChecked()
    options.watch.setChecked(False)
    assert not options.scan_new.isEnabled()  # nothing to scan in the background without watching
    options.pair_sidecars.setCurrentIndex(options.pair_sidecars.findData("jpeg"))
    got = dialog.settings()
    assert (got.watch_folders, got.scan_new_photos, got.group_pairs, got.pair_sidecars) == (
        False, True, True, "jpeg"
    )  # fmt: skip


def test_a_pairs_sidecar_goes_to_the_chosen_file(qtbot, make_window, tmp_path, use_tiny_model):
    from blipdesk.qt.common.values import Tag

    folder = tmp_path / "card"
    folder.mkdir()
    write_dng(folder / "IMG_0002.dng")
    scene(320, 240, 5).save(folder / "IMG_0002.jpg")
    scene(320, 240, 6).save(folder / "alone.jpg")
    window = make_window()
    window.add_folder(str(folder))
    qtbot.waitUntil(lambda: window.photos.total() == 2, timeout=10000)
    window.save_tag(Tag("any", ("a photo",), 0.0, "#e6194b"))  # threshold 0: every photo
    with qtbot.waitSignal(window.controller.scanFinished, timeout=90000) as done:
        window.scan()
    # The scan counts as the grid does: a RAW + JPEG pair is one photo.
    assert done.args[1].tally() == "2 photos (1 with a RAW file): 2 scored, 0 unreadable"
    assert done.args[1].tally().startswith(f"{window.photos.total()} photos")
    dialog = window.write_sidecars()
    targets = set(dialog.scopes[-1][1])  # the whole folder
    assert targets == {str(folder / "IMG_0002.dng"), str(folder / "alone.jpg")}  # RAW: default
    dialog.reject()
    window._settings_accepted(window.settings.with_changes(pair_sidecars="jpeg"))
    dialog = window.write_sidecars()
    assert set(dialog.scopes[-1][1]) == {str(folder / "IMG_0002.jpg"), str(folder / "alone.jpg")}
    dialog.reject()


def test_live_folders_run_on_their_parts_alone(qtbot, tmp_path, photo_dir, app_paths):
    """No main window: the parts it acts on and three callables. A settled change waits while
    ``busy`` says a scan runs (or a cache is cleared), then scans once through ``scan``."""
    from PySide6.QtWidgets import QMenu

    from blipdesk.qt.common.values import ScoreBoard
    from blipdesk.qt.controllers.live_folders import LiveFolders
    from blipdesk.qt.controllers.shown_folder import ShownFolder
    from blipdesk.qt.models.cache_reader import CacheLoader
    from blipdesk.qt.models.folders import FolderTreeModel
    from blipdesk.qt.models.photos import PhotoGridModel
    from blipdesk.qt.models.tags import TagListModel
    from blipdesk.qt.widgets.photo_grid import PhotoGrid
    from blipdesk.qt.workers.folders import FolderLister
    from blipdesk.qt.workers.thumbnails import ThumbnailLoader
    from blipdesk.services.settings import Settings
    from blipdesk.store import Library

    with Library.open(app_paths.database):
        pass  # an empty cache
    settings = Settings(folders=(str(photo_dir),), watch_folders=False)
    board, lister, cache, folders = ScoreBoard(), FolderLister(), CacheLoader(), FolderTreeModel()
    photos = PhotoGridModel(board)
    shown = ShownFolder(
        lister, cache, photos, TagListModel(board), board, app_paths, lambda: settings
    )
    thumbs = ThumbnailLoader(app_paths.thumbnails_dir)
    grid = PhotoGrid(photos, thumbs)
    qtbot.addWidget(grid)
    from blipdesk.qt.widgets.filter_bar import FilterBar

    view, bar = QMenu("View"), FilterBar()
    busy, scans = [True], []
    watcher = FolderWatcher(poll_s=0, use_watchdog=False)
    live = LiveFolders(
        shown, grid, folders, lister, cache, app_paths.database, lambda: settings,
        lambda: busy[0], lambda: scans.append(shown.current), view, bar, watcher=watcher,
    )  # fmt: skip
    try:
        assert view.actions()[-1] is live.duplicates_action  # View > Show duplicates only
        folders.add_root(str(photo_dir))
        with qtbot.waitSignal(lister.listed, timeout=10000):
            shown.open(str(photo_dir))
        live.scan_finished("done", None, None)  # the cache holds this model's scores now
        watcher.settled.emit([str(photo_dir)])
        assert scans == [] and live.auto_scans == 0  # a scan runs: it waits for its end
        busy[0] = False
        live.scan_finished("cancelled", None, None)  # someone else's scan ended
        assert scans == [str(photo_dir)] and live.auto_scans == 1
        live.scan_finished("done", None, None)  # its own: nothing more to scan
        assert scans == [str(photo_dir)]
        live.duplicates_action.setChecked(True)  # a criterion of the one filter
        assert bar.state().duplicates
    finally:
        live.shutdown()
        for part in (lister, cache, thumbs):
            part.shutdown()
