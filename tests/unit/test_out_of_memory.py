"""CUDA out of memory: the engine halves the photos per model call and retries, and when even one
photo does not fit it moves the model to the CPU and goes on, with a notice (issue 6).

No GPU here: a scorer that pretends to be on CUDA and raises ``torch.cuda.OutOfMemoryError`` for
more than ``fits`` photos per call stands in for a full card."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from blipdesk.core.engine import ScanOptions, model_key, scan
from blipdesk.core.model import ModelSpec
from blipdesk.store import Library
from tests.helpers.models import scene

SENTENCES = ("a dog on a beach", "birthday cake")


class FullGpu:
    """The tiny scorer, claiming to be on cuda:0, whose vision pass fails above ``fits`` photos."""

    def __init__(self, scorer, fits: int) -> None:
        self._scorer, self.fits, self.calls = scorer, fits, []
        self.device = torch.device("cuda", 0)

    def __getattr__(self, name):
        return getattr(self._scorer, name)

    def encode_images(self, pixel_values):
        self.calls.append(len(pixel_values))
        if len(pixel_values) > self.fits:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self._scorer.encode_images(pixel_values)


@pytest.fixture
def folder(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(11):
        scene(40, 30, i).save(folder / f"p{i:02}.png")
    return folder


def _scan(tmp_path, folder, scorer, name):
    key = model_key(ModelSpec(str(scorer.loaded.folder)))
    with Library.open(tmp_path / name / "library.sqlite3") as lib:
        summary = scan(lib, [folder], SENTENCES, key, lambda: scorer,
                       ScanOptions(batch_size=8, use_processes=False))  # fmt: skip
        results = lib.photo_results(key.score_key, [folder], tags=[])
        scores = lib.sentence_scores(key.score_key, [p.content for p in lib.photos_under([folder])])
    return summary, results, scores


def test_out_of_memory_halves_the_batch_and_keeps_every_score(tmp_path, folder, tiny_scorer):
    full = FullGpu(tiny_scorer, fits=3)
    summary, results, scores = _scan(tmp_path, folder, full, "oom")
    assert summary.scored == 11 and not summary.failures and summary.notices == ()
    assert all(r.error is None for r in results)
    # 8 fails, 4 fails, then 2 per call for the rest of the scan (no retry of 8 on the next batch).
    assert full.calls[:2] == [8, 4] and max(full.calls[2:]) == 2
    _, _, reference = _scan(tmp_path, folder, tiny_scorer, "reference")
    for content, by_sentence in reference.items():
        for sentence, expected in by_sentence.items():
            got = scores[content][sentence]
            assert np.isclose(got.itm, expected.itm, atol=1e-5), (content, sentence)


def test_when_not_even_one_photo_fits_the_scan_moves_to_the_cpu(tmp_path, folder, tiny_scorer):
    full = FullGpu(tiny_scorer, fits=0)
    summary, results, scores = _scan(tmp_path, folder, full, "cpu")
    assert summary.scored == 11 and not summary.failures
    assert len(summary.notices) == 1 and "runs on the CPU" in summary.notices[0]
    assert full.calls == [8, 4, 2, 1]  # then never again: the CPU scorer took over
    assert all(r.error is None for r in results)
    assert all(len(v) == len(SENTENCES) for v in scores.values()) and len(scores) == 11


def test_other_errors_are_not_mistaken_for_out_of_memory(tmp_path, folder, tiny_scorer):
    class Broken(FullGpu):
        def encode_images(self, pixel_values):
            raise RuntimeError("CUBLAS_STATUS_EXECUTION_FAILED")

    with pytest.raises(RuntimeError, match="CUBLAS"):
        _scan(tmp_path, folder, Broken(tiny_scorer, 8), "broken")


class FullCpu(FullGpu):
    """On the CPU, running out of memory is a MemoryError or the allocator's RuntimeError."""

    def __init__(self, scorer, fits: int, error: BaseException) -> None:
        super().__init__(scorer, fits)
        self.device, self.error = torch.device("cpu"), error

    def encode_images(self, pixel_values):
        self.calls.append(len(pixel_values))
        if len(pixel_values) > self.fits:
            raise self.error
        return self._scorer.encode_images(pixel_values)


@pytest.mark.parametrize(
    "error",
    [
        MemoryError(),
        RuntimeError("[enforce fail at alloc_cpu.cpp:121] DefaultCPUAllocator: can't allocate "
                     "memory: you tried to allocate 5435817984 bytes."),
    ],
)  # fmt: skip
def test_on_the_cpu_out_of_memory_halves_too(tmp_path, folder, tiny_scorer, error):
    full = FullCpu(tiny_scorer, 3, error)
    summary, results, _ = _scan(tmp_path, folder, full, "cpu-oom")
    assert summary.scored == 11 and not summary.failures
    assert full.calls[:2] == [8, 4] and max(full.calls[2:]) == 2
    assert all(r.error is None for r in results)


def test_on_the_cpu_not_even_one_photo_is_a_user_error(tmp_path, folder, tiny_scorer):
    from blipdesk.infra.errors import UserError

    with pytest.raises(UserError, match="Not enough memory"):
        _scan(tmp_path, folder, FullCpu(tiny_scorer, 0, MemoryError()), "none")


def test_nan_scores_are_never_written(tmp_path, folder, tiny_scorer):
    from blipdesk.infra.errors import ModelError

    class Broken(FullGpu):
        def encode_images(self, pixel_values):
            features = self._scorer.encode_images(pixel_values)
            return type(features)(features.embeds, torch.full_like(features.itc, float("nan")))

    with pytest.raises(ModelError, match="broken: it produced NaN scores"):
        _scan(tmp_path, folder, Broken(tiny_scorer, 99), "nan")
    with Library.open(tmp_path / "nan" / "library.sqlite3") as lib:
        assert lib.conn.execute("SELECT COUNT(*) FROM scores").fetchone()[0] == 0
        assert lib.conn.execute("SELECT COUNT(*) FROM image_features").fetchone()[0] == 0
