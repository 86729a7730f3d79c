"""The engine's scores equal the model card's own calls, pair by pair."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from blipdesk.core.imaging import DecodeOptions, decode_photo, resize_for_model
from tests.helpers.models import make_awkward_photos, scene

SENTENCES = [
    "dog",
    "a woman and a dog sitting together on a beach",
    "birthday cake with candles on a red table at a party, with two cats and three people",
    "a photo of the sea at sunset with boats, mountains and snow on the trees " * 4,
]


@pytest.fixture(scope="module")
def reference(tiny_model_dir):
    """The model card: BlipProcessor + BlipForImageTextRetrieval, straight from the folder."""
    from transformers import BlipForImageTextRetrieval, BlipProcessor

    processor = BlipProcessor.from_pretrained(tiny_model_dir)
    model = BlipForImageTextRetrieval.from_pretrained(tiny_model_dir).eval()

    def card(image, sentence):
        inputs = processor(image, sentence, return_tensors="pt")
        with torch.no_grad():
            itm_scores = model(**inputs)[0]
            cosine_score = model(**inputs, use_itm_head=False)[0]
        return (
            itm_scores[0].numpy(),
            float(torch.softmax(itm_scores, dim=1)[0, 1]),
            float(cosine_score[0, 0]),
        )

    return card


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("awkward")
    return make_awkward_photos(folder)


@pytest.mark.slow
@pytest.mark.parametrize("cross_mode", ["auto", "kv", "folded"])
def test_lossless_photos_match_model_card_within_1e5(tiny_loaded, reference, photos, cross_mode):
    """Both forms of cross-attention (image keys/values projected, or folded into the query:
    scorer._cross_attention_folded) give the model card's numbers."""
    from blipdesk.core.scorer import Scorer

    tiny_scorer = Scorer(tiny_loaded, cross_mode=cross_mode)
    names = [n for n in photos if not n.endswith(".jpg")]
    assert {
        "rotated-exif6.png",
        "cmyk.tif",
        "rgba.png",
        "gray.png",
        "gray16.png",
        "one-pixel.png",
    } <= set(names)
    decoded = [decode_photo(photos[n]) for n in names]
    sentences = tiny_scorer.encode_sentences(SENTENCES)
    scores = tiny_scorer.score(np.stack([resize_for_model(im) for im in decoded]), sentences)
    assert scores.itm.shape == (len(names), len(SENTENCES))
    worst_itm = worst_cos = worst_logit = 0.0
    for i, image in enumerate(decoded):
        for j, sentence in enumerate(SENTENCES):
            logits, itm, cosine = reference(image, sentence)
            worst_logit = max(worst_logit, float(np.abs(logits - scores.itm_logits[i, j]).max()))
            worst_itm = max(worst_itm, abs(itm - float(scores.itm[i, j])))
            worst_cos = max(worst_cos, abs(cosine - float(scores.cosine[i, j])))
    assert worst_itm < 1e-5, worst_itm
    assert worst_cos < 1e-5, worst_cos
    assert worst_logit < 1e-4, worst_logit


@pytest.mark.slow
def test_jpeg_draft_decoding_tolerance(tiny_scorer, reference, tmp_path):
    """Draft (DCT-scaled) decoding of a large JPEG vs the model card on the full-resolution decode.

    Stated tolerance: ITM probability and cosine within 2e-3 of the full decode, mean pixel
    difference after the 384x384 squash under 1/255.
    """
    path = tmp_path / "big.jpg"
    scene(3000, 2000, 11).save(path, quality=90)
    full = decode_photo(path, DecodeOptions(draft_size=None))
    draft = decode_photo(path)
    assert draft.size[0] < full.size[0]  # the draft really decoded at a reduced scale
    assert min(draft.size) >= 384
    pix_full, pix_draft = resize_for_model(full), resize_for_model(draft)
    assert np.abs(pix_full.astype(float) - pix_draft.astype(float)).mean() < 1.0
    sentences = tiny_scorer.encode_sentences(SENTENCES)
    scores = tiny_scorer.score(pix_draft[None], sentences)
    for j, sentence in enumerate(SENTENCES):
        _, itm, cosine = reference(full, sentence)
        assert abs(itm - float(scores.itm[0, j])) < 2e-3
        assert abs(cosine - float(scores.cosine[0, j])) < 2e-3


def test_padding_does_not_change_scores(tiny_scorer):
    """Scoring a sentence alone or padded in a batch gives the same numbers (the mask is passed)."""
    image = resize_for_model(scene(300, 300, 3))[None]
    together = tiny_scorer.score(image, tiny_scorer.encode_sentences(SENTENCES))
    for j, sentence in enumerate(SENTENCES):
        alone = tiny_scorer.score(image, tiny_scorer.encode_sentences([sentence]))
        assert abs(float(alone.itm[0, 0]) - float(together.itm[0, j])) < 1e-5
        assert abs(float(alone.cosine[0, 0]) - float(together.cosine[0, j])) < 1e-5


