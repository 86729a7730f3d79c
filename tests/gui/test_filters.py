"""The window's filter is the one filter (``services.photo_filter``): a smart view holding a
rating, a label and a duplicates criterion comes back from smart-views.json, shows as chips, sets
the menus, and keeps exactly the photos the command line's function keeps from the library."""

from __future__ import annotations

import json

import pytest

from blipdesk.core.model import DEFAULT_MODEL, ModelIdentity, score_key
from blipdesk.services.library_filter import matching_paths
from blipdesk.services.photo_filter import FilterState, filter_to_json
from blipdesk.services.ratings import RatingFilter
from blipdesk.store import Library
from tests.unit.test_library_filter import make_library

# The key a scan of the default model writes (settings' first token, today's decoding): what
# the window reads when the model itself is not on this machine (services.options.read_key).
SCORE_KEY = "weights-of-the-default-model" + score_key(
    ModelIdentity(DEFAULT_MODEL, None, ""), "cls"
)

VIEWS = {
    "Best picks": FilterState(rating=RatingFilter(3), labels="confirmed", duplicates=True),
    "Rated, unlabelled copies": FilterState(
        rating=RatingFilter(2), labels="unlabelled", duplicates=True
    ),
    "Rated": FilterState(rating=RatingFilter(3)),
    "Not labelled": FilterState(labels="unlabelled"),
    "Beach, labelled": FilterState(chips=(("beach", "and"),), labels="labelled"),
}


@pytest.fixture
def library_window(qtbot, make_window, tmp_path, app_paths):
    """A window on a folder the library knows (scores, ratings, labels, copies: see
    ``make_library``), with VIEWS saved in smart-views.json as JSON values."""
    folder = tmp_path / "photos"
    paths = make_library(folder, app_paths.database, source=DEFAULT_MODEL, key=SCORE_KEY)
    views = [{"name": n, **filter_to_json(f), "sort": {"key": "name"}} for n, f in VIEWS.items()]
    (app_paths.data_dir / "smart-views.json").write_text(json.dumps(views))
    window = make_window()
    window.settings = window.settings.with_changes(feature_cache=False)
    window.add_folder(str(folder))
    qtbot.waitUntil(lambda: window.photos.rowCount() == len(paths), timeout=10000)
    # The ratings (by content), the labels and the copies, read from the library off the GUI
    # thread.
    qtbot.waitUntil(lambda: len(window.desk.ratings.book) == 5, timeout=10000)
    qtbot.waitUntil(lambda: len(window.board.labels) == 3, timeout=10000)
    qtbot.waitUntil(lambda: _copies(window) == 4, timeout=10000)
    return window, folder, paths


def _copies(window) -> int:
    from blipdesk.qt.models.photos import Roles

    photos = window.photos
    return sum(1 for r in range(photos.rowCount()) if photos.index(r).data(Roles.Duplicates))


def test_a_smart_view_with_rating_label_and_duplicates_keeps_what_the_library_keeps(
    qtbot, library_window, app_paths
):
    window, folder, paths = library_window
    bar = window.filter_bar
    assert [window.sidebar.views.item(i).text() for i in range(len(VIEWS))] == list(VIEWS)
    for name, saved in VIEWS.items():
        window.flow.apply_view(name)
        assert bar.state() == saved  # back from the file, every criterion
        shown = {p.path for p in window.photos.visible_photos()}
        with Library.open(app_paths.database, readonly=True) as lib:
            kept = matching_paths(lib, SCORE_KEY, [folder], True, saved)
        assert shown == kept, name
        assert 0 < len(shown) < len(paths), name  # each view filters something
    window.flow.apply_view("Best picks")
    assert {p.name for p in window.photos.visible_photos()} == {"p1.jpg", "p1 copy.jpg"}


