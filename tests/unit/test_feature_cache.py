"""The vision cache: its compact format, its budget, damaged files, and what it buys (a new tag or
a search never decodes a photo or runs the vision tower)."""

from __future__ import annotations

import dataclasses
import os
import time

import numpy as np
import pytest

from blipdesk.core import decoding, engine
from blipdesk.core import feature_cache as fc
from blipdesk.core.engine import ScanOptions, model_key, scan
from blipdesk.core.model import ModelSpec
from blipdesk.core.search import iter_search
from blipdesk.store import Library
from tests.helpers.models import scene

SENTENCES = ("a dog on a beach", "birthday cake")
NEW = ("three cats on a sofa", "a red car")


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(8):
        scene(160, 120, i).save(folder / f"p{i}.jpg", quality=90)
    return folder


@pytest.fixture(scope="module")
def key(tiny_model_dir):
    return model_key(ModelSpec(str(tiny_model_dir)))


def options(tmp_path, **kw) -> ScanOptions:
    return ScanOptions(
        batch_size=3, use_processes=False, decode_workers=1, features_dir=tmp_path / "vis", **kw
    )


def no_vision(monkeypatch, scorer) -> None:
    """Fail the test if anything decodes a photo or runs the vision tower."""
    monkeypatch.setattr(engine, "_decode_pool", lambda *a, **k: pytest.fail("decoding started"))
    monkeypatch.setattr(decoding, "decode_for_model", lambda *a: pytest.fail("decoded a photo"))
    monkeypatch.setattr(scorer, "encode_images", lambda *a: pytest.fail("ran the vision tower"))


# ----------------------------------------------------------------------------------- format


def activations(rng, tokens=577, channels=64, outliers=(3, 17), scale=60.0) -> np.ndarray:
    """ViT-like: most channels near unit range, a few carrying outliers tens of times larger,
    and a [CLS] token with its own norm."""
    x = rng.standard_normal((tokens, channels)).astype(np.float32)
    x[:, list(outliers)] *= scale
    x[0] *= 4.0
    return x


def per_token_only(x: np.ndarray) -> np.ndarray:
    """The naive 8-bit scheme the compact format improves on: one scale per token."""
    s = np.abs(x).max(axis=1, keepdims=True) / 127
    return np.rint(x / s).clip(-127, 127) * s


def test_compact_format_keeps_ordinary_channels_accurate_beside_outliers():
    rng = np.random.default_rng(0)
    x = activations(rng)
    y = fc.decode(fc.encode(x, "compact"))
    normal = np.setdiff1d(np.arange(x.shape[1]), [3, 17])
    err = np.abs(y - x)[:, normal].mean()
    naive = np.abs(per_token_only(x) - x)[:, normal].mean()
    assert err < 0.01  # ordinary channels: within 1% of their unit range
    assert naive > 10 * err  # one scale per token would round them to a few levels
    outlier_rel = np.abs(y - x)[:, [3, 17]].max() / np.abs(x[:, [3, 17]]).max()
    assert outlier_rel <= 1 / 127


def test_formats_round_trip_and_sizes():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((577, 1024)).astype(np.float32)
    compact, half = fc.encode(x, "compact"), fc.encode(x, "fp16")
    assert len(compact) == fc.file_bytes(577, 1024, "compact") <= 600_000  # the bound
    assert len(half) == fc.file_bytes(577, 1024, "fp16")
    np.testing.assert_allclose(fc.decode(half), x, atol=2e-3)
    assert fc.decode(compact).shape == (577, 1024)


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[:-1],  # truncated
        lambda b: b[:10],  # truncated header
        lambda b: b[:40] + bytes([b[40] ^ 1]) + b[41:],  # one bit flipped
        lambda b: b"BLPVIS99" + b[8:],  # another format
        lambda b: b"",
    ],
)
def test_damaged_blobs_are_refused(damage):
    blob = fc.encode(np.ones((5, 4), np.float32))
    with pytest.raises(ValueError):
        fc.decode(damage(blob))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("20G", 20 * 10**9), ("500MB", 5 * 10**8), ("1.5GiB", int(1.5 * 2**30)), ("0", 0)],
)
def test_sizes_parse(text, expected):
    assert fc.parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "-1G", "lots", "5X", "nanG", "infG"])
def test_bad_sizes_are_refused(text):
    with pytest.raises(ValueError):
        fc.parse_size(text)


# ----------------------------------------------------------------------------------- budget


