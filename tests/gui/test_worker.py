"""The inference worker and its controller, driven through signals on the tiny model."""

from __future__ import annotations

import pytest

from blipdesk.core.engine import ScanOptions
from blipdesk.qt.workers.inference import (
    InferenceController,
    ModelChoice,
    ScanJob,
    SearchJob,
    TryJob,
    next_job_id,
)
from tests.gui.waiting import PauseProbe


@pytest.fixture
def controller(qtbot):
    c = InferenceController()
    yield c
    c.shutdown()


def _scan(photo_dir, model_dir, app_paths, pause=None, **kw):
    return ScanJob(
        next_job_id(),
        ModelChoice(str(model_dir), precision="fp32", device="cpu"),
        **({} if pause is None else {"pause": pause}),
        folders=(str(photo_dir),),
        sentences=("a dog on a beach", "a red car"),
        database=str(app_paths.database),
        options=ScanOptions(batch_size=2, use_processes=False, **kw),
    )


def test_scan_reports_progress_and_results(qtbot, controller, photo_dir, tiny_model_dir, app_paths):
    got, progress = [], []
    controller.results.connect(got.extend)
    controller.progress.connect(progress.append)
    with qtbot.waitSignal(controller.scanFinished, timeout=60000) as done:
        controller.submit(_scan(photo_dir, tiny_model_dir, app_paths))
    outcome, summary = done.args  # the summary travels with the signal (no shared attribute)
    assert outcome == "done" and (summary.photos, summary.scored) == (10, 10)
    assert len({r.path for r in got if r.scores}) == 10
    assert progress[-1].done == progress[-1].total == 10
    assert all(set(r.scores) == {"a dog on a beach", "a red car"} for r in got if r.scores)


def test_cancel_and_pause(qtbot, controller, photo_dir, tiny_model_dir, app_paths):
    job = _scan(photo_dir, tiny_model_dir, app_paths, pause=PauseProbe())
    job.pause.set()  # paused before the first batch: nothing is scored until resumed
    got = []
    controller.results.connect(got.extend)
    controller.submit(job)
    # The job started (model loaded, photos listed) and the worker is holding it: only then
    # does "nothing was scored" say anything.
    qtbot.waitUntil(lambda: job.pause.held >= 2, timeout=60000)
    assert not [r for r in got if r.scores]
    assert controller.paused()
    with qtbot.waitSignal(controller.scanFinished, timeout=30000) as done:
        controller.cancel()
    assert done.args[0] == "cancelled"


def test_superseded_job_results_are_dropped(
    qtbot, controller, photo_dir, tiny_model_dir, app_paths
):
    first = _scan(photo_dir, tiny_model_dir, app_paths, pause=PauseProbe())
    first.pause.set()
    outcomes = []
    controller.scanFinished.connect(lambda outcome, _summary: outcomes.append(outcome))
    controller.submit(first)
    qtbot.waitUntil(lambda: first.pause.held >= 1, timeout=60000)  # running, held: superseded
    second = _scan(photo_dir, tiny_model_dir, app_paths)
    with qtbot.waitSignal(controller.scanFinished, timeout=60000) as done:
        controller.submit(second)
    assert first.cancel.is_set()
    assert done.args[0] == "done" and outcomes == ["done"]  # the first job's end never surfaced


def test_try_on_one_photo(qtbot, controller, photo_dir, tiny_model_dir):
    path = str(next(photo_dir.glob("*.jpg")))
    job = TryJob(
        next_job_id(),
        ModelChoice(str(tiny_model_dir), device="cpu", precision="fp32"),
        path=path,
        sentences=("a dog", "a cat"),
    )
    with qtbot.waitSignal(controller.tried, timeout=60000) as got:
        controller.submit(job)
    assert set(got.args[0]) == {"a dog", "a cat"}
    assert all(0.0 <= s.itm <= 1.0 for s in got.args[0].values())


def _search(folder, model_dir, app_paths, query: str, rerank: int = 40) -> SearchJob:
    return SearchJob(
        next_job_id(),
        ModelChoice(str(model_dir), precision="fp32", device="cpu"),
        query=query,
        folders=(str(folder),),
        database=str(app_paths.database),
        options=ScanOptions(batch_size=2, features_dir=app_paths.features_dir),
        rerank=rerank,
    )


def test_search_runs_between_a_scans_batches(
    qtbot, controller, tmp_path, tiny_model_dir, app_paths
):
    """A search during a scan: its ranking arrives at once, its refinement advances one step per
    scan batch, and the scan keeps advancing meanwhile; a newer query cancels the older."""
    from tests.helpers.models import scene

    folder = tmp_path / "lib"
    (folder / "later").mkdir(parents=True)
    for i in range(40):
        scene(64, 48, i).save(folder / f"s{i:02}.png")
    job = _scan(folder, tiny_model_dir, app_paths, features_dir=app_paths.features_dir)
    with qtbot.waitSignal(controller.scanFinished, timeout=60000):
        controller.submit(job)  # 40 photos scanned, their vision outputs cached
    for i in range(24):
        scene(64, 48, 100 + i).save(folder / "later" / f"n{i:02}.png")  # not scanned yet

    events = []
    controller.progress.connect(lambda p: events.append(("scan", p.done)))
    controller.searched.connect(lambda r: events.append(("search", r)))
    scan = _scan(folder, tiny_model_dir, app_paths, features_dir=app_paths.features_dir)
    controller.submit(scan)
    qtbot.waitUntil(lambda: any(e[0] == "scan" for e in events), timeout=60000)
    stale = controller.submit(_search(folder, tiny_model_dir, app_paths, "a bowl of soup"))
    controller.submit(_search(folder, tiny_model_dir, app_paths, "three cats on a sofa"))
    assert stale.cancel.is_set()
    with qtbot.waitSignal(controller.scanFinished, timeout=60000) as done:
        pass
    assert done.args[0] == "done"
    qtbot.waitUntil(lambda: any(e[0] == "search" and e[1].done for e in events), timeout=60000)
    searched = [(i, e[1]) for i, e in enumerate(events) if e[0] == "search"]
    assert {r.query for _, r in searched} == {"three cats on a sofa"}  # the stale one: never
    first, last = searched[0][1], searched[-1][1]
    assert first.refined == 0 and first.unscanned > 0 and last.done and last.refined == 40
    # The scan advanced while the search was refining: progress between its first and last step.
    between = [e for e in events[searched[0][0] : searched[-1][0]] if e[0] == "scan"]
    assert len(between) >= 2 and len(searched) >= 3


def test_whether_a_job_is_current_is_judged_on_the_gui_thread(
    qtbot, controller, photo_dir, tiny_model_dir, app_paths, monkeypatch
):
    """The worker's payloads are checked against the current job when the GUI takes them, not
    when the worker sends them: judged on the worker's thread, a job replaced in between still
    got its messages through (two "Model not available" warnings after a quick re-scan)."""
    import threading

    judged: list[bool] = []
    check = controller._if_current

    def spy(job_id, kind):
        judged.append(threading.current_thread() is threading.main_thread())
        return check(job_id, kind)

    monkeypatch.setattr(controller, "_if_current", spy)
    with qtbot.waitSignal(controller.scanFinished, timeout=60000):
        controller.submit(_scan(photo_dir, tiny_model_dir, app_paths))
    assert judged and all(judged)
