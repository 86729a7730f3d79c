"""Reduced precision agrees with fp32 on the fixture, within stated tolerances.

bf16 keeps 8 bits of mantissa (about 2-3 significant digits), fp16 keeps 11. Stated tolerances on
the tiny fixture model: ITM probability within 0.02 (bf16) and 0.005 (fp16) of fp32, cosine within
0.02 and 0.005 (measured: 3.4e-3 / 9.3e-3 for bf16, 6.4e-4 / 5.8e-4 for fp16). The real model is validated the same way on the GPU by benchmarks/gpu_check.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from blipdesk.core.device import resolve_placement
from blipdesk.core.imaging import resize_for_model
from blipdesk.core.model import ModelSpec, load_model
from blipdesk.core.scorer import Scorer
from tests.helpers.models import scene

SENTENCES = ["a dog", "a woman and a dog sitting on a beach", "birthday cake with candles", "snow"]
TOLERANCE = {"bf16": 0.02, "fp16": 0.005}


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_reduced_precision_agrees_with_fp32(tiny_model_dir, tiny_scorer, precision):
    images = np.stack([resize_for_model(scene(256, 192, seed)) for seed in range(4)])
    reference = tiny_scorer.score(images, tiny_scorer.encode_sentences(SENTENCES))
    loaded = load_model(ModelSpec(str(tiny_model_dir)), resolve_placement("cpu", precision))
    scorer = Scorer(loaded)
    scores = scorer.score(images, scorer.encode_sentences(SENTENCES))
    assert scores.itm.dtype == np.float32  # logits are upcast before the softmax
    tol = TOLERANCE[precision]
    assert np.abs(scores.itm - reference.itm).max() < tol
    assert np.abs(scores.cosine - reference.cosine).max() < tol
    # Ranking is what tagging and search rely on: pairs whose fp32 scores differ by more than
    # twice the tolerance keep their order.
    a, b = reference.itm.ravel(), scores.itm.ravel()
    for i in range(a.size):
        for j in range(a.size):
            if a[i] - a[j] > 2 * tol:
                assert b[i] > b[j]


def test_measured_differences_are_reported(tiny_model_dir, tiny_scorer, capsys):
    """Not a tolerance: prints the measured gaps so the closing note can quote them (-s)."""
    images = np.stack([resize_for_model(scene(256, 192, seed)) for seed in range(4)])
    reference = tiny_scorer.score(images, tiny_scorer.encode_sentences(SENTENCES))
    for precision in ("bf16", "fp16"):
        scorer = Scorer(
            load_model(ModelSpec(str(tiny_model_dir)), resolve_placement("cpu", precision))
        )
        scores = scorer.score(images, scorer.encode_sentences(SENTENCES))
        itm = float(np.abs(scores.itm - reference.itm).max())
        cos = float(np.abs(scores.cosine - reference.cosine).max())
        print(f"{precision}: max |d itm| {itm:.2e}, max |d cosine| {cos:.2e}")
        assert itm < TOLERANCE[precision]
