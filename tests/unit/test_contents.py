"""One answer to "which content is this path?": the scan's rule (``inventory.resolve_contents``),
and every place that names photos by path (ratings, teach jobs, the CLI's teach commands, "Try",
explain, calibration's every photo) agreeing with it on the awkward cases: a moved file, a
changed one, one never scanned, a RAW + JPEG pair, a photo reached through a link, an unreadable
one."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

import numpy as np
import pytest

from blipdesk.cli.commands.teach import _photo_content
from blipdesk.core import calibration
from blipdesk.core.engine import ModelKey
from blipdesk.core.explain import photo_vision
from blipdesk.core.inventory import hashed_record, refresh_photos, resolve_contents
from blipdesk.domain import PhotoRecord, ScoreRow, Tag
from blipdesk.infra.errors import PhotoError, UserError
from blipdesk.qt.workers.inference import InferenceWorker, ModelChoice, TryJob
from blipdesk.services import ratings, teach_jobs
from tests.helpers.dng import write_dng
from tests.helpers.models import scene

KEY = ModelKey("score-key", "image-key", "/models/blip")


@pytest.fixture
def awkward(library, tmp_path):
    """A scanned folder, then changed behind the cache's back: path -> what a scan finds now."""
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    scene(80, 60, 1).save(folder / "moved.jpg")
    scene(80, 60, 2).save(folder / "changed.jpg")
    scene(80, 60, 3).save(folder / "IMG_0001.JPG")
    write_dng(folder / "IMG_0001.DNG", 120, 80, preview_size=(60, 40))
    refresh_photos(library, [folder])  # what the scan knows
    os.rename(folder / "moved.jpg", folder / "sub" / "moved.jpg")
    scene(120, 90, 9).save(folder / "changed.jpg")  # other bytes, other size
    scene(80, 60, 4).save(folder / "unscanned.jpg")
    os.symlink(folder / "IMG_0001.JPG", folder / "link.jpg")
    paths = {
        "moved": str(folder / "sub" / "moved.jpg"),
        "changed": str(folder / "changed.jpg"),
        "unscanned": str(folder / "unscanned.jpg"),
        "pair jpeg": str(folder / "IMG_0001.JPG"),
        "pair raw": str(folder / "IMG_0001.DNG"),
        "through a link": str(folder / "link.jpg"),
    }
    return folder, paths


def _truth(path: str) -> str:
    """What a fresh scan records for ``path``."""
    content = hashed_record(path, os.stat(path)).content
    assert content is not None
    return content


class _Store:
    """A vision cache that holds every content: which one explain asks for is the question."""

    def __init__(self, library) -> None:
        self.library, self.asked = library, []

    def load_many(self, contents):
        contents = list(contents)
        self.asked += contents
        return {c: np.zeros((2, 2), np.float32) for c in contents}


@dataclass
class _Scorer:
    score_key: str = KEY.score_key
    precision: str = "fp32"

    def pixels(self, images):
        raise AssertionError("a file with no content was decoded")

    encode_images = pixels


def _kept_by_try(library, path: str) -> str | None:
    """The content "Try" keeps its scores under (what the worker records for the path)."""
    worker = InferenceWorker()
    worker.model_key = lambda job: KEY
    worker.library = lambda database: library
    job = TryJob(1, ModelChoice(KEY.source), path=path, database="db")
    content, _stamp = worker._tried_content(job)
    if content is not None:
        worker._keep_tried(job, _Scorer(), content, {})
    st = os.stat(path)
    return library.contents_of([(path, st.st_size, st.st_mtime_ns)]).get(path)


def test_the_six_callers_agree_with_the_scan_on_awkward_files(library, awkward, monkeypatch):
    folder, paths = awkward
    old = {r.path: r.content for r in library.photos_under([folder])}
    for what, path in paths.items():
        truth = _truth(path)
        store = _Store(library)
        assert photo_vision(_Scorer(), path, store)[1] and store.asked == [truth], what
        found = {
            "resolver": resolve_contents(library, [path]).found[path],
            "ratings": ratings._contents(library, [path])[path],
            "teach jobs": teach_jobs._contents(library, [path])[path],
            "cli teach": _photo_content(path)[1],
            "try": _kept_by_try(library, path),
        }
        assert found == dict.fromkeys(found, truth), what
    assert _truth(paths["moved"]) == old[str(folder / "moved.jpg")]  # a move keeps its content
    assert _truth(paths["changed"]) != old[paths["changed"]]  # an edit never keeps the old one
    assert _truth(paths["pair raw"]) != _truth(paths["pair jpeg"])  # a RAW is its own content
    # The path a photo is known by is the scan's (links are not resolved), whoever names it.
    [linked] = [r for r in refresh_photos(library, [folder]) if r.path.endswith("link.jpg")]
    assert _photo_content(paths["through a link"])[0] == linked.path


def test_a_file_that_cannot_be_read_has_no_content_for_anyone(library, tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    gone = str(tmp_path / "gone.jpg")
    got = resolve_contents(library, [str(fifo), gone])
    assert got.found == {} and set(got.failed) == {str(fifo), gone}
    assert "not a regular file" in got.failed[str(fifo)]
    assert ratings._contents(library, [str(fifo), gone]) == {}
    for path in (str(fifo), gone):
        with pytest.raises(UserError, match=r"cannot (be )?read|not a regular file"):
            teach_jobs._contents(library, [path])
    with pytest.raises(UserError):
        _photo_content(str(fifo))
    # Explain says why as a photo problem (it was an OSError escaping as a crash).
    with pytest.raises(PhotoError):
        photo_vision(_Scorer(), str(fifo), _Store(library))
    assert _kept_by_try(library, str(fifo)) is None and library.all_photos() == []


def test_a_file_hashed_for_try_is_recorded_and_read_from_the_cache_after(library, tmp_path):
    photo = tmp_path / "p.jpg"
    scene(80, 60, 5).save(photo)
    got = resolve_contents(library, [str(photo)], record=True)
    [record] = library.all_photos()
    assert record.path == str(photo) and record.content == got.found[str(photo)]
    shutil.copy(photo, tmp_path / "q.jpg")
    assert resolve_contents(library, [str(tmp_path / "q.jpg")]).found == {
        str(tmp_path / "q.jpg"): record.content
    }


def test_every_photo_is_every_photo_the_cache_knows_on_every_drive(library):
    """Calibration's "every photo" was everything under ``abspath(os.sep)``: on Windows, the
    drive blipdesk runs from. A path on another drive (here one that is not under ``/``) counts."""
    tag = Tag("cat", ("a cat",))
    library.put_tag(tag)
    library.ensure_model(KEY.score_key, KEY.source)
    records = [PhotoRecord("/p/a.jpg", 1, 1, "c-root"), PhotoRecord("D:\\p\\b.jpg", 1, 1, "c-d")]
    library.record_photos(records)
    rows = [ScoreRow(c, "a cat", 0.5, 0.0, 0.0, 0.1) for c in ("c-root", "c-d")]
    library.write_batch(KEY.score_key, rows, {}, {})
    assert [r.path for r in library.all_photos()] == sorted(r.path for r in records)
    assert set(calibration.tag_data(library, KEY.score_key, tag).contents) == {"c-root", "c-d"}