def test_the_criteria_show_as_chips_and_the_menus_follow_them(qtbot, library_window):
    window, _folder, paths = library_window
    bar, photos = window.filter_bar, window.photos
    window.flow.apply_view("Best picks")
    for key in ("rating", "labels", "duplicates"):
        assert bar.criterion_chip(key) is not None, key
    assert "≥ ★★★" in bar.criterion_chip("rating").toolTip()
    assert window.desk.filter_actions["★★★ or more"].isChecked()
    assert window.labels.show_actions["✓ Confirmed (any tag)"].isChecked()
    assert window.live.duplicates_action.isChecked()
    # The ✕ of the label chip: the label criterion goes, the Teach menu follows.
    bar.criterion_chip("labels").remove_button().click()
    assert bar.state().labels is None and bar.criterion_chip("labels") is None
    assert window.labels.show_actions["Any photo, labelled or not"].isChecked()
    assert {p.name for p in photos.visible_photos()} == {"p1.jpg", "p1 copy.jpg"}
    # The menus set the same criteria: View > Show duplicates only off, Photo > Show only.
    window.live.duplicates_action.setChecked(False)
    assert bar.criterion_chip("duplicates") is None
    assert {p.name for p in photos.visible_photos()} == {"p1.jpg", "p1 copy.jpg", "p3.jpg"}
    window.desk.filter_actions["Any rating"].trigger()
    assert photos.rowCount() == len(paths) and bar.state() == FilterState()
    window.labels.show_only("✗ Rejected (any tag)")
    assert [p.name for p in photos.visible_photos()] == ["p3.jpg"]
    # What the menus set is saved with a view, like the chips.
    window.flow.add_view("Rejected")
    assert window.flow.views.views[-1].filter == FilterState(labels="rejected")


def test_the_grids_wiring_needs_only_its_parts(qtbot, tmp_path):
    """GridFlow is built from GridParts (its parts, callables and the signals it follows), not
    from a window: here with stand-ins for the window's folder, tags and state."""
    from types import SimpleNamespace

    from PySide6.QtCore import QObject, Signal
    from PySide6.QtWidgets import QMainWindow, QStatusBar

    from blipdesk.qt.common.values import Photo, ScoreBoard
    from blipdesk.qt.controllers.grid_flow import GridFlow, GridParts
    from blipdesk.qt.models.folders import FolderTreeModel
    from blipdesk.qt.models.photos import PhotoGridModel
    from blipdesk.qt.widgets.filter_bar import FilterBar
    from blipdesk.qt.widgets.photo_grid import PhotoGrid
    from blipdesk.qt.widgets.scan_status import ScanStatus
    from blipdesk.qt.widgets.sidebar import LibrarySidebar
    from blipdesk.qt.workers.tasks import BackgroundTasks
    from blipdesk.qt.workers.thumbnails import ThumbnailLoader

    class Signals(QObject):
        searched, listed, counted = Signal(object), Signal(str), Signal(object)
        viewing, renamed, described = Signal(bool), Signal(str, str), Signal(object)

    host = QMainWindow()
    qtbot.addWidget(host)
    signals = Signals(host)
    calls: list[tuple[str, object]] = []
    shown = SimpleNamespace(
        current=None, open=lambda f: calls.append(("relist", f)), described=signals.described
    )
    thumbs = ThumbnailLoader(tmp_path / "thumbs", parent=host)
    photos = PhotoGridModel(ScoreBoard(), thumbs, host)
    folders = FolderTreeModel(host)
    tasks = BackgroundTasks(host)
    parts = GridParts(
        bar=FilterBar(), photos=photos, grid=PhotoGrid(photos, thumbs), folders=folders,
        sidebar=LibrarySidebar(folders), shown=shown, tags=SimpleNamespace(tags=lambda: []),
        state=SimpleNamespace(
            forget_last_folder=lambda: calls.append(("forget", None)), thumb_size=lambda: None,
            sort=lambda: None, set_thumb_size=lambda px: None, set_sort=lambda sort: None,
        ),
        status=QStatusBar(), scan_status=ScanStatus(), tasks=tasks, data_dir=tmp_path,
        search=lambda text: calls.append(("search", text)), recursive=lambda: True,
        recount=lambda f: calls.append(("recount", f)),
        set_title=lambda t: calls.append(("title", t)), searched=signals.searched,
        listed=signals.listed, counted=signals.counted, viewing=signals.viewing,
        renamed=signals.renamed,
    )  # fmt: skip
    flow = GridFlow(parts, host)
    assert "Welcome to blipdesk" in (flow.empty_text() or "")
    folders.add_root("/p")
    shown.current = "/p"
    flow.folder_opened("/p")
    photos.set_photos([Photo(f"/p/{n}.jpg", f"{n}.jpg", 1, 0.0) for n in ("a", "b")])
    signals.listed.emit("/p")
    flow.refresh()
    parts.bar.search.setText("a dog")
    parts.bar.search.returnPressed.emit()
    parts.bar.set_criteria(file_name="b")
    assert [p.name for p in photos.visible_photos()] == ["b.jpg"]
    assert flow.count_label.text() == "1 of 2 photos shown"
    flow.folder_closed()
    assert calls == [
        ("recount", "/p"),
        ("relist", "/p"),
        ("recount", "/p"),
        ("search", "a dog"),
        ("title", "blipdesk"),
        ("forget", None),
    ]
    tasks.shutdown()
    thumbs.shutdown()
