"""The main window driven through a whole story on the tiny model, measuring event-loop stalls."""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer

from blipdesk.qt.common.values import Tag
from blipdesk.qt.models.photos import Roles
from blipdesk.qt.models.tags import TagRoles
from blipdesk.qt.workers.inference import TryJob, next_job_id
from tests.gui.waiting import settle


class StallProbe:
    """A 10 ms timer; the longest gap between two ticks is the event loop's longest stall."""

    def __init__(self) -> None:
        self.last = time.perf_counter()
        self.worst = 0.0
        self.ticks = 0
        self.timer = QTimer(interval=10)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.worst = max(self.worst, now - self.last)
        self.last = now
        self.ticks += 1

    def stop(self) -> float:
        self.timer.stop()
        return self.worst


def test_story(qtbot, make_window, photo_dir, use_tiny_model, capsys):
    window = make_window()
    # Add a folder: the grid fills from the listing.
    window.add_folder(str(photo_dir))
    qtbot.waitUntil(lambda: window.photos.rowCount() == 10, timeout=10000)
    qtbot.waitUntil(lambda: window.thumbs.cached_count() >= 10, timeout=10000)
    assert "(10)" in window.folders.index(0, 0).data()

    # Add tags.
    window.save_tag(Tag("beach", ("a dog on a beach", "sand and sea"), 0.5, "#e6194b"))
    window.save_tag(Tag("car", ("a red car",), 0.5, "#4363d8"))
    assert [t.name for t in window.tags.tags()] == ["beach", "car"]

    # "Try on this photo" first: loads the model on the worker thread. Importing torch and
    # transformers holds the GIL for long stretches (C extension init), so the cold start stalls
    # the event loop; it is measured and printed, but the bound applies to the scan itself.
    probe = StallProbe()
    with qtbot.waitSignal(window.controller.tried, timeout=60000) as tried:
        window.controller.submit(
            TryJob(
                next_job_id(),
                window._model_choice(),
                path=window.photos.photo_at(0).path,
                sentences=("a dog on a beach",),
            )
        )
    cold = probe.stop()
    assert 0.0 <= tried.args[0]["a dog on a beach"].itm <= 1.0

    # Scan, probing the event loop meanwhile.
    probe = StallProbe()
    with qtbot.waitSignal(window.controller.scanFinished, timeout=90000) as done:
        window.scan()
    settle(qtbot, window)  # the coalesced repaint/recount timers have run
    stall = probe.stop()
    with capsys.disabled():
        print(
            f"\nlongest event-loop stall: loading the model {cold * 1000:.0f} ms, "
            f"during the scan {stall * 1000:.0f} ms"
        )
    assert done.args[0] == "done"
    # The stall is printed, not asserted (no timing asserts in tests): benchmarks/bench_gui.py
    # measures it on a quiet machine. The structural guarantee behind it is tested here: the
    # scan's results reached the window, batch by batch, while the event loop kept ticking.
    assert probe.ticks > 1
    assert all(
        window.board.tag_score(p.path, window.tags.tag("beach")) is not None
        for p in window.photos.photos()
    )
    assert "beach" in window.grid.model().index(0).data(0x0003)  # tooltip shows scores

    # Filter by a tag: threshold at the median splits the folder.
    beach = window.tags.tag("beach")
    scores = sorted(window.board.tag_score(p.path, beach) for p in window.photos.photos())
    median = (scores[4] + scores[5]) / 2
    row = window.tags.row_of("beach")
    window.tags.setData(window.tags.index(row), median, TagRoles.Threshold)
    window.filter_bar.add_filter("beach", "and")
    assert window.photos.rowCount() == 5
    window.filter_bar._cycle("beach")  # and -> or
    window.filter_bar._cycle("beach")  # or -> not
    assert window.photos.rowCount() == 5
    # Moving the threshold re-filters at once from the cache.
    window.tags.setData(window.tags.index(row), 0.0, TagRoles.Threshold)
    assert window.photos.rowCount() == 0
    window.filter_bar._remove("beach")
    assert window.photos.rowCount() == 10

    # Search: ranks the folder and shows a score on each result.
    # The cosine ranking comes first, then the best are checked by ITM step by step.
    with qtbot.waitSignal(
        window.controller.searched, timeout=60000, check_params_cb=lambda r: r.done
    ):
        window.filter_bar.search.setText("a dog")
        window.filter_bar._search()
    assert 0 < window.photos.rowCount() <= 10
    first = window.photos.index(0).data(Roles.SearchScore)
    assert first is not None and 0.0 <= first <= 1.0
    window.filter_bar.search.clear()
    assert window.photos.rowCount() == 10

    # Viewer: Enter opens, arrows move, Esc returns.
    window.grid.setCurrentIndex(window.photos.index(0))
    window.grid.openRequested.emit(window.grid.current_photo())
    assert window.stack.currentWidget() is window.viewer
    assert not window.sidebar.isVisible() and not window.right.isVisible()  # full window
    window.viewer.step.emit(1)
    assert window.grid.currentIndex().row() == 1
    window.viewer.closed.emit()
    assert window.stack.currentWidget() is window.grid
    assert window.sidebar.isVisible() and window.right.isVisible()

    window.tags.setData(window.tags.index(row), 0.42, TagRoles.Threshold)
    window.close()

    # Reopen: cached results at once, without loading the model.
    again = make_window()
    qtbot.waitUntil(lambda: again.photos.rowCount() == 10, timeout=10000)
    qtbot.waitUntil(
        lambda: all(again.board.has_any(p.path) for p in again.photos.photos()), timeout=10000
    )
    assert again.controller.worker.model_loads == 0
    assert again.tags.tag("beach").threshold == 0.42
    assert again.current_folder == str(photo_dir)
    again.close()
