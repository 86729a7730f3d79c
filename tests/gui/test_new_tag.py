"""A new tag over a scanned folder: checked at once from the vision cache (no decoding, no vision
pass), best matches first, with its progress in the status bar; photos never scanned wait."""

from __future__ import annotations

from blipdesk.core import decoding, engine
from blipdesk.qt.common.values import Tag
from blipdesk.qt.workers.inference import ScanJob
from tests.gui.waiting import settle
from tests.helpers.models import scene


def test_a_new_tag_is_checked_from_the_vision_cache(qtbot, scanned_window, photo_dir, monkeypatch):
    window = scanned_window
    window.live.watcher.set_roots(())  # not followed here: photos added stay unscanned
    for i in range(2):  # added after the scan: not scanned yet
        scene(64, 48, 90 + i).save(photo_dir / f"late{i}.png")

    def fail(*args, **kwargs):
        raise AssertionError("decoded a photo for a new tag although its vision output is cached")

    monkeypatch.setattr(decoding, "decode_for_model", fail)
    monkeypatch.setattr(engine, "_decode_pool", fail)
    jobs, submit = [], window.controller.submit
    monkeypatch.setattr(window.controller, "submit", lambda job: submit(jobs.append(job) or job))
    labels, progress = [], []
    window.controller.progress.connect(progress.append)
    window.controller.progress.connect(lambda p: labels.append(window.scan_status.label.text()))
    with qtbot.waitSignal(window.controller.scanFinished, timeout=90000) as done:
        window.save_tag(Tag("cake", ("birthday cake with candles",), 0.5, "#3cb44b"))
        assert window.scan_status.label.text().startswith("Checking “cake”")
    assert done.args[0] == "done"
    # The check takes the photos the window lists (the two added since are not): no walk.
    listed = tuple(p.path for p in window.photos.photos())
    assert [j.listed for j in jobs if isinstance(j, ScanJob)] == [listed] and len(listed) == 10
    assert progress and progress[-1].done == progress[-1].from_cache == 10
    assert labels[-1].startswith("Checked 10 of 10 photos")
    settle(qtbot, window)
    assert (
        window.board.missing(
            [p.path for p in window.photos.photos()][:1], ["birthday cake with candles"]
        )
        == []
    )
    assert window.scan_status.label.text() == "“cake” checked on 10 scanned photos"
