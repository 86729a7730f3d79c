"""The scan engine on the tiny model: incremental, model-free when nothing changed, cancellable."""

from __future__ import annotations

import collections
import dataclasses
import os
import shutil
import subprocess
import sys
import threading

import pytest

from blipdesk.core import decoding, engine, files, inventory
from blipdesk.core.engine import ScanOptions, model_key, scan
from blipdesk.core.feature_cache import decode as decode_features
from blipdesk.core.imaging import load_for_model
from blipdesk.core.model import ModelSpec
from blipdesk.core.search import cosine_ranking, iter_search, search
from tests.helpers.models import scene

SENTENCES = ("a dog on a beach", "birthday cake")
THREADS = ScanOptions(batch_size=3, use_processes=False, decode_workers=2)


def never_load():
    raise AssertionError("the model was loaded")


class Counting:
    def __init__(self, scorer) -> None:
        self.scorer, self.calls = scorer, 0

    def __call__(self):
        self.calls += 1
        return self.scorer


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for i in range(5):
        scene(80, 60, i).save(folder / f"p{i}.jpg", quality=90)
    scene(80, 60, 7).save(folder / "sub" / "q.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (folder / "notes.txt").write_text("not a photo")
    return folder


@pytest.fixture(scope="module")
def key(tiny_model_dir):
    return model_key(ModelSpec(str(tiny_model_dir)))


def test_scan_scores_everything_and_rescan_never_loads_the_model(library, photos, key, tiny_scorer):
    batches, progress = [], []
    loader = Counting(tiny_scorer)
    summary = scan(
        library, [photos], SENTENCES, key, loader, THREADS, progress.append, batches.append
    )
    assert loader.calls == 1 and summary.model_loaded
    assert summary.photos == 7 and summary.scored == 6
    assert [(f.path, f.reason) for f in summary.failures] == [
        (str(photos / "broken.jpg"), summary.failures[0].reason)
    ]
    assert progress[-1].done == progress[-1].total == 7 and progress[-1].errors == 1
    assert all(dataclasses.is_dataclass(p) and p.photos_per_second >= 0 for p in progress)
    scored = [b for b in batches if b.scores is not None]
    assert sum(len(b.contents) for b in scored) == 6
    with pytest.raises(ValueError):
        scored[0].scores.itm[0, 0] = 1.0  # results handed on are immutable
    # The cache holds exactly what the scorer computes for these photos.
    path = photos / "p2.jpg"
    direct = tiny_scorer.score(load_for_model(path)[None], tiny_scorer.encode_sentences(SENTENCES))
    [result] = [r for r in library.photo_results(key.score_key, [photos]) if r.path == str(path)]
    assert result.tags == {}  # no tags defined: scores exist per sentence, tags are derived
    content = next(r.content for r in library.photos_under([photos]) if r.path == str(path))
    cached = library.sentence_scores(key.score_key, [content])[content]
    for j, s in enumerate(SENTENCES):
        assert cached[s].itm == pytest.approx(float(direct.itm[0, j]), abs=1e-5)
        assert cached[s].cosine == pytest.approx(float(direct.cosine[0, j]), abs=1e-5)

    again = scan(library, [photos], SENTENCES, key, never_load, THREADS)
    assert not again.model_loaded and again.scored == 0
    assert [f.path for f in again.failures] == [str(photos / "broken.jpg")]  # still reported


def test_renamed_and_moved_photos_keep_their_scores(library, photos, key, tiny_scorer):
    scan(library, [photos], SENTENCES, key, lambda: tiny_scorer, THREADS)
    before = {r.path: r for r in library.photos_under([photos])}
    (photos / "moved").mkdir()
    os.rename(photos / "p1.jpg", photos / "moved" / "renamed.jpg")
    summary = scan(library, [photos], SENTENCES, key, never_load, THREADS)
    assert summary.scored == 0 and not summary.model_loaded
    after = {r.path: r for r in library.photos_under([photos])}
    assert str(photos / "p1.jpg") not in after
    assert (
        after[str(photos / "moved" / "renamed.jpg")].content
        == before[str(photos / "p1.jpg")].content
    )


def test_changed_photo_is_rescored(library, photos, key, tiny_scorer):
    scan(library, [photos], SENTENCES, key, lambda: tiny_scorer, THREADS)
    old = {r.path: r.content for r in library.photos_under([photos])}
    scene(80, 60, 42).save(photos / "p3.jpg", quality=90)
    loader = Counting(tiny_scorer)
    summary = scan(library, [photos], SENTENCES, key, loader, THREADS)
    assert loader.calls == 1 and summary.scored == 1
    new = {r.path: r.content for r in library.photos_under([photos])}
    assert new[str(photos / "p3.jpg")] != old[str(photos / "p3.jpg")]
    assert library.missing_work(key.score_key, [new[str(photos / "p3.jpg")]], SENTENCES) == {}


def test_a_new_sentence_costs_only_that_sentence(library, photos, key, tiny_scorer, monkeypatch):
    options = dataclasses.replace(THREADS, feature_cache=True, features_dir=photos.parent / "f")
    scan(library, [photos], SENTENCES, key, lambda: tiny_scorer, options)
    files = list((photos.parent / "f").rglob("*.vis"))
    assert len(files) == 6
    assert decode_features(files[0].read_bytes()).shape == (577, 32)

    def no_decoding(path):
        raise AssertionError(f"decoded {path} although its features are cached")

    monkeypatch.setattr(decoding, "decode_for_model", no_decoding)
    batches = []
    summary = scan(
        library, [photos], (*SENTENCES, "three cats"), key, lambda: tiny_scorer, options,
        on_batch=batches.append,
    )  # fmt: skip
    assert summary.scored == 6
    assert {b.sentences for b in batches if b.scores is not None} == {("three cats",)}
    # Scores from cached compact features match a fresh pass (the bound: test_feature_cache.py).
    path = photos / "p0.jpg"
    direct = tiny_scorer.score(
        load_for_model(path)[None], tiny_scorer.encode_sentences(["three cats"])
    )
    content = next(r.content for r in library.photos_under([photos]) if r.path == str(path))
    cached = library.sentence_scores(key.score_key, [content])[content]["three cats"]
    assert cached.itm == pytest.approx(float(direct.itm[0, 0]), abs=5e-3)
    assert cached.cosine == pytest.approx(float(direct.cosine[0, 0]), abs=1e-5)  # ITC: stored


def test_cancel_keeps_finished_batches_and_pause_waits(library, photos, key, tiny_scorer):
    cancel, pause = threading.Event(), threading.Event()
    seen = []

    def on_progress(p):
        seen.append(p)
        cancel.set()

    summary = scan(
        library, [photos], SENTENCES, key, lambda: tiny_scorer, THREADS, on_progress,
        cancel=cancel, pause=pause,
    )  # fmt: skip
    assert summary.cancelled and len(seen) == 1 and seen[0].done == 3
    assert summary.scored + len(summary.failures) - 1 <= 3  # broken.jpg was known only if decoded
    cancel.clear()
    pause.set()
    threading.Timer(0.3, pause.clear).start()
    rest = scan(
        library, [photos], SENTENCES, key, lambda: tiny_scorer, THREADS, cancel=cancel, pause=pause
    )
    assert not rest.cancelled and rest.scored + summary.scored == 6


def test_decoding_in_worker_processes(library, photos, key, tiny_scorer):
    options = ScanOptions(batch_size=4, decode_workers=2)
    summary = scan(library, [photos], SENTENCES, key, lambda: tiny_scorer, options)
    assert summary.scored == 6 and len(summary.failures) == 1


def test_search_ranks_by_cosine_then_reranks_by_itm(library, photos, key, tiny_scorer):
    scan(library, [photos], (), key, lambda: tiny_scorer, THREADS)  # search never scans
    hits = search(library, [photos], "a red car", key, lambda: tiny_scorer, top=6, candidates=3,
                  options=THREADS).hits  # fmt: skip
    assert len(hits) == 6
    assert [h.itm is not None for h in hits] == [True] * 3 + [False] * 3
    itms = [h.itm for h in hits[:3]]
    assert itms == sorted(itms, reverse=True)
    assert min(h.cosine for h in hits[:3]) >= max(h.cosine for h in hits[3:])
    # Searching again reuses the cached features and scores: no model for the ranking itself.
    assert (
        library.missing_work(
            key.score_key, [p.content for p in library.photos_under([photos]) if p.content], ()
        )
        == {}
    )


def test_engine_imports_neither_torch_nor_qt():
    code = (
        "import sys, blipdesk.core.engine; print('torch' in sys.modules, 'PySide6' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_hash_sees_changes_at_either_end(tmp_path):
    data = bytearray(os.urandom(300_000))
    path = tmp_path / "x.bin"
    path.write_bytes(data)
    first = inventory.content_hash(path)
    shutil.copy(path, tmp_path / "copy.bin")
    assert inventory.content_hash(tmp_path / "copy.bin") == first
    for index in (0, len(data) - 1):
        changed = bytearray(data)
        changed[index] ^= 1
        path.write_bytes(changed)
        assert inventory.content_hash(path) != first


def test_a_missing_folder_forgets_nothing(library, photos, key, tiny_scorer, tmp_path):
    scan(library, [photos], SENTENCES, key, lambda: tiny_scorer, THREADS)
    before = library.photos_under([photos])
    unplugged = tmp_path / "unplugged"
    os.rename(photos, unplugged)
    assert scan(library, [photos], SENTENCES, key, never_load, THREADS).photos == 0
    assert library.photos_under([photos]) == before
    os.rename(unplugged, photos)
    assert scan(library, [photos], SENTENCES, key, never_load, THREADS).scored == 0


def test_a_new_sentence_ranks_by_cosine_at_once(library, photos, key, tiny_scorer, monkeypatch):
    scan(library, [photos], (), key, lambda: tiny_scorer, THREADS)  # image features only
    monkeypatch.setattr(decoding, "decode_for_model", lambda path: pytest.fail(f"decoded {path}"))
    monkeypatch.setattr(tiny_scorer, "encode_images", lambda *a: pytest.fail("vision pass"))
    records = library.photos_under([photos])
    ranked = cosine_ranking(library, records, "three cats", key, tiny_scorer)
    assert len(ranked) == 6 and [c for _, c in ranked] == sorted(
        (c for _, c in ranked), reverse=True
    )
    photo, cosine = ranked[0]
    monkeypatch.undo()
    direct = tiny_scorer.score(
        load_for_model(photo.path)[None], tiny_scorer.encode_sentences(["three cats"])
    )
    assert cosine == pytest.approx(float(direct.cosine[0, 0]), abs=1e-5)


def test_decoding_falls_back_to_threads(library, photos, key, tiny_scorer, monkeypatch):
    def no_processes(*args, **kwargs):
        raise OSError("no semaphores here")

    monkeypatch.setattr(decoding.cf, "ProcessPoolExecutor", no_processes)
    summary = scan(
        library, [photos], SENTENCES, key, lambda: tiny_scorer, ScanOptions(batch_size=4)
    )
    assert summary.scored == 6 and len(summary.failures) == 1


def test_automatic_batch_size_follows_the_device(library, tmp_path, key, tiny_scorer):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(19):
        scene(32, 32, i).save(folder / f"m{i:02d}.png")
    sizes = []
    options = dataclasses.replace(THREADS, batch_size=0)
    scan(library, [folder], SENTENCES, key, lambda: tiny_scorer, options,
         on_batch=lambda b: sizes.append(len(b.contents)))  # fmt: skip
    assert sizes == [8, 8, 3]  # the CPU's automatic batch
    assert engine.auto_batch_size("cuda") == 64
    assert decoding.auto_decode_workers("cuda") >= decoding.auto_decode_workers("cpu") >= 1


def test_an_unreadable_folder_is_reported_and_its_photos_are_kept(
    library, photos, key, tiny_scorer, monkeypatch
):
    """Tests run as root, whom chmod 000 does not stop: os.scandir raises for one folder instead
    (the CLI case with real permissions is in tests/e2e/test_reliability.py)."""
    sub = photos / "sub"  # holds q.png
    first = scan(library, [photos], ("a dog",), key, lambda: tiny_scorer, THREADS)
    assert not first.unreadable_folders
    before = {p.path: p for p in library.photos_under([photos])}
    assert str(sub / "q.png") in before
    real = os.scandir

    def denied(path="."):
        if os.fspath(path) == str(sub):
            raise PermissionError(13, "Permission denied", str(sub))
        return real(path)

    monkeypatch.setattr(os, "scandir", denied)
    again = scan(library, [photos], ("a dog",), key, never_load, THREADS)
    assert [f.path for f in again.unreadable_folders] == [str(sub)]
    assert "Permission denied" in again.unreadable_folders[0].reason
    after = {p.path: p for p in library.photos_under([photos])}
    assert after == before  # nothing forgotten, nothing overwritten
    results = {r.path: r for r in library.photo_results(key.score_key, [photos])}
    assert results[str(sub / "q.png")].error is None


def test_a_search_encodes_once_reads_the_vectors_once_and_walks_once(
    tmp_path, library, photos, key, tiny_scorer, monkeypatch
):
    """However many refinement steps: one text pass, one read of the ITC vectors, one walk (it
    was a text pass and two reads per step)."""
    options = dataclasses.replace(THREADS, features_dir=tmp_path / "features")
    scan(library, [photos], SENTENCES, key, lambda: tiny_scorer, options)
    calls: collections.Counter[str] = collections.Counter()

    def count(owner, name):
        real = getattr(owner, name)

        def spy(*args, **kwargs):
            calls[name] += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, spy)

    count(tiny_scorer, "encode_sentences")
    count(library, "image_features")
    count(files, "walk")
    steps = list(
        iter_search(
            library, [photos], "three cats", key, lambda: tiny_scorer, 6, 6, options, step=2
        )
    )
    assert len(steps) == 4 and steps[-1].done and steps[-1].refined == 6
    assert calls == {"encode_sentences": 1, "image_features": 1, "walk": 1}


def test_a_scan_given_the_listing_never_walks_and_forgets_nothing(
    library, photos, key, tiny_scorer, monkeypatch
):
    scan(library, [photos], SENTENCES, key, lambda: tiny_scorer, THREADS)
    known = library.photos_under([photos])
    listed = [r.path for r in known if not r.path.endswith("q.png")]  # one left out of the list
    monkeypatch.setattr(files, "walk", lambda *a, **k: pytest.fail("walked the folder again"))
    summary = scan(
        library, [photos], (*SENTENCES, "three cats"), key, lambda: tiny_scorer, THREADS,
        listed=listed,
    )  # fmt: skip
    assert summary.photos == 6 and summary.scored == 5 and len(summary.failures) == 1
    assert library.photos_under([photos]) == known  # only a walk knows what is gone
