"""Grad-CAM "why this tag" on the miniature BLIP: the map points at the shape the sentence names."""

from __future__ import annotations

import json

import numpy as np
import pytest

from blipdesk.core.model import ModelSpec
from tests.helpers import miniature as mini

# On 40 held-out two-shape photos, the map of a sentence naming one shape must peak inside that
# shape's box (not the other's); the issue asks for at least 85 % (chance: about 10 %). The shipped
# miniature's rates per text layer are in tests/data/miniature-blip/figures.json ("localisation");
# LAYER: the text layers (summed) chosen there on 200 other photos. Measured: 97.5 % (layers
# 0+1; 91.5 % of the 200), with the photos' items drawn on the model's patch grid
# (``mini.ON_GRID``) so that the 2-M-parameter miniature learns the shapes within its ~5-minute
# budget; the same recipe's other seeds: 90 % and 90 % (tests/data/miniature-blip/README.md).
# MIN_PEAK_IN_BOX is a floor for a retrained miniature's own check;
# ``test_issue_goal_85_percent`` holds the shipped one to the issue's 85 %.
LAYER = tuple(mini.load_figures()["localisation"]["best_layers"])
ISSUE_GOAL = 0.85
MIN_PEAK_IN_BOX = 0.90  # measured 0.975: a margin
MIN_MORE_MASS_ON_NAMED = 0.90  # measured 0.975


@pytest.fixture(scope="module")
def scorer():
    from blipdesk.core.device import resolve_placement
    from blipdesk.core.model import load_model
    from blipdesk.core.scorer import Scorer

    return Scorer(load_model(ModelSpec(str(mini.SHIPPED)), resolve_placement("cpu", "fp32")))


@pytest.fixture(scope="module")
def located(scorer):
    got = mini.localisation(scorer, LAYER, n=40)
    print(
        f"text layers {got['layer']}, {got['grid'][0]} x {got['grid'][1]} grid: peak inside the "
        f"named shape's box {got['peak_in_box']:.1%}; more mass on it than on the other shape "
        f"{got['more_mass']:.1%} ({got['photos']} photos)"
    )
    return got


def test_map_points_at_the_named_shape(located):
    figures = mini.load_figures()["localisation"]["test_40"][",".join(map(str, LAYER))]
    assert located["peak_in_box"] == pytest.approx(figures["peak_in_box"])  # as README says
    assert located["peak_in_box"] >= MIN_PEAK_IN_BOX
    assert located["more_mass"] >= MIN_MORE_MASS_ON_NAMED


def test_issue_goal_85_percent(located):
    assert located["peak_in_box"] >= ISSUE_GOAL, f"{located['peak_in_box']:.1%}"


def test_explanation_maps_are_per_word_and_non_negative(scorer):
    from blipdesk.core.explain import explain, whole_words

    photo = mini.two_shape_photos(1, seed=31)[0]
    features = scorer.encode_images(
        scorer.pixels(mini.model_inputs([mini.render(photo)], scorer.image_size))
    )
    item = photo.items[0]
    result = explain(scorer, features.embeds[0], f"a {item.colour} {item.shape}", LAYER)
    grid = scorer.image_size // scorer.model.config.vision_config.patch_size
    assert result.sentence_map.shape == (grid, grid) and (result.sentence_map >= 0).all()
    assert [w for w, _ in result.words] == ["a", item.colour, item.shape]
    assert np.allclose(result.sentence_map, np.mean([m for _, m in result.words], axis=0))
    assert [w for w, _ in whole_words(result.words)] == ["a", item.colour, item.shape]


def test_whole_words_joins_word_pieces():
    from blipdesk.core.explain import whole_words

    one, two, three = (np.full((2, 2), v, np.float32) for v in (1.0, 2.0, 4.0))
    joined = whole_words((("a", one), ("sand", two), ("##y", three)))
    assert [w for w, _ in joined] == ["a", "sandy"]
    assert np.allclose(joined[0][1], one) and np.allclose(joined[1][1], 3.0)


def test_explain_cli_writes_an_overlay_and_json(tmp_path, capsys):
    from PIL import Image

    from blipdesk.cli import build_parser, run

    photo = mini.photos(1, seed=5)[0]
    path = tmp_path / "photo.png"
    mini.render(photo).save(path)
    out = tmp_path / "why.png"
    item = photo.items[0]
    ns = build_parser().parse_args(
        [
            "--data-dir",
            str(tmp_path / "data"),
            "explain",
            str(path),
            f"a {item.colour} {item.shape}",
            "--model",
            str(mini.SHIPPED),
            "--device",
            "cpu",
            "--output",
            str(out),
            "--words",
            "--json",
        ]
    )
    assert run(ns) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["grid"] == 8 and len(doc["map"]) == 8 and len(doc["words"]) == 3
    assert 0 <= doc["itm"] <= 1 and not doc["from_vision_cache"]
    with Image.open(out) as im:
        assert im.size[1] == photo.height and im.size[0] > photo.width  # the photo + a scale


def test_explain_reads_the_vision_cache_after_a_scan(tmp_path, capsys):
    from blipdesk.cli import build_parser, run

    folder = tmp_path / "photos"
    folder.mkdir()
    photo = mini.photos(1, seed=6)[0]
    mini.render(photo).save(folder / "photo.png")
    item = photo.items[0]
    common = ["--data-dir", str(tmp_path / "data")]
    model = ["--model", str(mini.SHIPPED), "--device", "cpu"]
    sentence = f"a {item.colour} {item.shape}"
    explain = [*common, "explain", str(folder / "photo.png"), sentence, *model, "--json"]
    assert run(build_parser().parse_args(explain)) == 0
    fresh = json.loads(capsys.readouterr().out)
    assert run(build_parser().parse_args([*common, "scan", str(folder), *model])) == 0
    capsys.readouterr()
    assert run(build_parser().parse_args(explain)) == 0
    cached = json.loads(capsys.readouterr().out)
    assert not fresh["from_vision_cache"] and cached["from_vision_cache"]
    assert abs(cached["itm"] - fresh["itm"]) < 0.02  # the compact cache: 8-bit vision outputs
    assert cached["peak"] == fresh["peak"]
