"""The library cache: schema, migrations, refusal of newer databases, tags, derived tags."""

from __future__ import annotations

import sqlite3
import threading

import numpy as np
import pytest

from blipdesk.domain import PhotoRecord, ScoreRow, SentenceScore, Tag, derive_tags
from blipdesk.store import SCHEMA_VERSION, DatabaseTooNewError, Library, database_bytes
from blipdesk.store.connection import folder_range

KEY = "dir:abc|first=cls|decode=1"

# Schema version 1 exactly as the first development builds wrote it (kept literal on purpose: the
# test must fail if someone edits migration step 1 instead of adding a step).
V1_SCHEMA = """
CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
                   threshold REAL NOT NULL DEFAULT 0.5);
CREATE TABLE tag_sentences (tag_id INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
                            position INTEGER NOT NULL, text TEXT NOT NULL,
                            PRIMARY KEY (tag_id, position));
CREATE TABLE texts (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE);
CREATE TABLE contents (id INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE);
CREATE TABLE models (id INTEGER PRIMARY KEY, score_key TEXT NOT NULL UNIQUE, source TEXT NOT NULL,
                     revision TEXT);
CREATE TABLE photos (path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
                     content_id INTEGER REFERENCES contents(id), read_error TEXT);
CREATE INDEX photos_by_content ON photos(content_id);
CREATE TABLE scores (content_id INTEGER NOT NULL, model_id INTEGER NOT NULL,
                     text_id INTEGER NOT NULL, itm REAL NOT NULL, logit_no REAL NOT NULL,
                     logit_yes REAL NOT NULL, cosine REAL NOT NULL,
                     PRIMARY KEY (content_id, model_id, text_id)) WITHOUT ROWID;
INSERT INTO tags VALUES (1, 'beach', 0.3);
INSERT INTO tag_sentences VALUES (1, 0, 'a photo of a beach');
INSERT INTO texts VALUES (1, 'a photo of a beach');
INSERT INTO contents VALUES (1, 'c0ffee');
INSERT INTO models VALUES (1, 'dir:abc|first=cls|decode=1', '/models/blip', NULL);
INSERT INTO photos VALUES ('/photos/a.jpg', 10, 20, 1, NULL);
INSERT INTO scores VALUES (1, 1, 1, 0.8, -1.0, 0.4, 0.25);
PRAGMA user_version = 1;
"""


@pytest.fixture
def db(tmp_path):
    return tmp_path / "library.sqlite3"


def test_fresh_database_is_current_and_in_wal_mode(db):
    with Library.open(db) as lib:
        assert lib.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert lib.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert lib.integrity_check() == "ok"
    assert not list(db.parent.glob("*.bak"))  # nothing to keep from an empty database


def test_migrates_version_1_step_by_step_and_keeps_a_copy(db):
    conn = sqlite3.connect(db)
    conn.executescript(V1_SCHEMA)
    conn.close()
    with Library.open(db) as lib:
        assert lib.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert lib.tags() == [Tag("beach", ("a photo of a beach",), 0.3, None)]
        [photo] = lib.photos_under(["/photos"])
        assert photo.content == "c0ffee"
        scores = lib.sentence_scores(KEY, ["c0ffee"])
        assert scores["c0ffee"]["a photo of a beach"] == SentenceScore(0.8, 0.25, -1.0, 0.4)
        assert lib.image_features(KEY, ["c0ffee"]) == {}  # the table step 2 added
    backup = db.with_name("library.sqlite3.v1.bak")
    old = sqlite3.connect(backup)
    assert old.execute("PRAGMA user_version").fetchone()[0] == 1
    assert old.execute("SELECT name FROM tags").fetchall() == [("beach",)]
    old.close()


def test_newer_database_is_refused_and_left_untouched(db):
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE future (x)")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    before = (db.read_bytes(), db.stat().st_mtime_ns)
    with pytest.raises(DatabaseTooNewError, match="newer blipdesk"):
        Library.open(db)
    assert (db.read_bytes(), db.stat().st_mtime_ns) == before
    assert sorted(p.name for p in db.parent.iterdir()) == [db.name]  # no -wal, -shm or backup


