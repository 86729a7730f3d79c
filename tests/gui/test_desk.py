"""The photographer's desk (issue 14): the viewer (real-size pixels, zoom, pan, an unreadable photo
says why, the filmstrip, full screen), the information panel, ratings and flags with their keys
and filter, Help's shortcut list, Ctrl+, and the light and dark palettes."""

from __future__ import annotations

from PIL import Image
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QKeySequence, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from blipdesk.domain import Rating
from blipdesk.qt.workers.viewer_images import FULL
from blipdesk.services.ratings import load_ratings
from tests.helpers.models import scene
from tests.unit.test_ratings import _jpeg_with_exif


def _window(qtbot, make_window, folder, rows):
    window = make_window()
    window.add_folder(str(folder))
    qtbot.waitUntil(lambda: window.photos.rowCount() == rows, timeout=10000)
    return window


def _open(qtbot, window, row):
    window.grid.setCurrentIndex(window.photos.index(row))
    window.stack.open_viewer(window.grid.current_photo())
    qtbot.waitUntil(lambda: window.viewer.isVisible(), timeout=5000)
    return window.viewer


def _fit_ready(viewer):
    return viewer.images.cached(viewer.photo.path, viewer.device_size()) is not None


def test_viewer_shows_the_photo_at_the_windows_device_pixels_and_zooms(
    qtbot, make_window, tmp_path, monkeypatch
):
    folder = tmp_path / "big"
    folder.mkdir()
    scene(3000, 2000, 1).save(folder / "chart.jpg", quality=90)
    window = _window(qtbot, make_window, folder, 1)
    window.resize(1200, 900)
    viewer = _open(qtbot, window, 0)
    # A high-density screen: the fit image is decoded at twice the logical size, not stretched.
    monkeypatch.setattr(viewer, "devicePixelRatioF", lambda: 2.0)
    viewer.resize(viewer.size())
    viewer._request_pixels()
    qtbot.waitUntil(lambda: _fit_ready(viewer), timeout=20000)
    image, full = viewer.images.cached(viewer.photo.path, viewer.device_size())
    area, dev = viewer.image_area(), viewer.device_size()
    assert dev.width() == 2 * area.width() and dev.height() == 2 * area.height()
    assert (full.width(), full.height()) == (3000, 2000)
    # Fits the device pixels exactly along one side; far more than the old 1024 px preview.
    assert image.width() == dev.width() or image.height() == dev.height()
    assert max(image.width(), image.height()) > 1024
    assert viewer.zoom_text() == "Fit"

    # 100% (Ctrl+1): one photo pixel per device pixel, decoded whole off the GUI thread.
    qtbot.keyClick(viewer, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert viewer.zoom == 1.0 and viewer.zoom_text() == "100%"
    qtbot.waitUntil(
        lambda: viewer.images.cached(viewer.photo.path, FULL) is not None, timeout=20000
    )
    rect = viewer.image_rect()
    assert round(rect.width()) == 1500  # 3000 device px at a ratio of 2
    # Drag pans (the photo moves with the mouse), never past its edges.
    centre = QPointF(viewer.centre)
    start = QPointF(viewer.image_area().center())
    _mouse(viewer, QEvent.Type.MouseButtonPress, start, Qt.MouseButton.LeftButton)
    _mouse(viewer, QEvent.Type.MouseMove, start + QPointF(100, 50), Qt.MouseButton.LeftButton)
    _mouse(
        viewer, QEvent.Type.MouseButtonRelease, start + QPointF(100, 50), Qt.MouseButton.NoButton
    )
    assert viewer.centre.x() < centre.x() and viewer.centre.y() < centre.y()
    for _ in range(20):
        _mouse(viewer, QEvent.Type.MouseButtonPress, start, Qt.MouseButton.LeftButton)
        _mouse(viewer, QEvent.Type.MouseMove, start + QPointF(900, 900), Qt.MouseButton.LeftButton)
        _mouse(viewer, QEvent.Type.MouseButtonRelease, start, Qt.MouseButton.NoButton)
    rect, area = viewer.image_rect(), viewer.image_area()  # the area: under the Why? strip
    assert abs(rect.left() - area.left()) < 1 and abs(rect.top() - area.top()) < 1  # the corner
    viewer.grab()  # paints the visible part of the whole image

    # Ctrl+- steps out and stops at fit; Ctrl++ and Ctrl+wheel step in; Ctrl+0 fits; Z toggles.
    for _ in range(12):
        qtbot.keyClick(viewer, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert viewer.zoom is None
    qtbot.keyClick(viewer, Qt.Key.Key_Plus, Qt.KeyboardModifier.ControlModifier)
    assert viewer.zoom is not None and viewer.zoom > viewer.fit_scale()
    before = viewer.zoom
    _wheel(viewer, 120)
    assert viewer.zoom > before
    qtbot.keyClick(viewer, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert viewer.zoom is None
    qtbot.keyClick(viewer, Qt.Key.Key_Z)
    assert viewer.zoom == 1.0
    qtbot.keyClick(viewer, Qt.Key.Key_Z)
    assert viewer.zoom is None


def test_ctrl_wheel_keeps_the_point_under_the_cursor(qtbot, make_window, tmp_path):
    folder = tmp_path / "one"
    folder.mkdir()
    scene(1600, 1200, 2).save(folder / "a.jpg")
    window = _window(qtbot, make_window, folder, 1)
    viewer = _open(qtbot, window, 0)
    qtbot.waitUntil(lambda: viewer.full_size is not None, timeout=20000)
    rect = viewer.image_rect()
    at = QPointF(rect.left() + rect.width() * 0.75, rect.top() + rect.height() * 0.5)
    point = viewer._image_point(at)
    _wheel(viewer, 480, at)  # far enough in that no edge holds the photo back
    assert viewer.zoom is not None
    after = viewer._image_point(at)
    assert abs(after.x() - point.x()) < 0.01 and abs(after.y() - point.y()) < 0.01


def test_an_unreadable_photo_says_why_in_the_viewer(qtbot, make_window, tmp_path):
    folder = tmp_path / "awkward"
    folder.mkdir()
    scene(320, 240, 0).save(folder / "a.jpg")
    (folder / "b.jpg").write_bytes(b"this is not a photo")
    window = _window(qtbot, make_window, folder, 2)
    viewer = _open(qtbot, window, 1)
    qtbot.waitUntil(lambda: viewer.error() is not None, timeout=10000)
    assert "not an image" in viewer.error()
    viewer.grab()  # "Cannot show b.jpg: …" painted in the photo's place, not "Loading…"
    # The next photo shows normally.
    viewer.step.emit(-1)
    qtbot.waitUntil(lambda: _fit_ready(viewer), timeout=10000)
    assert viewer.error() is None


def test_filmstrip_follows_the_viewer_and_picks_a_photo(qtbot, make_window, photo_dir):
    window = _window(qtbot, make_window, photo_dir, 10)
    viewer = _open(qtbot, window, 2)
    strip = window.stack.filmstrip
    assert strip.isVisible() and strip.currentIndex().row() == 2
    qtbot.waitUntil(lambda: window.thumbs.cached_count() >= 5, timeout=10000)
    viewer.step.emit(1)
    assert strip.currentIndex().row() == 3
    target = strip.visualRect(window.photos.index(5)).center()
    qtbot.mouseClick(strip.viewport(), Qt.MouseButton.LeftButton, pos=target)
    assert viewer.photo.path == window.photos.photo_at(5).path
    assert window.grid.currentIndex().row() == 5


def test_full_screen_with_f_and_back_with_esc(qtbot, make_window, photo_dir):
    window = _window(qtbot, make_window, photo_dir, 10)
    window.grid.setCurrentIndex(window.photos.index(4))
    window.grid.setFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_F)
    assert window.stack.currentWidget() is window.viewer
    assert window.desk.full_screen() and window.isFullScreen()
    assert not window.menuBar().isVisible() and not window.stack.filmstrip.isVisible()
    assert window.viewer.photo.path == window.photos.photo_at(4).path
    qtbot.keyClick(window.viewer, Qt.Key.Key_Escape)
    assert window.stack.currentWidget() is window.grid
    assert not window.desk.full_screen() and not window.isFullScreen()
    assert window.menuBar().isVisible()


def test_info_panel_shows_exif_read_off_the_gui_thread(qtbot, make_window, tmp_path):
    folder = tmp_path / "exif"
    folder.mkdir()
    _jpeg_with_exif(str(folder / "a.jpg"))
    Image.new("RGB", (30, 20)).save(folder / "b.png")
    window = _window(qtbot, make_window, folder, 2)
    window.grid.setCurrentIndex(window.photos.index(0))
    qtbot.waitUntil(lambda: "Camera" in window.desk.info.values(), timeout=10000)
    values = window.desk.info.values()
    assert values["Camera"] == "Canon EOS R5" and values["Lens"] == "RF50mm F1.8 STM"
    assert values["Exposure"] == "1/250 s · f/2.8 · ISO 200"
    assert values["Taken"] == "2024-07-01 12:30:05" and values["GPS"] == "location recorded"
    assert values["Pixels"].startswith("60 × 40 px") and values["File"].startswith("JPEG")
    window.grid.setCurrentIndex(window.photos.index(1))
    qtbot.waitUntil(lambda: "File" in window.desk.info.values(), timeout=10000)
    assert "Camera" not in window.desk.info.values()
    assert window.desk.info.note.text() == "No camera data (EXIF) in this file."


def test_rating_keys_on_the_selection_grid_stars_filter_and_restart(
    qtbot, make_window, photo_dir, app_paths
):
    window = _window(qtbot, make_window, photo_dir, 10)
    grid, photos = window.grid, window.photos
    grid.setFocus()
    grid.setCurrentIndex(photos.index(0))
    qtbot.keyClick(grid, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)  # select all
    grid.clearSelection()
    for row in (0, 1, 2):
        grid.selectionModel().select(photos.index(row), grid.selectionModel().SelectionFlag.Select)
    qtbot.keyClick(grid, Qt.Key.Key_4)
    qtbot.keyClick(grid, Qt.Key.Key_P)
    book = window.desk.ratings.book
    paths = [photos.photo_at(r).path for r in range(3)]
    assert all(book[p] == Rating(4, 1) for p in paths)
    grid.clearSelection()
    grid.setCurrentIndex(photos.index(3))
    qtbot.keyClick(grid, Qt.Key.Key_X)
    qtbot.keyClick(grid, Qt.Key.Key_2)
    assert book[photos.photo_at(3).path] == Rating(2, -1)
    qtbot.keyClick(grid, Qt.Key.Key_U)
    assert book[photos.photo_at(3).path] == Rating(2, 0)
    # Stars on the thumbnail: in the strip under the photo, on the right, a dark badge with
    # yellow stars (qt/common/badges.py).
    image = grid.viewport().grab().toImage()
    rect = grid.visualRect(photos.index(0))
    bottom = rect.top() + 8 + grid.delegate.thumb * 3 // 4  # the thumbnail box's (landscape)
    assert any(
        image.pixelColor(x, y).red() > 200 and image.pixelColor(x, y).blue() < 80
        for x in range(rect.center().x(), rect.right() - 30)
        for y in range(bottom, bottom + 22)
    )
    # The rating filter (Photo > Show only) keeps the photos rated 3 stars or more.
    window.desk.filter_actions["★★★ or more"].trigger()
    assert photos.rowCount() == 3
    window.desk.filter_actions["Picked"].trigger()
    assert photos.rowCount() == 3
    window.desk.filter_actions["Any rating"].trigger()
    assert photos.rowCount() == 10
    # Saved by content in the library, off the GUI thread; a new window has them back.
    qtbot.waitUntil(lambda: window.desk.ratings.tasks.pool.activeThreadCount() == 0)
    saved = load_ratings(str(app_paths.database), paths)
    assert saved == dict.fromkeys(paths, Rating(4, 1))
    window.close()
    again = _window(qtbot, make_window, photo_dir, 10)
    qtbot.waitUntil(lambda: len(again.desk.ratings.book) == 4, timeout=10000)
    assert again.desk.ratings.rating(paths[0]) == Rating(4, 1)


def test_rating_keys_in_the_viewer_rate_the_photo_shown(qtbot, make_window, photo_dir):
    window = _window(qtbot, make_window, photo_dir, 10)
    viewer = _open(qtbot, window, 6)
    qtbot.keyClick(viewer, Qt.Key.Key_5)
    assert window.desk.ratings.rating(viewer.photo.path) == Rating(5, 0)
    assert "★★★★★" in window.desk.ratings.text(viewer.photo.path)
    viewer.grab()


def test_help_lists_the_shortcuts_and_ctrl_comma_opens_settings(qtbot, make_window, photo_dir):
    window = _window(qtbot, make_window, photo_dir, 10)
    dialog = window.desk.show_shortcuts()
    qtbot.addWidget(dialog)
    rows = dialog.rows()
    keys = {(key, what) for _where, key, what in rows}
    assert ("Ctrl+,", "Settings") in keys
    assert ("F", "Full screen") in keys and ("P", "Pick") in keys and ("X", "Reject") in keys
    assert any(what.startswith("Zoom to 100%") for _w, _k, what in rows)
    assert any(k == "Ctrl+/" and w == "Keyboard shortcuts" for _m, k, w in rows)
    dialog.close()
    settings = next(
        a for a in window.menuBar().actions()[0].menu().actions() if a.text() == "Se&ttings…"
    )
    assert QKeySequence("Ctrl+,") in settings.shortcuts()
    settings.trigger()
    assert window.settings_flow.dialog is not None
    window.settings_flow.dialog.reject()


def test_light_and_dark_palettes_the_viewer_stays_dark(qtbot, make_window, photo_dir, monkeypatch):
    from blipdesk.qt.common.theme import apply_scheme, current_scheme

    app = QApplication.instance()
    window = _window(qtbot, make_window, photo_dir, 10)
    try:
        for scheme in ("dark", "light"):
            assert apply_scheme(app, scheme) == scheme
            QApplication.processEvents()  # the palette reaches the widgets by events
            assert current_scheme(window.palette()) == scheme
            viewer = _open(qtbot, window, 0)
            corner = viewer.grab().toImage().pixelColor(3, 3)
            assert corner.lightness() < 40  # the viewer's dark ground in both
            window.stack.close_viewer()
        monkeypatch.setenv("BLIPDESK_COLOR_SCHEME", "dark")
        assert apply_scheme(app) == "dark"
    finally:
        apply_scheme(app, "light")


def _mouse(widget, kind, pos: QPointF, buttons) -> None:
    button = Qt.MouseButton.LeftButton if kind != QEvent.Type.MouseMove else Qt.MouseButton.NoButton
    global_pos = QPointF(widget.mapToGlobal(pos.toPoint()))
    event = QMouseEvent(kind, pos, global_pos, button, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def _wheel(widget, delta: int, at: QPointF | None = None) -> None:
    pos = at if at is not None else QPointF(widget.image_area().center())
    event = QWheelEvent(
        pos,
        QPointF(widget.mapToGlobal(pos.toPoint())),
        QPoint(0, 0),
        QPoint(0, delta),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.ControlModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def test_the_next_photo_is_decoded_ahead_and_overlays_follow_the_photo(
    qtbot, make_window, photo_dir
):
    window = _window(qtbot, make_window, photo_dir, 10)
    viewer = _open(qtbot, window, 0)
    following = window.photos.photo_at(1)
    qtbot.waitUntil(
        lambda: viewer.images.cached(following.path, viewer.device_size()) is not None,
        timeout=10000,
    )
    viewer.step.emit(1)
    assert viewer.photo.path == following.path and _fit_ready(viewer)  # shown at once
    # An overlay (the "Why?" heat map, say) paints over the photo's rectangle at any zoom.
    seen = []
    viewer.overlays.append(lambda painter, rect: seen.append(rect))
    moved = []
    viewer.viewChanged.connect(lambda: moved.append(True))
    viewer.grab()
    assert seen and seen[-1] == viewer.image_rect() and seen[-1].width() > 0
    viewer.zoom_in()
    assert moved
    viewer.grab()
    assert seen[-1].width() > seen[0].width()


def test_closing_in_full_screen_keeps_the_normal_geometry(qtbot, make_window, photo_dir):
    window = _window(qtbot, make_window, photo_dir, 10)
    window.grid.setCurrentIndex(window.photos.index(0))
    window.desk.toggle_full_screen()
    assert window.isFullScreen()
    window.close()
    assert not window.isFullScreen() and not window.desk.full_screen()


def test_file_actions_act_on_the_photos_the_rating_filter_shows(qtbot, make_window, photo_dir):
    window = _window(qtbot, make_window, photo_dir, 10)
    window.grid.setCurrentIndex(window.photos.index(2))
    window.desk.ratings.set_stars(3)
    window.grid.clearSelection()
    window.desk.filter_actions["★★★ or more"].trigger()
    label, photos = window.grid.scopes(str(photo_dir))[0]
    assert label == "Photos shown by the filter (1 of 10)" and len(photos) == 1


def test_the_desk_runs_on_its_parts_alone(qtbot, photo_dir, app_paths):
    """No blipdesk window: a bare QMainWindow with a Help menu, the photo stack, the panels. The
    desk adds its menus before Help, rates what the grid selects (else the viewer's photo) and
    hides exactly the panels it was given while the viewer is open."""
    from PySide6.QtWidgets import QMainWindow, QSplitter, QWidget

    from blipdesk.qt.common.values import ScoreBoard
    from blipdesk.qt.controllers.desk import Desk
    from blipdesk.qt.models.photos import PhotoGridModel
    from blipdesk.qt.models.tags import TagListModel
    from blipdesk.qt.widgets.detail_panel import DetailPanel
    from blipdesk.qt.widgets.info_panel import InfoPanel
    from blipdesk.qt.widgets.photo_grid import PhotoGrid
    from blipdesk.qt.widgets.photo_stack import PhotoStack
    from blipdesk.qt.widgets.viewer import PhotoViewer
    from blipdesk.qt.workers.folders import FolderLister
    from blipdesk.qt.workers.thumbnails import ThumbnailLoader
    from blipdesk.store import Library

    with Library.open(app_paths.database):
        pass  # an empty cache
    main = QMainWindow()
    qtbot.addWidget(main)
    main.menuBar().addMenu("&Help").addAction("About")
    board, thumbs, lister = ScoreBoard(), ThumbnailLoader(app_paths.thumbnails_dir), FolderLister()
    photos = PhotoGridModel(board, thumbs)
    grid = PhotoGrid(photos, thumbs)
    stack = PhotoStack(grid, PhotoViewer(board, thumbs), photos, TagListModel(board))
    detail, info, side = DetailPanel(board, thumbs), InfoPanel(), QWidget()
    splitter = QSplitter()
    for part in (side, stack, detail, info):
        splitter.addWidget(part)
    main.setCentralWidget(splitter)
    from blipdesk.qt.widgets.filter_bar import FilterBar

    bar = FilterBar()
    desk = Desk(main, stack, board, detail, info, bar, (side, detail), str(app_paths.database))
    main.show()
    try:
        assert [a.text() for a in main.menuBar().actions()] == ["&View", "&Photo", "&Help"]
        help_menu = main.menuBar().actions()[-1].menu()
        assert help_menu.actions()[0].text() == "&Keyboard shortcuts"
        with qtbot.waitSignal(lister.listed, timeout=10000) as listed:
            lister.list(str(photo_dir), False)
        photos.set_photos(listed.args[2])
        for row in (0, 1):
            grid.selectionModel().select(
                photos.index(row), grid.selectionModel().SelectionFlag.Select
            )
        with qtbot.waitSignal(desk.ratings.changed) as changed:
            desk.rating_actions[3].trigger()
        two = [photos.photo_at(r).path for r in (0, 1)]
        assert changed.args[0] == two and main.statusBar().currentMessage() == "3 stars on 2 photos"
        stack.open_viewer(photos.photo_at(4))
        assert not side.isVisible() and not detail.isVisible() and info.isVisible()
        desk.rating_actions[5].trigger()  # the photo in the viewer, not the selection
        assert desk.ratings.rating(photos.photo_at(4).path) == Rating(5, 0)
        assert all(desk.ratings.rating(p) == Rating(3, 0) for p in two)
        stack.close_viewer()
        assert side.isVisible() and detail.isVisible()
    finally:
        main.close()
        desk.shutdown()
        for part in (thumbs, lister):
            part.shutdown()
