"""The promise of the vision cache, through the CLI as a person runs it with no flags: once a
folder is scanned, a new tag and a search never decode a photo or run the vision tower."""

from __future__ import annotations

import json

import pytest

from blipdesk import app
from blipdesk.core import decoding, engine
from blipdesk.core.scorer import Scorer
from tests.helpers.models import scene


def test_new_tag_and_search_skip_decoding_and_the_vision_tower(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(6):
        scene(200, 150, i).save(folder / f"p{i}.jpg", quality=90)
    data = ["--data-dir", str(tmp_path / "data")]
    common = ["--model", str(tiny_model_dir), "--device", "cpu"]
    assert app.main([*data, "tags", "add", "dog", "a dog on a beach"]) == 0
    assert app.main([*data, "scan", str(folder), *common]) == 0
    assert len(list((tmp_path / "data" / "features").rglob("*.vis"))) == 6  # on by default

    def fail(what):
        def raiser(*args, **kwargs):
            pytest.fail(f"{what} although every photo's vision output is cached")

        return raiser

    monkeypatch.setattr(engine, "_decode_pool", fail("started decoders"))
    monkeypatch.setattr(decoding, "decode_for_model", fail("decoded a photo"))
    monkeypatch.setattr(Scorer, "encode_images", fail("ran the vision tower"))
    monkeypatch.setattr(Scorer, "_vision_forward", fail("ran the vision tower"))
    capsys.readouterr()

    assert app.main([*data, "tags", "add", "cake", "birthday cake with candles"]) == 0
    assert app.main([*data, "scan", str(folder), *common]) == 0
    assert "6 scored (6 from the vision cache)" in capsys.readouterr().err
    assert app.main([*data, "search", "a red car", str(folder), *common, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["results"]) == 6 and all(r["itm"] is not None for r in doc["results"])