def test_tags_round_trip_and_removal_keeps_scores(db):
    with Library.open(db) as lib:
        lib.put_tag(Tag("dog", ("a dog", "a puppy", "a dog"), 0.6, "#ff0000"))
        assert lib.tags() == [Tag("dog", ("a dog", "a puppy"), 0.6, "#ff0000")]
        lib.set_threshold("dog", 0.2)
        assert lib.tag("dog").threshold == 0.2
        lib.ensure_model(KEY, "src")
        lib.write_batch(KEY, [ScoreRow("h1", "a dog", 0.9, 0.0, 2.0, 0.3)], {}, {})
        assert lib.remove_tag("dog") and not lib.remove_tag("dog")
        assert lib.tags() == []
        assert lib.sentence_scores(KEY, ["h1"])["h1"]["a dog"].itm == 0.9


@pytest.mark.parametrize(
    "tag", [Tag("", ("x",)), Tag("x", ()), Tag("x", (" ",)), Tag("x", ("y",), 1.5)]
)
def test_invalid_tags_are_refused(db, tag):
    from blipdesk.infra.errors import UserError

    with Library.open(db) as lib, pytest.raises(UserError):
        lib.put_tag(tag)


def test_tags_are_derived_from_scores_and_thresholds():
    scores = {
        "a beach": SentenceScore(0.4, 0.1, 0, 0),
        "sand and sea": SentenceScore(0.7, 0.2, 0, 0),
    }
    tags = [Tag("beach", ("a beach", "sand and sea"), 0.5), Tag("dog", ("a dog",))]
    derived = derive_tags(tags, scores)
    assert set(derived) == {"beach"}  # no score for "a dog" yet: unknown, not "no match"
    assert derived["beach"].score == 0.7 and derived["beach"].match
    strict = derive_tags([Tag("beach", ("a beach", "sand and sea"), 0.8)], scores)
    assert not strict["beach"].match  # a new threshold re-tags without any model


def test_photo_results_and_folders(db):
    with Library.open(db) as lib:
        lib.put_tag(Tag("beach", ("a beach",), 0.5))
        lib.ensure_model(KEY, "src")
        lib.record_photos(
            [
                PhotoRecord("/p/a.jpg", 1, 1, "h1"),
                PhotoRecord("/p/sub/b.jpg", 1, 1, "h2"),
                PhotoRecord("/p/c.jpg", 1, 1, "h3"),
                PhotoRecord("/p2/x.jpg", 1, 1, "h1"),
                PhotoRecord("/p/locked.jpg", 1, 1, None, "permission denied"),
            ]
        )
        lib.write_batch(
            KEY,
            [ScoreRow("h1", "a beach", 0.9, 0, 1, 0.3), ScoreRow("h2", "a beach", 0.1, 1, 0, 0.1)],
            {"h1": np.ones(4, np.float32)},
            {"h3": "truncated"},
        )
        results = {r.path: r for r in lib.photo_results(KEY, ["/p"])}
        assert set(results) == {"/p/a.jpg", "/p/sub/b.jpg", "/p/c.jpg", "/p/locked.jpg"}
        assert results["/p/a.jpg"].tags["beach"].match
        assert not results["/p/sub/b.jpg"].tags["beach"].match
        assert results["/p/c.jpg"].error == "truncated" and results["/p/c.jpg"].tags == {}
        assert results["/p/locked.jpg"].error == "permission denied"
        flat = [p.path for p in lib.photos_under(["/p"], recursive=False)]
        assert flat == ["/p/a.jpg", "/p/c.jpg", "/p/locked.jpg"]
        assert np.array_equal(lib.image_features(KEY, ["h1"])["h1"], np.ones(4, np.float32))
        work = lib.missing_work(KEY, ["h1", "h2", "h3", "h4"], ["a beach"])
        assert work == {"h2": ((), True), "h4": (("a beach",), True)}  # h3 failed: not retried


def test_folder_range_does_not_match_sibling_prefixes():
    low, high = folder_range("/photos/2024")
    assert low <= "/photos/2024/a.jpg" < high
    assert not (low <= "/photos/2024-trip/a.jpg" < high)


