"""Two connections (threads here; processes behave the same through SQLite's locks) creating the
same rows at once (issue 10, item 8): every get-or-create is atomic, nobody fails."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from blipdesk.domain import ScoreRow, Tag
from blipdesk.store import Library


def _race(db, action, n: int = 2) -> list:
    """Run ``action(library)`` in ``n`` threads, each with its own connection; results or errors."""
    results: list = [None] * n

    def run(i: int) -> None:
        try:
            with Library.open(db) as lib:
                results[i] = action(lib)
        except Exception as exc:  # handed back to the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "library.sqlite3"
    Library.open(path).close()
    return path


def test_two_connections_adding_the_same_new_model_both_get_its_id(db, monkeypatch):
    """Both look the model up before either adds it (the window that lost the race before)."""
    both_looked = threading.Barrier(2)
    real = Library.model_id
    first_look: set[int] = set()

    def model_id(self, score_key):
        found = real(self, score_key)
        if id(self) not in first_look:
            first_look.add(id(self))
            both_looked.wait(10)
        return found

    monkeypatch.setattr(Library, "model_id", model_id)
    got = _race(db, lambda lib: lib.ensure_model("dir:abc|first=cls|decode=1", "/m"))
    assert not [g for g in got if isinstance(g, Exception)], got
    assert got[0] == got[1] and isinstance(got[0], int)


def test_two_scans_writing_the_same_new_contents_and_sentences(db):
    with Library.open(db) as lib:
        lib.ensure_model("k", "/m")
    start = threading.Barrier(2)

    def write(lib):
        start.wait(10)
        for i in range(20):
            rows = [ScoreRow(f"c{i}", f"sentence {j}", 0.5, 0.0, 0.0, 0.1) for j in range(3)]
            lib.write_batch("k", rows, {f"c{i}": np.ones(4, np.float32)}, {})
        return True

    assert _race(db, write) == [True, True]
    with Library.open(db) as lib:
        scores = lib.sentence_scores("k", [f"c{i}" for i in range(20)])
    assert all(len(v) == 3 for v in scores.values())


def test_a_threshold_change_does_not_resurrect_a_removed_tag(db):
    with Library.open(db) as lib:
        lib.put_tag(Tag("dog", ("a dog",)))
        assert lib.remove_tag("dog")
        with pytest.raises(Exception, match="no tag called"):
            lib.set_threshold("dog", 0.3)
        assert lib.tag("dog") is None