def test_budget_evicts_least_recently_used_first(library, tmp_path):
    x = np.ones((10, 8), np.float32)
    one = fc.file_bytes(10, 8)
    store = fc.FeatureStore(tmp_path / "vis", "model-a", library, budget=4 * one)
    for name in "abcd":
        store.save_many({name * 64: x})
        time.sleep(0.01)
    store.load_many(["a" * 64])  # a is now the most recently used
    store.save_many({"e" * 64: x})  # over budget: evict down to 90% of it (3 files)
    left = store.cached(c * 64 for c in "abcde")
    assert left == {"a" * 64, "d" * 64, "e" * 64}
    assert not store.path("b" * 64).exists() and not store.path("c" * 64).exists()
    assert library.features_total() == 3 * one


def test_budget_covers_every_model_together(library, tmp_path):
    x = np.ones((10, 8), np.float32)
    one = fc.file_bytes(10, 8)
    a = fc.FeatureStore(tmp_path / "vis", "model-a", library, budget=2 * one)
    b = fc.FeatureStore(tmp_path / "vis", "model-b", library, budget=2 * one)
    a.save_many({"1" * 64: x})
    b.save_many({"2" * 64: x, "3" * 64: x})
    assert a.cached(["1" * 64]) == set() and b.cached(["2" * 64, "3" * 64]) == {"3" * 64}


def test_a_scan_under_a_tiny_budget_still_scores_everything(
    library, photos, key, tiny_scorer, tmp_path
):
    budget = 2 * fc.file_bytes(577, 32)  # room for two photos of eight
    summary = scan(library, [photos], SENTENCES, key, lambda: tiny_scorer,
                   options(tmp_path, feature_budget=budget))  # fmt: skip
    assert summary.scored == 8 and not summary.failures
    assert library.features_total() <= budget
    assert len(list((tmp_path / "vis").rglob("*.vis"))) == library.features_count() <= 2
    # A new sentence: the evicted photos pay the vision pass again, the rest come from the cache.
    batches = []
    again = scan(library, [photos], (*SENTENCES, NEW[0]), key, lambda: tiny_scorer,
                 options(tmp_path, feature_budget=budget), on_batch=batches.append)  # fmt: skip
    assert again.scored == 8


def test_budget_zero_and_switched_off_store_nothing(library, photos, key, tiny_scorer, tmp_path):
    scan(
        library, [photos], SENTENCES, key, lambda: tiny_scorer, options(tmp_path, feature_budget=0)
    )
    scan(library, [photos], NEW, key, lambda: tiny_scorer, options(tmp_path, feature_cache=False))
    assert library.features_count() == 0 and not list((tmp_path / "vis").rglob("*.vis"))


def test_a_full_disk_never_fails_a_scan(library, photos, key, tiny_scorer, tmp_path, monkeypatch):
    def full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fc, "_write_atomic", full)
    summary = scan(library, [photos], SENTENCES, key, lambda: tiny_scorer, options(tmp_path))
    assert summary.scored == 8 and library.features_count() == 0


# ----------------------------------------------------------------------------------- damage


def test_damaged_or_hostile_vision_files_are_recomputed(
    library, photos, key, tiny_scorer, tmp_path
):
    opts = options(tmp_path)
    scan(library, [photos], SENTENCES, key, lambda: tiny_scorer, opts)
    files = sorted((tmp_path / "vis").rglob("*.vis"))
    assert len(files) == 8
    files[0].write_bytes(files[0].read_bytes()[:-7])  # truncated
    files[1].write_bytes(b"\0" * 600)  # garbage
    files[2].unlink()
    os.mkfifo(files[2])  # a FIFO must not block the scan
    files[3].unlink()
    files[3].symlink_to("/dev/zero")  # must not fill memory
    files[4].unlink()  # gone
    summary = scan(library, [photos], (*SENTENCES, NEW[0]), key, lambda: tiny_scorer, opts)
    assert summary.scored == 8 and not summary.failures
    for f in files:
        assert f.is_file() and not f.is_symlink()
        assert fc.decode(f.read_bytes()).shape == (577, 32)  # replaced by a good file
    assert library.features_count() == 8


# ----------------------------------------------------------------------------------- accuracy


def test_compact_features_reproduce_fresh_scores(library, photos, key, tiny_scorer, tmp_path):
    """The bound stated in the README: ITM within 5e-3 of a fresh fp32 pass on the fixture
    (measured 2.6e-4 max, 9.2e-5 mean over 40 photos x 4 sentences; the real-size figures are in
    benchmarks/results)."""
    from blipdesk.core.imaging import load_for_model

    scan(library, [photos], SENTENCES, key, lambda: tiny_scorer, options(tmp_path))
    scan(library, [photos], NEW, key, lambda: tiny_scorer, options(tmp_path))
    records = library.photos_under([photos])
    cached = library.sentence_scores(key.score_key, [r.content for r in records], NEW)
    images = np.stack([load_for_model(r.path) for r in records])
    fresh = tiny_scorer.score(images, tiny_scorer.encode_sentences(list(NEW)))
    got = np.array([[cached[r.content][s].itm for s in NEW] for r in records])
    assert np.abs(got - fresh.itm).max() < 5e-3
    cos = np.array([[cached[r.content][s].cosine for s in NEW] for r in records])
    assert np.abs(cos - fresh.cosine).max() < 1e-5  # cosine: from the stored ITC vectors