def test_a_failed_batch_leaves_nothing_behind(db):
    with Library.open(db) as lib:
        lib.ensure_model(KEY, "src")
        bad = [ScoreRow("h1", "s", 0.5, 0, 0, 0), ScoreRow("h1", "s", float("nan"), 0, 0, 0)]
        with pytest.raises(sqlite3.IntegrityError):
            lib.write_batch(KEY, bad, {}, {})  # NaN is stored as NULL: NOT NULL fails mid-batch
        assert lib.sentence_scores(KEY, ["h1"]) == {"h1": {}}
        lib.write_batch(KEY, [ScoreRow("h1", "s", 0.5, 0, 0, 0)], {}, {})  # ids still valid
        assert lib.sentence_scores(KEY, ["h1"])["h1"]["s"].itm == 0.5


def test_readers_use_their_own_connection_and_cannot_write(db):
    with Library.open(db) as writer:
        writer.put_tag(Tag("a", ("a",)))
        seen = []

        def read() -> None:
            with Library.open(db, readonly=True) as reader:
                seen.append([t.name for t in reader.tags()])
                with pytest.raises(RuntimeError):
                    reader.put_tag(Tag("b", ("b",)))

        thread = threading.Thread(target=read)
        thread.start()
        thread.join()
        assert seen == [["a"]]
        other = []
        thread = threading.Thread(target=lambda: other.append(_use(writer)))
        thread.start()
        thread.join()
        assert other == ["refused"]  # the writer belongs to the thread that opened it


def _use(lib: Library) -> str:
    try:
        lib.tags()
    except sqlite3.ProgrammingError:
        return "refused"
    return "used"


def test_clear_scores_keeps_tags_and_photos_and_shrinks_the_file(
    db, tmp_path, tiny_model_dir, tiny_scorer
):
    from blipdesk.core.engine import ScanOptions, model_key, scan
    from blipdesk.core.model import ModelSpec
    from tests.helpers.models import scene

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(4):
        scene(80, 60, i).save(photos / f"p{i}.jpg", quality=90)
    (photos / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    key = model_key(ModelSpec(str(tiny_model_dir)))
    sentences = ("a dog on a beach", "birthday cake")
    options = ScanOptions(batch_size=2, use_processes=False, decode_workers=1)
    with Library.open(db) as lib:
        lib.put_tag(Tag("beach", sentences, 0.0, "#e6194b"))
        # Bulk rows from another model so the freed space is far larger than a page or two.
        lib.ensure_model(KEY, "src")
        bulk = [f"{i:064x}" for i in range(2000)]
        lib.write_batch(
            KEY,
            [ScoreRow(c, s, 0.5, 0, 0, 0) for c in bulk for s in sentences],
            {c: np.ones(256, np.float32) for c in bulk},
            {},
        )
        assert scan(lib, [photos], sentences, key, lambda: tiny_scorer, options).scored == 4
        scored = lib.photo_results(key.score_key, [photos])
        assert sum(bool(r.tags) for r in scored) == 4
        assert [r.error is not None for r in scored] == [True, False, False, False, False]
        before = database_bytes(db)

        lib.clear_scores()

        assert database_bytes(db) < before / 2
        assert lib.tags() == [Tag("beach", sentences, 0.0, "#e6194b")]
        assert len(lib.photos_under([photos])) == 5  # photo records stay
        cleared = lib.photo_results(key.score_key, [photos])
        assert all(r.tags == {} and r.error is None for r in cleared)  # decode errors go too
        assert (
            lib.image_features(key.score_key, [p.content for p in lib.photos_under([photos])]) == {}
        )
        assert lib.sentence_scores(KEY, bulk[:3]) == {c: {} for c in bulk[:3]}
        assert lib.integrity_check() == "ok"

        again = scan(lib, [photos], sentences, key, lambda: tiny_scorer, options)
        assert again.model_loaded and again.scored == 4
        rescored = lib.photo_results(key.score_key, [photos])
        assert sum(bool(r.tags) for r in rescored) == 4 and rescored[0].error is not None
    with Library.open(db, readonly=True) as reader:  # what another connection sees
        assert reader.tags()[0].name == "beach"
