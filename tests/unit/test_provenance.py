"""What computed a score and what a score belongs to (issue 24): "Try" keeps scores only for the
bytes it decoded, ..."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pytest

from blipdesk.core import decoding, imaging
from blipdesk.core.engine import ModelKey
from blipdesk.core.scorer import Scores
from blipdesk.infra.errors import PhotoError
from blipdesk.qt.workers.inference import InferenceWorker, ModelChoice, TryJob
from tests.helpers.models import scene

KEY = ModelKey("score-key", "image-key", "/models/blip")


@dataclass
class _Scorer:
    """Scores any photo 0.5 against every sentence; says which pixels it was given."""

    score_key: str = KEY.score_key
    seen: list[np.ndarray] = field(default_factory=list)

    def encode_sentences(self, sentences):
        return list(sentences)

    def score(self, pixels, encoded):
        self.seen.append(pixels)
        n = len(encoded)
        return Scores(np.zeros((1, n, 2), np.float32), np.full((1, n), 0.5, np.float32),
                      np.zeros((1, n), np.float32))  # fmt: skip


def _worker(library, scorer) -> InferenceWorker:
    worker = InferenceWorker()
    worker.model_key = lambda job: KEY
    worker.library = lambda database: library
    worker.scorer = lambda job: scorer
    return worker


def _all_scored(library) -> set[str]:
    return {c for (c,) in library.conn.execute("SELECT c.hash FROM scores s JOIN contents c "
                                                 "ON c.id = s.content_id")}  # fmt: skip


@pytest.mark.parametrize("change", ["rewritten", "touched", "removed"])
def test_try_keeps_no_scores_for_a_file_changed_while_it_was_decoded(
    library, tmp_path, monkeypatch, change
):
    """A file changed between "Try" finding its content and decoding it: what was decoded may be
    the new bytes, so nothing is kept under either content (the scan's stamp check)."""
    photo = tmp_path / "p.jpg"
    scene(80, 60, 1).save(photo)
    real = imaging.load_for_model

    def decode_then_change(path):
        image = real(path)
        if change == "rewritten":
            scene(120, 90, 7).save(photo)
        elif change == "touched":
            st = os.stat(photo)
            os.utime(photo, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
        else:
            os.remove(photo)
        return image

    monkeypatch.setattr(imaging, "load_for_model", decode_then_change)
    monkeypatch.setattr(decoding, "load_for_model", decode_then_change)
    worker = _worker(library, _Scorer())
    job = TryJob(1, ModelChoice(KEY.source), path=str(photo), sentences=("a dog",), database="db")
    with pytest.raises(PhotoError, match=r"changed|moved or deleted"):
        worker._try(job)
    assert _all_scored(library) == set()


def test_try_keeps_its_scores_for_an_unchanged_file(library, tmp_path):
    photo = tmp_path / "p.jpg"
    scene(80, 60, 1).save(photo)
    worker = _worker(library, scorer := _Scorer())
    job = TryJob(1, ModelChoice(KEY.source), path=str(photo), sentences=("a dog",), database="db")
    worker._try(job)
    [record] = library.all_photos()
    assert _all_scored(library) == {record.content} and len(scorer.seen) == 1
