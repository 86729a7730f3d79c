"""The photo grid's tag filter (AND / OR / NOT chips + a minimum score), property-tested.

The rule is ``accepts(filter_state, tags, tag_score, photo)`` in blipdesk/qt/models/photos.py, a
pure function (``PhotoGridModel._accepts`` calls it): no widget, no QApplication."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

photos_model = pytest.importorskip("blipdesk.qt.models.photos")
from blipdesk.qt.values import Photo, Tag  # noqa: E402

NAMES = ("dog", "beach", "cake", "كلب", "🐶")
score = st.one_of(st.none(), st.floats(0.0, 1.0))
chip = st.tuples(st.sampled_from((*NAMES, "unknown")), st.sampled_from(photos_model.MODES))


def accepts(chips, min_score, thresholds, scores, search=None, search_itm=None):
    tags = {n: Tag(n, (n,), thresholds[n]) for n in NAMES}
    state = photos_model.FilterState(
        tuple(chips), min_score, search, "q", search_itm=search_itm or {}
    )
    photo = Photo("/p.jpg", "p.jpg", 1, 0.0)
    return photos_model.accepts(state, tags, lambda path, tag: scores[tag.name], photo)


case = st.fixed_dictionaries(
    {
        "chips": st.lists(chip, max_size=5),
        "min_score": st.floats(0.0, 1.0),
        "thresholds": st.fixed_dictionaries({n: st.floats(0.0, 1.0) for n in NAMES}),
        "scores": st.fixed_dictionaries({n: score for n in NAMES}),
    }
)


def hit(c, name):
    s = c["scores"][name]
    return s is not None and s >= max(c["thresholds"][name], c["min_score"])


@settings(max_examples=400, database=None)
@given(case)
def test_filter_is_and_of_ands_nots_and_any_of_ors(c):
    known = [(n, m) for n, m in c["chips"] if n in NAMES]  # unknown tags are ignored
    ors = [hit(c, n) for n, m in known if m == "or"]
    expected = (
        all(hit(c, n) for n, m in known if m == "and")
        and not any(hit(c, n) for n, m in known if m == "not")
        and (any(ors) if ors else True)
    )
    assert accepts(**c) == expected


@settings(max_examples=300, database=None)
@given(case, st.sampled_from(NAMES))
def test_a_chip_and_its_not_split_the_photos(c, name):
    """Exactly one of {AND t} and {NOT t} accepts a photo: NOT is the complement."""
    base = {**c, "chips": []}
    assert accepts(**{**base, "chips": [(name, "and")]}) != accepts(
        **{**base, "chips": [(name, "not")]}
    )


@settings(max_examples=300, database=None)
@given(case, st.floats(0.0, 1.0))
def test_raising_the_minimum_score_never_adds_photos_without_not_chips(c, higher):
    chips = [(n, m) for n, m in c["chips"] if m != "not"]
    low = min(c["min_score"], higher)
    high = max(c["min_score"], higher)
    if accepts(**{**c, "chips": chips, "min_score": high}):
        assert accepts(**{**c, "chips": chips, "min_score": low})


@settings(max_examples=200, database=None)
@given(case, st.booleans(), score)
def test_search_ranking_applies_the_minimum_score(c, ranked, checked):
    """A search shows the photos it ranked; a minimum score keeps only those whose match (ITM)
    was checked and reaches it (photos ranked by similarity alone have no match score yet)."""
    search = {"/p.jpg": 0.3} if ranked else {"/other.jpg": 0.9}
    itm = {} if checked is None else {"/p.jpg": checked}
    got = accepts(**{**c, "chips": []}, search=search, search_itm=itm)
    passes = c["min_score"] <= 0 or (checked is not None and checked >= c["min_score"])
    assert got == (ranked and passes)
