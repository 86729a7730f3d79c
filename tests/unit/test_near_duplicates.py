"""Near-duplicates are burst frames and re-exports, not other photos of the same thing (issue 25,
item 15): a perceptual hash of the pixels the scan decoded (kept by content, no decode of its
own) and the capture time decide; the embedding's cosine only ranks "more like this"."""

from __future__ import annotations

import io
import itertools
import math

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageEnhance

from blipdesk.core import pixel_hash as ph
from blipdesk.core.engine import ScanOptions, model_key, scan
from blipdesk.core.imaging import load_for_model
from blipdesk.core.model import ModelSpec
from blipdesk.core.similar import similar
from blipdesk.domain.near import BURST_SECONDS, NEAR_SECONDS, distance, near_duplicates
from blipdesk.services import near as near_service
from blipdesk.store import Library
from tests.helpers import miniature as mini

OPTIONS = ScanOptions(batch_size=4, use_processes=False, decode_workers=1)


def _textured(seed: int, x: int, y: int, size: int) -> Image.Image:
    """A green triangle drawn on the miniature's textured ground."""
    item = mini.Item("triangle", "green", (x, y, x + size, y + size))
    return mini.render(mini.Photo(192, 128, (item,), seed=seed))


def _plain(x: int, y: int, r: int, w: int = 400, h: int = 300) -> Image.Image:
    """A green triangle on plain white: the hardest case for a hash (little texture)."""
    im = Image.new("RGB", (w, h), "white")
    ImageDraw.Draw(im).polygon([(x, y - r), (x - r, y + r), (x + r, y + r)], fill=(30, 160, 40))
    return im


def _drawings() -> list[Image.Image]:
    rng = np.random.default_rng(12)
    textured = [
        _textured(int(s), int(rng.integers(5, 100)), int(rng.integers(5, 40)), 80)
        for s in rng.integers(0, 10_000, 12)
    ]
    plain = [
        _plain(int(rng.integers(60, 340)), int(rng.integers(60, 240)), int(rng.integers(20, 60)))
        for _ in range(12)
    ]
    return textured + plain


def _hash(im: Image.Image) -> bytes:
    """As the scan hashes it: decoded to the model's square, then hashed."""
    return ph.pixel_hash(np.array(im.convert("RGB").resize((384, 384), Image.Resampling.BICUBIC)))


def _re_exports(im: Image.Image) -> dict[str, Image.Image]:
    w, h = im.size
    jpeg = io.BytesIO()
    im.save(jpeg, "JPEG", quality=60)
    noisy = np.asarray(im, np.float32) + np.random.default_rng(0).normal(0, 8, (h, w, 3))
    return {
        "jpeg 60": Image.open(jpeg),
        "half size": im.resize((w // 2, h // 2)),
        "brighter": ImageEnhance.Brightness(im).enhance(1.1),
        "noise": Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)),
        "moved 1%": im.crop((int(w * 0.01), int(h * 0.01), w, h)).resize((w, h)),
    }


def test_different_drawings_of_a_green_triangle_are_not_near_duplicates():
    hashes = [_hash(im) for im in _drawings()]
    assert len(hashes[0]) * 8 >= 143
    close = [
        (i, j, distance(a, b))
        for (i, a), (j, b) in itertools.combinations(enumerate(hashes), 2)
        if near_duplicates(a, b, None, None)
    ]
    assert close == []  # even with no capture time to tell them apart


@pytest.mark.parametrize("index", [0, 5, 11, 12, 17, 23])
def test_a_re_export_or_a_burst_frame_is_a_near_duplicate(index):
    im = _drawings()[index]
    for what, other in _re_exports(im).items():
        assert near_duplicates(_hash(im), _hash(other), None, None), what
        # the same capture time (a re-export) or a second apart (a burst frame)
        assert near_duplicates(_hash(im), _hash(other), 1000.0, 1001.0, BURST_SECONDS), what
        # the same pixels taken long apart: another photo of the same scene, not a duplicate
        assert not near_duplicates(_hash(im), _hash(other), 0.0, NEAR_SECONDS + 60), what


