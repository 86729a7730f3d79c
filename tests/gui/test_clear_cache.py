"""Settings > cache: clearing the scores (off the GUI thread, never during a scan) and the
feature cache; the grid and the tags panel follow."""

from __future__ import annotations

from blipdesk.qt.common.values import Tag
from blipdesk.qt.models.photos import Roles
from blipdesk.qt.models.tags import TagRoles
from blipdesk.qt.widgets.dialogs import SettingsDialog, human_size
from blipdesk.store import Library
from blipdesk.store.library import database_bytes
from tests.gui.waiting import settle


def _dots(window) -> list:
    return [window.photos.index(r).data(Roles.TagColours) for r in range(window.photos.rowCount())]


def test_clear_scores_and_feature_cache_from_settings(
    qtbot, make_window, photo_dir, use_tiny_model, app_paths, monkeypatch
):
    asked: list[str] = []
    monkeypatch.setattr(
        SettingsDialog, "_confirm", lambda self, title, text: asked.append(text) or True
    )
    window = make_window()
    window.add_folder(str(photo_dir))
    qtbot.waitUntil(lambda: window.photos.rowCount() == 10, timeout=10000)
    window.save_tag(Tag("beach", ("a dog on a beach",), 0.0, "#e6194b"))  # 0.0: every photo

    # While a scan runs the buttons are disabled and say why; they come back when it ends.
    with qtbot.waitSignal(window.controller.scanFinished, timeout=90000):
        window.scan()
        dialog = window.open_settings()
        assert not dialog.clear_scores_button.isEnabled()
        assert "scan is running" in dialog.clear_scores_button.toolTip()
        assert window.clear_scores() is None  # refused by the window too
    qtbot.waitUntil(dialog.clear_scores_button.isEnabled, timeout=5000)
    settle(qtbot, window)  # the coalesced repaint/recount timers have run
    assert all(_dots(window)) and len(_dots(window)) == 10
    row = window.tags.index(window.tags.row_of("beach"))
    assert row.data(TagRoles.Count) == 10

    reloaded = []  # the folder's scores read again, and whether a clearing was still running
    window.shown.scoresLoaded.connect(lambda: reloaded.append(bool(window.files.clearing)))
    dialog.clear_scores_button.click()
    assert "recomputed by the next scan" in asked[0] and "tags and thresholds are kept" in asked[0]
    qtbot.waitUntil(lambda: not window.files.clearing, timeout=30000)
    # What the cache still holds was read back after the clearing: no dot may come back with it.
    qtbot.waitUntil(lambda: False in reloaded, timeout=10000)
    settle(qtbot, window)
    assert not any(_dots(window))  # no tag dots left on the grid
    assert [t.name for t in window.tags.tags()] == ["beach"]  # the tag is still listed
    assert row.data(TagRoles.Count) == 0 and row.data(TagRoles.Scored) == 0
    # The size is shown again once the clearing ends. (Comparing it with the label filled in while
    # the scan ran was flaky: both are rounded to 0.1 MB, so they could read the same.)
    assert dialog.clear_scores_button.isEnabled()
    assert dialog.scores_size.text() == human_size(database_bytes(app_paths.database))
    with Library.open(app_paths.database, readonly=True) as lib:
        assert [t.name for t in lib.tags()] == ["beach"]
        assert lib.conn.execute("SELECT COUNT(*) FROM scores").fetchone()[0] == 0

    # The vision cache (on by default) survives clearing scores; its size comes from its index.
    assert dialog.features_size.text().endswith("for 10 photos")
    assert len(list(app_paths.features_dir.rglob("*.vis"))) == 10
    dialog.clear_features_button.click()
    assert "vision pass again" in asked[1]
    qtbot.waitUntil(lambda: not app_paths.features_dir.exists(), timeout=10000)
    qtbot.waitUntil(lambda: not window.files.clearing, timeout=10000)
    assert dialog.features_size.text() == "empty"
    with Library.open(app_paths.database, readonly=True) as lib:
        assert lib.features_count() == 0

    # A scan scores again afterwards.
    dialog.reject()
    assert window.settings_flow.dialog is None
    with qtbot.waitSignal(window.controller.scanFinished, timeout=90000):
        window.scan()
    qtbot.waitUntil(lambda: all(_dots(window)), timeout=5000)
    assert len(list(app_paths.features_dir.rglob("*.vis"))) == 10  # and keeps vision outputs


def test_thumbnails_are_measured_and_cleared_off_the_gui_thread(qtbot, app_paths):
    """Settings never walks or deletes the thumbnail folder on the GUI thread: the label says
    "measuring…" at once and gets the size from the thread pool."""
    from blipdesk.services.settings import Settings

    thumbs = app_paths.thumbnails_dir / "ab"
    thumbs.mkdir(parents=True)
    for i in range(50):
        (thumbs / f"{i}.jpg").write_bytes(b"\0" * 1000)
    dialog = SettingsDialog(Settings(), app_paths.data_dir)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.thumbs_size.text() not in ("", "measuring…"), timeout=5000)
    assert dialog.thumbs_size.text() == "50.0 KB"
    dialog.clear_button.click()
    assert dialog.thumbs_size.text() == "clearing…"
    qtbot.waitUntil(lambda: dialog.thumbs_size.text() != "clearing…", timeout=5000)
    assert not app_paths.thumbnails_dir.exists() and dialog.thumbs_size.text() == "0 bytes"
