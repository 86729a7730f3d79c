"""The window's writes while another blipdesk process holds the cache's write lock longer than
SQLite's busy timeout (issue 24, item 2): a rating made during the hold is shown at once and
stored after it; a save that fails for good puts the stars back and says so in words."""

from __future__ import annotations

import sqlite3

import pytest
from PySide6.QtCore import Qt

from blipdesk.domain import Rating
from blipdesk.services.ratings import load_ratings
from tests.helpers.lock_holder import (  # noqa: F401 (short_lock_timeout: a fixture)
    other_writer,
    released_when_waiting,
    short_lock_timeout,
)


@pytest.fixture
def release():
    """The other process goes once a write says it waits for it (held past the timeout)."""
    with released_when_waiting() as handler:
        yield handler


def _window(qtbot, make_window, folder):
    window = make_window()
    window.add_folder(str(folder))
    qtbot.waitUntil(lambda: window.photos.rowCount() == 10, timeout=10000)
    return window


def _rate(qtbot, window, row: int, key: Qt.Key) -> str:
    grid = window.grid
    grid.setFocus()
    grid.clearSelection()
    grid.setCurrentIndex(window.photos.index(row))
    qtbot.keyClick(grid, key)
    return window.photos.photo_at(row).path


@pytest.mark.usefixtures("short_lock_timeout")
def test_a_rating_made_while_another_process_writes_is_stored_after_it(
    qtbot, make_window, photo_dir, app_paths, release
):
    window = _window(qtbot, make_window, photo_dir)
    ratings = window.desk.ratings
    qtbot.waitUntil(lambda: ratings.tasks.pool.activeThreadCount() == 0)
    with other_writer(app_paths.database, "stdin") as other:
        release.process = other  # lets it go once the save said it waits: held past the timeout
        path = _rate(qtbot, window, 0, Qt.Key.Key_5)
        assert ratings.rating(path) == Rating(5, 0)  # shown at once
        qtbot.waitUntil(lambda: release.lines != [], timeout=10000)
    qtbot.waitUntil(lambda: ratings.tasks.pool.activeThreadCount() == 0, timeout=10000)
    assert release.lines == [
        f"waiting for another blipdesk process (PID {other.pid}) to finish writing"
    ]
    assert ratings.rating(path) == Rating(5, 0)  # still shown: it was stored
    assert load_ratings(str(app_paths.database), [path]) == {path: Rating(5, 0)}
    assert "could not be saved" not in window.statusBar()._full


def test_a_rating_that_cannot_be_saved_is_put_back_and_the_window_says_so(
    qtbot, make_window, photo_dir, app_paths, monkeypatch
):
    import blipdesk.services.ratings as service

    window = _window(qtbot, make_window, photo_dir)
    ratings = window.desk.ratings
    first = _rate(qtbot, window, 1, Qt.Key.Key_2)  # saved: the one to go back to
    qtbot.waitUntil(lambda: ratings.tasks.pool.activeThreadCount() == 0)

    def fails(database, wanted):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(service, "save_ratings", fails)
    with qtbot.waitSignal(ratings.message, timeout=10000, check_params_cb=_put_back):
        _rate(qtbot, window, 1, Qt.Key.Key_5)
        assert ratings.rating(first) == Rating(5, 0)  # shown at once
    assert ratings.rating(first) == Rating(2, 0)  # the stars went back
    text = window.statusBar()._full
    assert "could not be saved and was put back" in text and "disk I/O error" in text
    assert load_ratings(str(app_paths.database), [first]) == {first: Rating(2, 0)}


def _put_back(text: str, _timeout: int) -> bool:
    return "could not be saved" in text


# ------------------------------------------------------------------------ the window's scan


@pytest.fixture
def controller(qtbot):
    from blipdesk.qt.workers.inference import InferenceController

    c = InferenceController()
    yield c
    c.shutdown()


def _scan_job(photo_dir, model_dir, app_paths):
    from blipdesk.core.engine import ScanOptions
    from blipdesk.qt.workers.inference import ModelChoice, ScanJob, next_job_id

    return ScanJob(
        next_job_id(),
        ModelChoice(str(model_dir), precision="fp32", device="cpu"),
        folders=(str(photo_dir),),
        sentences=("a dog on a beach",),
        database=str(app_paths.database),
        options=ScanOptions(batch_size=2, use_processes=False),
    )


@pytest.mark.usefixtures("short_lock_timeout")
def test_a_window_scan_waits_for_another_process_says_so_and_finishes(
    qtbot, controller, photo_dir, tiny_model_dir, app_paths, release
):
    statuses: list[str] = []
    failed: list = []
    controller.waiting.connect(statuses.append)
    controller.failed.connect(lambda *args: failed.append(args))
    with other_writer(app_paths.database, "stdin") as other:
        release.process = other
        with qtbot.waitSignal(controller.scanFinished, timeout=60000) as done:
            controller.submit(_scan_job(photo_dir, tiny_model_dir, app_paths))
    outcome, summary = done.args
    assert not failed  # no crash dialog
    assert outcome == "done" and summary.scored == 10
    line = f"waiting for another blipdesk process (PID {other.pid}) to finish writing"
    assert statuses.count(line) == 1, statuses


@pytest.mark.usefixtures("short_lock_timeout")
def test_cancel_ends_a_window_scans_wait_for_another_process(
    qtbot, controller, photo_dir, tiny_model_dir, app_paths
):
    failed: list = []
    controller.failed.connect(lambda *args: failed.append(args))
    with other_writer(app_paths.database, "stdin") as other:
        with qtbot.waitSignal(controller.waiting, timeout=60000, check_params_cb=_waiting):
            controller.submit(_scan_job(photo_dir, tiny_model_dir, app_paths))
        with qtbot.waitSignal(controller.scanFinished, timeout=30000) as done:
            controller.cancel()
        assert other.stdin is not None
        other.stdin.write("go\n")
        other.stdin.flush()
    assert done.args[0] == "cancelled"
    assert not failed  # a cancelled wait, not an error


def _waiting(text: str) -> bool:
    return text.startswith("waiting for another blipdesk process")