def test_the_hash_is_kept_by_content_when_the_scan_decodes_and_more_like_this_uses_it(
    library, tmp_path, tiny_model_dir, tiny_scorer, monkeypatch
):
    folder = tmp_path / "photos"
    folder.mkdir()
    drawings = _drawings()
    for i, im in enumerate(drawings[:12]):
        im.save(folder / f"triangle {i:02}.png")
    _re_exports(drawings[3])["jpeg 60"].convert("RGB").save(folder / "triangle 03 export.jpg")
    key = model_key(ModelSpec(str(tiny_model_dir)))
    decoded: list[str] = []
    real = load_for_model
    monkeypatch.setattr(
        "blipdesk.core.decoding.load_for_model", lambda p, *a: (decoded.append(p), real(p, *a))[1]
    )
    scan(library, [folder], ("a triangle",), key, lambda: tiny_scorer, OPTIONS)
    records = library.photos_under([folder], True)
    contents = {r.path: r.content for r in records}
    hashes = library.pixel_hashes(list(contents.values()))
    assert set(hashes) == set(contents.values()) and len(decoded) == len(contents)  # one each
    for path in contents:  # the same hash as the pixels the scan decoded
        assert hashes[contents[path]] == ph.pixel_hash(real(path))

    def no_decode(path):
        raise AssertionError(f"decoded again: {path}")

    monkeypatch.setattr("blipdesk.core.pixel_hash.photo_hash", no_decode)
    candidates, vectors = library.folder_features(key.score_key, [folder])
    chosen_path = str(folder / "triangle 03.png")
    chosen = {chosen_path: candidates[chosen_path]}
    database = str(tmp_path / "data" / "library.sqlite3")
    found = near_service.similar_photos(database, chosen, candidates, vectors, 20)
    assert [p for _q, p, _s in found.near] == [str(folder / "triangle 03 export.jpg")]
    # the other green triangles are ranked by likeness, never called near-duplicates
    assert len(found.ranked) == 11


def test_photos_scanned_before_hashes_were_kept_are_hashed_once_on_demand(
    library, tmp_path, tiny_model_dir, tiny_scorer
):
    folder = tmp_path / "photos"
    folder.mkdir()
    base = _drawings()[14]
    base.save(folder / "a.png")
    _re_exports(base)["half size"].save(folder / "a small.png")
    _drawings()[15].save(folder / "b.png")
    key = model_key(ModelSpec(str(tiny_model_dir)))
    scan(library, [folder], (), key, lambda: tiny_scorer, OPTIONS)
    library.conn.execute("DELETE FROM pixel_hashes")  # as a library from before hashes
    candidates, vectors = library.folder_features(key.score_key, [folder])
    database = str(tmp_path / "data" / "library.sqlite3")
    chosen = {str(folder / "a.png"): candidates[str(folder / "a.png")]}
    found = near_service.similar_photos(database, chosen, candidates, vectors, 5)
    assert [p for _q, p, _s in found.near] == [str(folder / "a small.png")]
    with Library.open(database, readonly=True) as lib:  # kept for next time
        assert len(lib.pixel_hashes(list(candidates.values()))) == 3


def test_similar_without_hashes_finds_no_near_duplicates_however_close_the_vectors():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(3, 256)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    vectors = {"c0": v[0], "c1": v[0] * 0.999 + v[1] * 0.001, "c2": v[2]}
    candidates = {f"/f/{i}.jpg": f"c{i}" for i in range(3)}
    found = similar({"/f/0.jpg": "c0"}, candidates, vectors, top=3)
    assert found.near == () and found.ranked[0][0] == "/f/1.jpg"
    assert math.isclose(found.ranked[0][1], 1.0, abs_tol=0.01)  # the old rule's "near"