def test_photo_batching_and_sentence_chunking_do_not_change_scores(tiny_loaded):
    """Many photos per call, sentences split into chunks: the same scores as one by one."""
    from blipdesk.core.scorer import Scorer

    images = np.stack([resize_for_model(scene(200 + 10 * i, 150, i)) for i in range(5)])
    big = Scorer(tiny_loaded)
    small = Scorer(tiny_loaded, token_budget=8)  # forces one sentence per call
    sentences = big.encode_sentences(SENTENCES)
    batched = big.score(images, sentences)
    for i in range(len(images)):
        one = small.score(images[i : i + 1], sentences)
        np.testing.assert_allclose(one.itm, batched.itm[i : i + 1], atol=1e-5)
        np.testing.assert_allclose(one.cosine, batched.cosine[i : i + 1], atol=1e-5)


def test_stock_forward_broadcasts_one_image_over_many_texts(tiny_model_dir):
    """Regression guard for the research note: the stock forward with 1 image and T texts equals
    the image repeated T times. If a transformers release breaks this, we want to know."""
    from transformers import BlipForImageTextRetrieval, BlipProcessor

    processor = BlipProcessor.from_pretrained(tiny_model_dir)
    model = BlipForImageTextRetrieval.from_pretrained(tiny_model_dir).eval()
    text = processor(text=SENTENCES[:3], padding=True, return_tensors="pt")
    pix = processor(images=scene(100, 100, 1), return_tensors="pt").pixel_values
    with torch.no_grad():
        one = model(input_ids=text.input_ids, attention_mask=text.attention_mask, pixel_values=pix)[
            0
        ]
        rep = model(
            input_ids=text.input_ids,
            attention_mask=text.attention_mask,
            pixel_values=pix.expand(3, -1, -1, -1),
        )[0]
    torch.testing.assert_close(one, rep, atol=1e-5, rtol=0)


def test_enc_first_token_changes_itm_but_not_cosine(tiny_loaded):
    from blipdesk.core.scorer import Scorer

    images = resize_for_model(scene(200, 200, 4))[None]
    cls = Scorer(tiny_loaded, first_token="cls")
    enc = Scorer(tiny_loaded, first_token="enc")
    s_cls = cls.score(images, cls.encode_sentences(SENTENCES))
    s_enc = enc.score(images, enc.encode_sentences(SENTENCES))
    assert np.abs(s_cls.itm - s_enc.itm).max() > 1e-4
    np.testing.assert_allclose(s_cls.cosine, s_enc.cosine, atol=1e-6)
    assert cls.score_key != enc.score_key


def test_enc_matches_original_blip_recipe(tiny_loaded, tiny_model_dir):
    """[ENC]: the stock model with input_ids[:, 0] = 30523, as the original BLIP retrieval code does."""
    from transformers import BlipForImageTextRetrieval, BlipProcessor

    from blipdesk.core.scorer import Scorer

    processor = BlipProcessor.from_pretrained(tiny_model_dir)
    model = BlipForImageTextRetrieval.from_pretrained(tiny_model_dir).eval()
    image = scene(200, 200, 6)
    enc = Scorer(tiny_loaded, first_token="enc")
    scores = enc.score(resize_for_model(image)[None], enc.encode_sentences(SENTENCES[:2]))
    for j, sentence in enumerate(SENTENCES[:2]):
        inputs = processor(image, sentence, return_tensors="pt")
        inputs["input_ids"][:, 0] = 30523
        with torch.no_grad():
            prob = torch.softmax(model(**inputs)[0], dim=1)[0, 1].item()
        assert abs(prob - float(scores.itm[0, j])) < 1e-5


def test_overlong_sentence_is_truncated_and_reported(tiny_scorer):
    long = "dog " * 2000
    sentences = tiny_scorer.encode_sentences(["dog", long])
    assert sentences.truncated == (False, True)
    assert sentences.input_ids.shape[1] == 512
    scores = tiny_scorer.score(resize_for_model(scene(64, 64, 1))[None], sentences)
    assert np.isfinite(scores.itm).all()


def test_selected_sentences_score_like_the_full_set(tiny_scorer):
    image = resize_for_model(scene(120, 90, 2))[None]
    full = tiny_scorer.encode_sentences(SENTENCES)
    picked = full.select([3, 1])
    assert picked.texts == (SENTENCES[3], SENTENCES[1])
    a, b = tiny_scorer.score(image, full), tiny_scorer.score(image, picked)
    np.testing.assert_allclose(b.itm[0], a.itm[0, [3, 1]], atol=1e-6)
    np.testing.assert_allclose(b.cosine[0], a.cosine[0, [3, 1]], atol=1e-6)


def test_warm_up_leaves_scores_unchanged(tiny_scorer):
    image = resize_for_model(scene(64, 64, 5))[None]
    sentences = tiny_scorer.encode_sentences(SENTENCES[:2])
    before = tiny_scorer.score(image, sentences)
    tiny_scorer.warm_up()
    after = tiny_scorer.score(image, sentences)
    np.testing.assert_array_equal(before.itm, after.itm)
