"""The tiny random model is a fair stand-in: it loads like a real folder and is not blind."""

from __future__ import annotations

import numpy as np

from blipdesk.core.imaging import resize_for_model
from tests.helpers.models import scene


def test_fixture_is_saved_as_a_real_model_folder(tiny_model_dir):
    names = {p.name for p in tiny_model_dir.iterdir()}
    assert "model.safetensors" in names and "config.json" in names
    assert not any(n.endswith(".bin") for n in names)


def test_different_photos_score_differently(tiny_scorer):
    """Guards against BlipVisionConfig's 1e-10 initializer_range, which makes the tower blind."""
    images = np.stack([resize_for_model(scene(300, 200, seed)) for seed in range(4)])
    sentences = tiny_scorer.encode_sentences(["a dog on a beach", "birthday cake"])
    scores = tiny_scorer.score(images, sentences)
    for j in range(2):
        column = scores.itm[:, j]
        assert np.ptp(column) > 1e-3, column
        assert len(set(np.round(column, 6))) == 4
    assert np.ptp(scores.cosine[:, 0]) > 1e-3


def test_different_sentences_score_differently(tiny_scorer):
    image = resize_for_model(scene(300, 200, 1))[None]
    scores = tiny_scorer.score(
        image, tiny_scorer.encode_sentences(["a dog", "three cats on a red car"])
    )
    assert abs(float(scores.itm[0, 0] - scores.itm[0, 1])) > 1e-4