# ----------------------------------------------------------------------------------- best first


def test_a_new_tag_is_checked_best_first_without_vision(
    library, photos, key, tiny_scorer, tmp_path, monkeypatch
):
    opts = options(tmp_path)
    scan(library, [photos], SENTENCES, key, lambda: tiny_scorer, opts)
    no_vision(monkeypatch, tiny_scorer)
    order, progress = [], []
    summary = scan(
        library, [photos], (*SENTENCES, NEW[0]), key, lambda: tiny_scorer,
        dataclasses.replace(opts, batch_size=1), progress.append,
        lambda b: order.extend(b.contents),
    )  # fmt: skip
    assert summary.scored == 8
    itc = library.image_features(key.score_key, order)
    text = tiny_scorer.encode_sentences([NEW[0]]).itc.numpy()[0]
    cosine = [float(itc[c] @ text) for c in order]
    assert cosine == sorted(cosine, reverse=True)  # likely matches first
    assert progress[-1].from_cache == progress[-1].done == 8


def test_search_never_scans_and_reports_what_is_not_scanned(
    library, photos, key, tiny_scorer, tmp_path, monkeypatch
):
    opts = options(tmp_path)
    scan(library, [photos], (), key, lambda: tiny_scorer, opts)  # scanned: features only
    for i in range(3):
        scene(64, 48, 50 + i).save(photos / f"new{i}.png")  # added since
    no_vision(monkeypatch, tiny_scorer)
    steps = list(iter_search(library, [photos], "a dog", key, lambda: tiny_scorer, top=20,
                             candidates=8, options=opts, step=3))  # fmt: skip
    first, last = steps[0], steps[-1]
    assert first.refined == 0 and first.ranked == 8 and first.unscanned == 3
    assert [h.cosine for h in first.hits] == sorted((h.cosine for h in first.hits), reverse=True)
    assert len(steps) == 1 + 3 and [s.refined for s in steps] == [0, 3, 6, 8]
    assert last.done and last.refined == 8 and len(last.hits) == 8
    itms = [h.itm for h in last.hits]
    assert None not in itms and itms == sorted(itms, reverse=True)
    assert not any(p.path.endswith(".png") for (p,) in [(h,) for h in last.hits])
    # Asking again: the ITM scores were stored, so the first update is already refined.
    again = next(iter_search(library, [photos], "a dog", key, lambda: tiny_scorer, top=20,
                             candidates=8, options=opts))  # fmt: skip
    assert again.done and again.refined == 8


def test_search_on_a_folder_never_scanned_answers_empty(
    library, photos, key, tiny_scorer, tmp_path
):
    steps = list(iter_search(library, [photos], "a dog", key, lambda: tiny_scorer,
                             options=options(tmp_path)))  # fmt: skip
    assert len(steps) == 1 and steps[0].done and steps[0].hits == ()
    assert steps[0].unscanned == 8 and library.photos_under([photos]) == []


def test_a_symlink_planted_at_a_cache_path_is_replaced_never_followed(library, tmp_path):
    precious = tmp_path / "precious.jpg"
    precious.write_bytes(b"the user's photo")
    store = fc.FeatureStore(tmp_path / "vis", "model-a", library)
    target = store.path("f" * 64)
    target.parent.mkdir(parents=True)
    target.symlink_to(precious)
    assert store.save_many({"f" * 64: np.ones((10, 8), np.float32)}) == 1
    assert precious.read_bytes() == b"the user's photo"
    assert not target.is_symlink() and fc.decode(target.read_bytes()).shape == (10, 8)


def test_search_on_a_read_only_cache_refines_in_memory(library, photos, key, tiny_scorer, tmp_path):
    opts = options(tmp_path)
    scan(library, [photos], (), key, lambda: tiny_scorer, opts)
    library.close()
    with Library.open(tmp_path / "data" / "library.sqlite3", readonly=True) as ro:
        last = list(iter_search(ro, [photos], "a dog", key, lambda: tiny_scorer, top=8,
                                candidates=8, options=opts, step=4))[-1]  # fmt: skip
        assert last.done and last.refined == 8
        itms = [h.itm for h in last.hits]
        assert itms == sorted(itms, reverse=True)
        assert ro.sentence_scores(key.score_key, [r.content for r in ro.photos_under([photos])],
                                  ["a dog"]) == {r.content: {} for r in ro.photos_under([photos])}  # fmt: skip


