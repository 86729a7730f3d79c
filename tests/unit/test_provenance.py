"""What computed a score and what a score belongs to (issue 24): "Try" keeps scores only for the
bytes it decoded, ..."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pytest

from blipdesk.core import decoding, imaging
from blipdesk.core.engine import ModelKey
from blipdesk.core.scorer import Scores
from blipdesk.infra.errors import PhotoError
from blipdesk.qt.workers.inference import InferenceWorker, ModelChoice, TryJob
from tests.helpers.models import scene

KEY = ModelKey("score-key", "image-key", "/models/blip")


@dataclass
class _Scorer:
    """Scores any photo 0.5 against every sentence; says which pixels it was given."""

    score_key: str = KEY.score_key
    precision: str = "fp32"
    seen: list[np.ndarray] = field(default_factory=list)

    def encode_sentences(self, sentences):
        return list(sentences)

    def score(self, pixels, encoded):
        self.seen.append(pixels)
        n = len(encoded)
        return Scores(np.zeros((1, n, 2), np.float32), np.full((1, n), 0.5, np.float32),
                      np.zeros((1, n), np.float32))  # fmt: skip


def _worker(library, scorer) -> InferenceWorker:
    worker = InferenceWorker()
    worker.model_key = lambda job: KEY
    worker.library = lambda database: library
    worker.scorer = lambda job: scorer
    return worker


def _all_scored(library) -> set[str]:
    return {c for (c,) in library.conn.execute("SELECT c.hash FROM scores s JOIN contents c "
                                                 "ON c.id = s.content_id")}  # fmt: skip


@pytest.mark.parametrize("change", ["rewritten", "touched", "removed"])
def test_try_keeps_no_scores_for_a_file_changed_while_it_was_decoded(
    library, tmp_path, monkeypatch, change
):
    """A file changed between "Try" finding its content and decoding it: what was decoded may be
    the new bytes, so nothing is kept under either content (the scan's stamp check)."""
    photo = tmp_path / "p.jpg"
    scene(80, 60, 1).save(photo)
    real = imaging.load_for_model

    def decode_then_change(path):
        image = real(path)
        if change == "rewritten":
            scene(120, 90, 7).save(photo)
        elif change == "touched":
            st = os.stat(photo)
            os.utime(photo, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
        else:
            os.remove(photo)
        return image

    monkeypatch.setattr(imaging, "load_for_model", decode_then_change)
    monkeypatch.setattr(decoding, "load_for_model", decode_then_change)
    worker = _worker(library, _Scorer())
    job = TryJob(1, ModelChoice(KEY.source), path=str(photo), sentences=("a dog",), database="db")
    with pytest.raises(PhotoError, match=r"changed|moved or deleted"):
        worker._try(job)
    assert _all_scored(library) == set()


def test_try_keeps_its_scores_for_an_unchanged_file(library, tmp_path):
    photo = tmp_path / "p.jpg"
    scene(80, 60, 1).save(photo)
    worker = _worker(library, scorer := _Scorer())
    job = TryJob(1, ModelChoice(KEY.source), path=str(photo), sentences=("a dog",), database="db")
    worker._try(job)
    [record] = library.all_photos()
    assert _all_scored(library) == {record.content} and len(scorer.seen) == 1
    [[score]] = [
        d.values() for d in library.sentence_scores(KEY.score_key, [record.content]).values()
    ]
    assert (score.precision, score.vision_cache) == ("fp32", False)


# ------------------------------------------------------------------ what computed a score (5)


def _export_rows(library, key, folder):
    import csv
    import io

    from blipdesk.services.export import export_csv, export_document

    doc = export_document(library, key.score_key, "tiny", [folder])
    rows = list(csv.DictReader(io.StringIO(export_csv(doc))))
    return doc, {(os.path.basename(r["path"]), r["sentence"]): r for r in rows}


def test_every_score_records_its_precision_and_whether_the_vision_cache_gave_it(
    library, tmp_path, tiny_model_dir, tiny_scorer
):
    import dataclasses

    from blipdesk.core.engine import ScanOptions, load_scorer, model_key, scan
    from blipdesk.core.model import ModelSpec
    from blipdesk.domain import Tag

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        scene(80, 60, i).save(folder / f"p{i}.jpg")
    key = model_key(ModelSpec(str(tiny_model_dir)))
    options = ScanOptions(batch_size=2, use_processes=False, decode_workers=1,
                          feature_cache=True, features_dir=tmp_path / "vision")  # fmt: skip
    library.put_tag(Tag("dog", ("a dog", "a puppy", "two cats")))
    scan(library, [folder], ("a dog",), key, lambda: tiny_scorer, options)  # decoded, fp32
    scan(library, [folder], ("a dog", "a puppy"), key, lambda: tiny_scorer, options)  # cached
    bf16 = load_scorer(ModelSpec(str(tiny_model_dir)), "cpu", "bf16")
    plain = dataclasses.replace(options, feature_cache=False, features_dir=None)
    scan(library, [folder], ("a dog", "a puppy", "two cats"), key, lambda: bf16, plain)
    doc, rows = _export_rows(library, key, folder)
    for i in range(3):
        got = {s: (rows[(f"p{i}.jpg", s)]["precision"], rows[(f"p{i}.jpg", s)]["vision_cache"])
               for s in ("a dog", "a puppy", "two cats")}  # fmt: skip
        assert got == {
            "a dog": ("fp32", "false"), "a puppy": ("fp32", "true"), "two cats": ("bf16", "false")
        }  # fmt: skip
    sentences = doc["photos"][0]["tags"]["dog"]["sentences"]
    assert sentences["a puppy"]["precision"] == "fp32" and sentences["a puppy"]["vision_cache"]
    # A changed precision does not rescore (docs/guide/cache.md says why): nothing to do.
    summary = scan(library, [folder], ("a dog",), key, lambda: bf16, plain)
    assert summary.scored == 0 and summary.cached == 3


def test_scores_from_before_the_provenance_was_kept_say_unknown(tmp_path):
    import sqlite3

    from blipdesk.store import Library
    from blipdesk.store.schema import MIGRATIONS

    path = tmp_path / "library.sqlite3"
    conn = sqlite3.connect(path)
    for version in range(1, 6):
        for statement in MIGRATIONS[version]:
            conn.execute(statement)
    conn.execute("PRAGMA user_version=5")
    conn.executescript(
        "INSERT INTO contents(id, hash) VALUES (1, 'c1');"
        "INSERT INTO models(id, score_key, source) VALUES (1, 'k', 'm');"
        "INSERT INTO texts(id, text) VALUES (1, 'a dog');"
        "INSERT INTO scores VALUES (1, 1, 1, 0.7, 0.0, 1.0, 0.2);"
        "INSERT INTO tags(id, name) VALUES (1, 'dog');"
        "INSERT INTO tag_sentences VALUES (1, 0, 'a dog');"
        "INSERT INTO photos VALUES ('/p/a.jpg', 1, 1, 1, NULL);"
        "INSERT INTO ratings VALUES (1, 3, 0, 1.0);"
        "INSERT INTO labels VALUES (1, 1, 1, 1.0);"
    )
    conn.commit()
    conn.close()
    with Library.open(path) as library:
        # every photo's identity is its key, so its labels and ratings stay attached
        assert library.all_photos()[0].identity is None  # None: the same as its key
        assert library.ratings(["c1"])["c1"].stars == 3 and library.labels(["c1"]) == {
            "c1": {"dog": True}
        }
        [[score]] = [d.values() for d in library.sentence_scores("k", ["c1"]).values()]
        assert (score.itm, score.precision, score.vision_cache) == (0.7, None, None)
        _doc, rows = _export_rows(library, ModelKey("k", "i", "m"), "/p")
        assert (
            rows[("a.jpg", "a dog")]["precision"],
            rows[("a.jpg", "a dog")]["vision_cache"],
        ) == ("", "")


# ------------------------------------------------------ what a score belongs to (6)


def test_a_new_raw_decoding_rule_rescores_the_raw_and_keeps_its_stars_and_labels(
    library, tmp_path, tiny_model_dir, tiny_scorer, monkeypatch
):
    """Labels and ratings belong to the file's content, scores to its content as decoded: a
    bumped RAW rule recomputes the RAW's scores (not a picture's) and keeps its stars and
    labels, for the scan, the path resolver and every reader of labels and ratings."""
    from blipdesk.core import raw
    from blipdesk.core.engine import ScanOptions, model_key, scan
    from blipdesk.core.inventory import resolve_contents
    from blipdesk.core.model import ModelSpec
    from blipdesk.domain import Tag
    from blipdesk.domain.ratings import Rating
    from tests.helpers.dng import write_dng

    folder = tmp_path / "card"
    folder.mkdir()
    write_dng(folder / "IMG_0002.dng")
    scene(80, 60, 3).save(folder / "IMG_0003.jpg")
    key = model_key(ModelSpec(str(tiny_model_dir)))
    options = ScanOptions(batch_size=2, use_processes=False, decode_workers=1)
    library.put_tag(Tag("dog", ("a dog",)))
    assert scan(library, [folder], ("a dog",), key, lambda: tiny_scorer, options).scored == 2
    before = {os.path.basename(r.path): r.content for r in library.all_photos()}
    library.set_ratings({before["IMG_0002.dng"]: Rating(4, 1)}, 1.0)
    library.put_labels("dog", {before["IMG_0002.dng"]: True, before["IMG_0003.jpg"]: False})

    monkeypatch.setattr(raw, "RAW_DECODE_RULE", "raw-2:another way")
    # Before any scan re-keys it, a rating given and read by path is the file's.
    from blipdesk.services import ratings

    dng, database = str(folder / "IMG_0002.dng"), str(library.path)
    assert ratings.load_ratings(database, [dng]) == {dng: Rating(4, 1)}
    ratings.save_ratings(database, {dng: Rating(5, 1)})
    summary = scan(library, [folder], ("a dog",), key, lambda: tiny_scorer, options)
    assert (summary.scored, summary.cached) == (1, 1)  # the RAW again, the JPEG not
    after = {os.path.basename(r.path): r.content for r in library.all_photos()}
    new = after["IMG_0002.dng"]
    assert new != before["IMG_0002.dng"] and after["IMG_0003.jpg"] == before["IMG_0003.jpg"]
    assert library.sentence_scores(key.score_key, [new])[new]
    assert resolve_contents(library, [str(folder / "IMG_0002.dng")]).found == {
        str(folder / "IMG_0002.dng"): new
    }
    assert library.ratings([new]) == {new: Rating(5, 1)}
    assert library.labels([new]) == {new: {"dog": True}}
    assert library.labels()[new] == {"dog": True} and library.tag_labels("dog")[new] is True
    library.set_ratings({new: Rating(2, 0)}, 2.0)  # written through the new key: one rating
    assert library.ratings([before["IMG_0002.dng"], new]) == {
        before["IMG_0002.dng"]: Rating(2, 0), new: Rating(2, 0)
    }  # fmt: skip
