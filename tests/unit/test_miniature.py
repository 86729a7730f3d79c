"""The shipped miniature BLIP (tests/data/miniature-blip/) has learned drawn shapes, and blipdesk's
own loader, scorer and scan use it as they would the real model.

Held-out photos (seeds never used in training); deterministic; a few seconds on a CPU."""

from __future__ import annotations

import numpy as np
import pytest

from blipdesk.core.model import ENC_TOKEN_ID, ModelSpec
from tests.helpers import miniature as mini


@pytest.fixture(scope="module")
def loaded():
    from blipdesk.core.device import resolve_placement
    from blipdesk.core.model import load_model

    return load_model(ModelSpec(str(mini.SHIPPED)), resolve_placement("cpu", "fp32"))


@pytest.fixture(scope="module")
def pairs():
    return mini.held_out_pairs(40, seed=4242)


@pytest.fixture(scope="module")
def figures_cls(loaded, pairs):
    from blipdesk.core.scorer import Scorer

    return mini.evaluate(Scorer(loaded, "cls"), pairs)


def test_shipped_folder_is_a_small_safetensors_model_with_enc(loaded):
    names = {p.name for p in mini.SHIPPED.iterdir()}
    assert {"model.safetensors", "config.json", "figures.json", "README.md"} <= names
    assert (mini.SHIPPED / "model.safetensors").stat().st_size < 8 << 20
    assert loaded.image.size == mini.IMAGE_SIZE == loaded.model.config.vision_config.image_size
    assert loaded.model.config.text_config.vocab_size > ENC_TOKEN_ID
    tokens = loaded.tokenizer.tokenize("two yellow stars next to a red circle")
    assert "[UNK]" not in tokens and len(tokens) == 8


def test_itm_separates_true_from_false_captions(figures_cls, pairs):
    assert len(pairs.rows) >= 100
    assert figures_cls["auc"] >= 0.9, figures_cls
    assert figures_cls["f1@0.5"] >= 0.6, figures_cls  # under-confident: recall ~0.65 at 0.5


def test_one_word_edits_score_below_the_true_caption(figures_cls):
    hard = figures_cls["hard_negative_accuracy"]
    assert hard["all"][0] >= 0.8, hard
    assert hard["colour"][0] >= 0.85, hard  # the right colour outranks the swapped colour


def test_enc_first_token_also_works(loaded, pairs):
    from blipdesk.core.scorer import Scorer

    figures = mini.evaluate(Scorer(loaded, "enc"), pairs)
    assert figures["auc"] >= 0.9, figures


def test_product_scan_of_drawn_pngs(loaded, tmp_path):
    """engine.scan decodes the PNGs at 384 px and the scorer fits them to the model's 128 px."""
    from blipdesk.core.engine import ScanOptions, model_key, scan
    from blipdesk.core.scorer import Scorer
    from blipdesk.domain import Tag
    from blipdesk.store import Library

    folder = tmp_path / "photos"
    folder.mkdir()
    items = mini.photos(12, seed=99)
    sentences = sorted({f"a {it.colour} {it.shape}" for p in items for it in p.items})
    for i, photo in enumerate(items):
        mini.render(photo).save(folder / f"p{i:02d}.png")
    key = model_key(ModelSpec(str(mini.SHIPPED)))
    options = ScanOptions(batch_size=4, use_processes=False, decode_workers=1)
    tags = [Tag(s, (s,)) for s in sentences]
    with Library.open(tmp_path / "data" / "library.sqlite3") as library:
        summary = scan(library, [folder], sentences, key, lambda: Scorer(loaded), options)
        results = library.photo_results(key.score_key, [str(folder)], True, tags)
    assert summary.scored == 12 and not summary.failures and len(results) == 12
    hits, misses = [], []
    for r in results:
        photo = items[int(r.path[-6:-4])]
        kinds = {f"a {it.colour} {it.shape}" for it in photo.items}
        for s in sentences:
            (hits if s in kinds else misses).append(r.tags[s].score)
    assert np.mean(hits) > np.mean(misses) + 0.25, (np.mean(hits), np.mean(misses))
    assert mini.roc_auc(hits + misses, [True] * len(hits) + [False] * len(misses)) >= 0.85


def test_patch_labels_name_the_item_covering_each_patch():
    """The image encoder's pretraining targets: a patch well inside an item's box carries its
    colour and shape, a patch far from every item is background, and the mask is the image's."""
    photo = mini.Photo(128, 128, (mini.Item("star", "blue", (10, 10, 70, 70)),), seed=3)
    image, mask = mini.render_with_mask(photo)
    assert np.array_equal(np.asarray(image), np.asarray(mini.render(photo)))
    colour, shape = mini.patch_labels([photo], [mask], size=128, patch=16)
    grid = colour.reshape(8, 8)
    assert grid[2, 2] == 1 + list(mini.COLOURS).index("blue")  # the star's centre (40, 40)
    assert shape.reshape(8, 8)[2, 2] == 1 + mini.SHAPES.index("star")
    assert grid[7, 7] == 0 and shape.reshape(8, 8)[6, 6] == 0  # far from the star
    assert set(np.unique(colour)) <= {-1, 0, 3}  # 3: blue, the only item; -1: edges, ignored