def test_a_lowered_budget_applies_at_the_next_scan_even_with_nothing_to_do(
    library, photos, key, tiny_scorer, tmp_path
):
    scan(library, [photos], SENTENCES, key, lambda: tiny_scorer, options(tmp_path))
    assert library.features_count() == 8

    def never():
        raise AssertionError("nothing to score: the model must not load")

    one = fc.file_bytes(577, 32)
    scan(library, [photos], SENTENCES, key, never, options(tmp_path, feature_budget=3 * one))
    assert library.features_count() <= 3
    assert len(list((tmp_path / "vis").rglob("*.vis"))) == library.features_count()
    scan(library, [photos], SENTENCES, key, never, options(tmp_path, feature_budget=0))
    assert library.features_count() == 0 and not list((tmp_path / "vis").rglob("*.vis"))


# ----------------------------------------------------------------------------------- reading


def write_files(tmp_path, count, fmt="compact", seed=5):
    rng = np.random.default_rng(seed)
    arrays = [activations(rng, outliers=(i % 60, 61)) for i in range(count)]
    paths = []
    for i, x in enumerate(arrays):
        paths.append(tmp_path / f"{i}.vis")
        paths[-1].write_bytes(fc.encode(x, fmt))
    return paths


@pytest.mark.parametrize("fmt", fc.FORMATS)
def test_a_batch_reads_bit_for_bit_as_one_file_at_a_time_into_one_array(tmp_path, fmt):
    """read_many dequantises in place, run by run: the very floats ``decode`` gives, as the rows
    of one array that ``stack_rows`` hands on without a copy (in order; a copy otherwise)."""
    paths = write_files(tmp_path, 5, fmt)
    got = fc.read_many(paths)
    for path, array in zip(paths, got, strict=True):
        assert isinstance(array, np.ndarray)
        np.testing.assert_array_equal(array, fc.decode(path.read_bytes()))
    stacked = fc.stack_rows(got)
    assert stacked.shape == (5, 577, 64) and np.shares_memory(stacked, got[0])
    np.testing.assert_array_equal(fc.stack_rows(got[1:4]), np.stack(got[1:4]))
    assert np.shares_memory(fc.stack_rows(got[1:4]), got[1])
    reordered = fc.stack_rows([got[2], got[0]])
    assert not np.shares_memory(reordered, got[0])
    np.testing.assert_array_equal(reordered, np.stack([got[2], got[0]]))


def test_a_batch_reports_each_bad_file_and_reads_the_others(tmp_path):
    paths = write_files(tmp_path, 6)
    paths[1].write_bytes(paths[1].read_bytes()[:-7])  # truncated
    paths[2].unlink()  # gone
    paths[3].unlink()
    os.mkfifo(paths[3])  # must not block
    paths[4].unlink()
    paths[4].symlink_to("/dev/zero")  # must not fill memory
    blob = bytearray(paths[5].read_bytes())
    blob[-1] ^= 1  # one flipped bit
    paths[5].write_bytes(bytes(blob))
    got = fc.read_many(paths)
    assert isinstance(got[0], np.ndarray)
    assert isinstance(got[1], ValueError) and isinstance(got[5], ValueError)
    assert isinstance(got[2], FileNotFoundError)
    assert isinstance(got[3], OSError) and isinstance(got[4], OSError)


def test_read_ahead_gives_the_same_arrays_and_the_owner_settles_damage(library, tmp_path):
    """With read-ahead the next batch is read by a background thread while the caller works;
    what load_many returns is the same, and a damaged file it met is deleted and forgotten by
    load_many (the library's thread), never by the reader."""
    rng = np.random.default_rng(9)
    arrays = {f"{i:064x}": activations(rng) for i in range(10)}
    store = fc.FeatureStore(tmp_path / "vis", "model-a", library)
    store.save_many(arrays)
    names = list(arrays)
    damaged = names[7]
    store.path(damaged).write_bytes(b"\0" * 600)
    alone = fc.FeatureStore(tmp_path / "vis", "model-a", library)
    expected = {c: alone.load(c) for c in names if c != damaged}

    store.read_ahead(names, 4)
    got: dict[str, np.ndarray] = {}
    for start in range(0, 10, 4):
        batch = names[start : start + 4]
        loaded = store.load_many(batch)
        if start + 4 < 10:  # the next batch is being read in the background already
            assert store._ahead is not None and store._ahead[0] == names[start + 4 : start + 8]
        got.update(loaded)
        if len(loaded) == len(batch):
            assert np.shares_memory(fc.stack_rows([loaded[c] for c in batch]), loaded[batch[0]])
    assert set(got) == set(expected)
    for c, x in expected.items():
        np.testing.assert_array_equal(got[c], x)
    assert not store.path(damaged).exists()
    assert store.cached(names) == set(names) - {damaged}
    # A request the read-ahead did not expect is read on the spot.
    store.read_ahead(names, 4)
    np.testing.assert_array_equal(store.load_many([names[9]])[names[9]], expected[names[9]])
