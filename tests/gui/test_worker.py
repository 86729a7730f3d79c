"""The inference worker and its controller, driven through signals on the tiny model."""

from __future__ import annotations

import time

import pytest

from blipdesk.qt.workers.inference import (
    InferenceController,
    ModelChoice,
    ScanJob,
    TryJob,
    next_job_id,
)


@pytest.fixture
def controller(qtbot):
    c = InferenceController()
    yield c
    c.shutdown()


def _scan(photo_dir, model_dir, app_paths, **kw):
    return ScanJob(
        next_job_id(),
        ModelChoice(str(model_dir), batch_size=2, precision="fp32", device="cpu"),
        folders=(str(photo_dir),),
        sentences=("a dog on a beach", "a red car"),
        database=str(app_paths.database),
        use_processes=False,
        **kw,
    )


def test_scan_reports_progress_and_results(qtbot, controller, photo_dir, tiny_model_dir, app_paths):
    got, progress = [], []
    controller.results.connect(got.extend)
    controller.progress.connect(progress.append)
    with qtbot.waitSignal(controller.scanFinished, timeout=60000) as done:
        controller.submit(_scan(photo_dir, tiny_model_dir, app_paths))
    assert done.args == ["done"]
    assert len({r.path for r in got if r.scores}) == 10
    assert progress[-1].done == progress[-1].total == 10
    assert all(set(r.scores) == {"a dog on a beach", "a red car"} for r in got if r.scores)


def test_cancel_and_pause(qtbot, controller, photo_dir, tiny_model_dir, app_paths):
    job = _scan(photo_dir, tiny_model_dir, app_paths)
    job.pause.set()  # paused before the first batch: nothing is scored until resumed
    got = []
    controller.results.connect(got.extend)
    controller.submit(job)
    qtbot.wait(1500)
    assert not [r for r in got if r.scores]
    assert controller.paused()
    with qtbot.waitSignal(controller.scanFinished, timeout=30000) as done:
        controller.cancel()
    assert done.args == ["cancelled"]


def test_superseded_job_results_are_dropped(
    qtbot, controller, photo_dir, tiny_model_dir, app_paths
):
    first = _scan(photo_dir, tiny_model_dir, app_paths)
    first.pause.set()
    outcomes = []
    controller.scanFinished.connect(outcomes.append)
    controller.submit(first)
    qtbot.wait(200)
    second = _scan(photo_dir, tiny_model_dir, app_paths)
    with qtbot.waitSignal(controller.scanFinished, timeout=60000) as done:
        controller.submit(second)
    assert first.cancel.is_set()
    assert done.args == ["done"] and outcomes == ["done"]  # the first job's end never surfaced


def test_try_on_one_photo(qtbot, controller, photo_dir, tiny_model_dir):
    path = str(next(photo_dir.glob("*.jpg")))
    job = TryJob(
        next_job_id(),
        ModelChoice(str(tiny_model_dir), device="cpu", precision="fp32"),
        path=path,
        sentences=("a dog", "a cat"),
    )
    start = time.monotonic()
    with qtbot.waitSignal(controller.tried, timeout=60000) as got:
        controller.submit(job)
    assert set(got.args[0]) == {"a dog", "a cat"}
    assert all(0.0 <= s.itm <= 1.0 for s in got.args[0].values())
    assert time.monotonic() - start < 60
