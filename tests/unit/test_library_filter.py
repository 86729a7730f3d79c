"""The one filter applied to the library (``services.library_filter``), what the command line's
``--filter`` lists: ratings, flags and labels are read by content (a copy has its original's),
duplicates are files of the same content, tags follow the store's rule (a label first)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from blipdesk.core.inventory import content_hash
from blipdesk.domain import PhotoRecord, Rating, ScoreRow, Tag
from blipdesk.services.library_filter import matching_paths
from blipdesk.services.photo_filter import FilterState, parse_filter
from blipdesk.services.ratings import RatingFilter
from blipdesk.store import Library

SCORE_KEY = "test-key"


def make_library(
    folder: Path, database: Path, source: str = "test-source", key: str = SCORE_KEY
) -> dict[str, str]:
    """Six photos and two copies under ``folder``, recorded in a library at ``database`` with
    one tag ("beach"), scores, ratings and labels by content; returns name -> path.

    p1 (and its copy): 4 stars, picked, labelled beach yes, scored 0.2 (carries beach by the
    label); p2 (and its copy): 2 stars, no label, 0.9; p3: 5 stars, labelled no, 0.95 (does
    not carry beach: the label wins); p0, p4, p5: unrated, unlabelled, 0.1, 0.6, not scored."""
    from tests.helpers.models import scene

    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for i in range(6):
        path = folder / f"p{i}.jpg"
        scene(64, 48, i).save(path, quality=85)
        paths[f"p{i}"] = str(path)
    for i in (1, 2):
        copy = folder / f"p{i} copy.jpg"
        shutil.copyfile(folder / f"p{i}.jpg", copy)
        paths[f"p{i} copy"] = str(copy)
    content = {}
    records = []
    for name, path in paths.items():
        st = os.stat(path)
        content[name] = content_hash(path, st.st_size)
        records.append(PhotoRecord(path, st.st_size, st.st_mtime_ns, content[name]))
    itm = {"p0": 0.1, "p1": 0.2, "p2": 0.9, "p3": 0.95, "p4": 0.6}
    with Library.open(database) as lib:
        lib.record_photos(records)
        lib.put_tag(Tag("beach", ("a beach",), 0.5))
        lib.ensure_model(key, source)
        rows = [ScoreRow(content[n], "a beach", v, 0.0, 0.0, 0.1) for n, v in itm.items()]
        lib.write_batch(key, rows, {}, {})
        lib.set_ratings(
            {
                content["p1"]: Rating(4, 1),
                content["p2"]: Rating(2, 0),
                content["p3"]: Rating(5, 0),
            },
            1.0,
        )
        lib.put_labels("beach", {content["p1"]: True, content["p3"]: False})
    return paths


def _names(paths: dict[str, str], found: set[str]) -> set[str]:
    return {n for n, p in paths.items() if p in found}


def test_rating_label_duplicate_tag_and_name_criteria_read_the_library(tmp_path):
    folder, database = tmp_path / "photos", tmp_path / "library.sqlite3"
    paths = make_library(folder, database)

    def kept(state: FilterState) -> set[str]:
        with Library.open(database, readonly=True) as lib:
            return _names(paths, matching_paths(lib, SCORE_KEY, [folder], True, state))

    assert kept(FilterState()) == set(paths)
    assert kept(FilterState(rating=RatingFilter(3))) == {"p1", "p1 copy", "p3"}
    assert kept(FilterState(rating=RatingFilter(flag="picked"))) == {"p1", "p1 copy"}
    assert kept(FilterState(rating=RatingFilter(flag="unflagged"))) == set(paths) - {
        "p1",
        "p1 copy",
    }
    assert kept(FilterState(labels="confirmed")) == {"p1", "p1 copy"}
    assert kept(FilterState(labels="labelled")) == {"p1", "p1 copy", "p3"}
    assert kept(FilterState(duplicates=True)) == {"p1", "p1 copy", "p2", "p2 copy"}
    # The tag by the store's rule: p1 (0.2) carries it by its yes, p3 (0.95) not, by its no.
    assert kept(FilterState(chips=(("beach", "and"),))) == {"p1", "p1 copy", "p2", "p2 copy", "p4"}
    assert kept(FilterState(chips=(("beach", "not"),))) == {"p0", "p3", "p5"}
    assert kept(parse_filter("duplicates stars:3 labels:confirmed")) == {"p1", "p1 copy"}
    assert kept(parse_filter("name:COPY kind:jpg")) == {"p1 copy", "p2 copy"}
    assert kept(parse_filter(f"folder:{folder}/sub")) == set()
