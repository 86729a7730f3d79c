"""Helpers for the results-file and cluster tests: what a cache holds, compared."""

from __future__ import annotations

import importlib
import os
import sqlite3
from pathlib import Path
from types import ModuleType

import pytest

from blipdesk import app
from blipdesk.store import Library
from tests.helpers.models import scene


def need(module: str) -> ModuleType:
    """``module``, or skip the test where it is not installed; CI (``BLIPDESK_REQUIRE_RAY``,
    set by .ci/run) must have it, so there a missing one fails instead."""
    if os.environ.get("BLIPDESK_REQUIRE_RAY"):
        return importlib.import_module(module)
    return pytest.importorskip(module)


def cli(data: Path, *args: object) -> int:
    return app.main(["--data-dir", str(data), *map(str, args)])


def dump(data: Path) -> list[str]:
    """Everything the cache holds, as SQL text (what changed shows as a different line)."""
    conn = sqlite3.connect(data / "library.sqlite3")
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def results_of(data: Path, model_dir: Path) -> dict:
    """{content: (scores by sentence, ITC vector, decode error)} of every content in the cache."""
    from blipdesk.core.engine import model_key
    from blipdesk.core.model import ModelSpec

    key = model_key(ModelSpec(str(model_dir))).score_key
    with Library.open(data / "library.sqlite3", readonly=True) as lib:
        contents = [r[0] for r in lib.conn.execute("SELECT hash FROM contents")]
        scores = lib.sentence_scores(key, contents)
        itc = lib.image_features(key, contents)
        errors = lib.decode_errors(key, contents)
    return {
        c: (scores[c], itc.get(c), errors.get(c))
        for c in contents
        if scores[c] or c in itc or c in errors
    }


def assert_same_results(got: dict, want: dict, tolerance: float = 1e-6) -> None:
    assert set(got) == set(want)
    for content, (scores, itc, error) in want.items():
        their_scores, their_itc, their_error = got[content]
        assert their_error == error
        assert set(their_scores) == set(scores)
        for sentence, s in scores.items():
            t = their_scores[sentence]
            got_values = (t.itm, t.logit_no, t.logit_yes, t.cosine)
            want_values = (s.itm, s.logit_no, s.logit_yes, s.cosine)
            assert got_values == pytest.approx(want_values, abs=tolerance), (
                f"{content[:12]} {sentence!r}: {got_values} != {want_values}"
            )
        assert (itc is None) == (their_itc is None)
        if itc is not None:
            assert their_itc == pytest.approx(itc, abs=tolerance)


def mixed_folder(tmp_path: Path) -> Path:
    """11 files, 10 distinct contents (a copy of p1 in sub/), 9 of them decodable (broken.jpg
    is not): the library the results and cluster tests scan."""
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for i in range(8):
        scene(80, 60, i).save(folder / f"p{i}.jpg", quality=90)
    scene(60, 80, 9).save(folder / "sub" / "q.png")
    (folder / "sub" / "copy-of-p1.jpg").write_bytes((folder / "p1.jpg").read_bytes())
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    return folder
