"""The photo grid's filter (AND / OR / NOT chips, a minimum score, dates, types, folder, rating,
labels, duplicates, file name) and its two written forms (JSON, words), property-tested.

The rule is ``accepts(filter_state, tags, tag_score, photo)`` in blipdesk/photo_filter.py
(re-exported by blipdesk/qt/models/photos.py; the grid model compiles the same rules), a pure
function: no widget, no QApplication."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

photos_model = pytest.importorskip("blipdesk.qt.models.photos")
from blipdesk.qt.common.values import Photo, Tag  # noqa: E402
from blipdesk.services import photo_filter  # noqa: E402
from blipdesk.services.ratings import Rating, RatingFilter  # noqa: E402

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


def carries(c, name):
    s = c["scores"][name]
    return s is not None and s >= c["thresholds"][name]


def hit(c, name):
    return carries(c, name) and c["scores"][name] >= c["min_score"]


@settings(max_examples=400, database=None)
@given(case)
def test_filter_is_and_of_ands_nots_and_any_of_ors(c):
    """AND tags carried at the minimum score, OR: one of them so, NOT: none carried at all;
    no AND / OR chip and a minimum score: some tag (not a NOT one) reaches it."""
    known = [(n, m) for n, m in c["chips"] if n in NAMES]  # unknown tags are ignored
    ors = [hit(c, n) for n, m in known if m == "or"]
    nots = {n for n, m in known if m == "not"}
    positive = any(m != "not" for _, m in known)
    expected = (
        all(hit(c, n) for n, m in known if m == "and")
        and not any(carries(c, n) for n in nots)
        and (any(ors) if ors else True)
        and (positive or c["min_score"] <= 0 or any(hit(c, n) for n in NAMES if n not in nots))
    )
    assert accepts(**c) == expected


@settings(max_examples=300, database=None)
@given(case, st.sampled_from(NAMES))
def test_a_chip_and_its_not_split_the_photos(c, name):
    """With no minimum score exactly one of {AND t} and {NOT t} accepts a photo."""
    base = {**c, "chips": [], "min_score": 0.0}
    assert accepts(**{**base, "chips": [(name, "and")]}) != accepts(
        **{**base, "chips": [(name, "not")]}
    )


@settings(max_examples=300, database=None)
@given(case, st.sampled_from(NAMES))
def test_not_excludes_every_photo_carrying_the_tag_whatever_the_minimum(c, name):
    """Issue 14.1: "NOT cat" with min score 0.60 showed photos carrying cat at 0.55."""
    chips = [*c["chips"], (name, "not")]
    if carries(c, name):
        assert not accepts(**{**c, "chips": chips})


@settings(max_examples=300, database=None)
@given(case)
def test_the_minimum_score_alone_filters_by_any_tag(c):
    """Issue 14.1: "Min score" with no chip filtered nothing."""
    got = accepts(**{**c, "chips": []})
    if c["min_score"] <= 0:
        assert got
    else:
        assert got == any(hit(c, n) for n in NAMES)


@settings(max_examples=300, database=None)
@given(case, st.floats(0.0, 1.0))
def test_raising_the_minimum_score_never_adds_photos(c, higher):
    low = min(c["min_score"], higher)
    high = max(c["min_score"], higher)
    if accepts(**{**c, "min_score": high}):
        assert accepts(**{**c, "min_score": low})


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


day = 86400.0
facts = st.fixed_dictionaries(
    {
        "date_from": st.one_of(st.none(), st.integers(0, 20).map(lambda d: d * day)),
        "date_to": st.one_of(st.none(), st.integers(0, 20).map(lambda d: d * day)),
        "kinds": st.sampled_from(((), (".jpg",), (".png",), (".jpg", ".tiff"))),
        "folder": st.sampled_from((None, "/a", "/a/b")),
    }
)
photo_facts = st.tuples(
    st.sampled_from(("/a/x.jpg", "/a/b/y.JPEG", "/a/z.png", "/a/b/w.tif")),
    st.integers(0, 20).map(lambda d: d * day + 5),
)


@settings(max_examples=300, database=None)
@given(case, facts, photo_facts)
def test_dates_types_and_folders_combine_with_the_chips_by_and(c, f, pf):
    """The one composition: the tag rule's answer AND the date range AND the type AND the
    folder (each a rule in photo_filter.RULES)."""
    from blipdesk.services.photo_filter import file_kind

    path, when = pf
    tags = {n: Tag(n, (n,), c["thresholds"][n]) for n in NAMES}
    photo = Photo(path, path.rsplit("/", 1)[1], 1, when)
    plain = photos_model.FilterState(tuple(c["chips"]), c["min_score"])
    full = photos_model.FilterState(tuple(c["chips"]), c["min_score"], **f)
    score = lambda _p, tag: c["scores"][tag.name]  # noqa: E731
    facts_ok = (
        (f["date_from"] is None or when >= f["date_from"])
        and (f["date_to"] is None or when < f["date_to"])
        and (not f["kinds"] or file_kind(photo.name) in f["kinds"])
        and (f["folder"] is None or path.rsplit("/", 1)[0] == f["folder"])
    )
    both = photos_model.accepts(full, tags, score, photo)
    assert both == (photos_model.accepts(plain, tags, score, photo) and facts_ok)


# ------------------------------------------------------------------ what a person said, copies

ratings = st.one_of(
    st.none(), st.builds(lambda s, f: Rating(s, f), st.integers(0, 5), st.sampled_from((-1, 0, 1)))
)
my_labels = st.dictionaries(st.sampled_from(NAMES), st.booleans(), max_size=3)
rating_filters = st.builds(
    RatingFilter, st.integers(0, 5), st.sampled_from((None, "picked", "rejected", "unflagged"))
)


@settings(max_examples=300, database=None)
@given(
    rating_filters,
    st.sampled_from((None, *photo_filter.LABELS)),
    st.booleans(),
    st.sampled_from(("", "p0", "P03", "x")),
    ratings,
    my_labels,
    st.integers(0, 3),
    st.sampled_from(("p03.jpg", "IMG_p0.png", "cake.tif")),
)
def test_ratings_labels_duplicates_and_names_are_rules_of_the_one_filter(
    wanted, labels, duplicates, name, rating, mine, copies, file
):
    """Every criterion is a rule of compile_filter, read through the context's lookups: the
    rating's (``RatingFilter.accepts``), a person's labels (any tag), the copies of the same
    content, the file name (case ignored); ANDed."""
    state = photo_filter.FilterState(
        rating=wanted, labels=labels, duplicates=duplicates, file_name=name
    )
    photo = Photo(f"/a/{file}", file, 1, 0.0)
    ctx = photo_filter.FilterContext(
        {}, lambda *_: None, rating=lambda p: rating, labels=lambda p: mine, copies=lambda p: copies
    )
    said = {
        None: True,
        "labelled": bool(mine),
        "confirmed": True in mine.values(),
        "rejected": False in mine.values(),
        "unlabelled": not mine,
    }[labels]
    expected = (
        wanted.accepts(rating)
        and said
        and (not duplicates or copies >= 2)
        and name.lower() in file.lower()
    )
    assert photo_filter.compile_filter(state, ctx)(photo) == expected
    assert state.active == (wanted.active or labels is not None or duplicates or bool(name))


states = st.builds(
    photo_filter.FilterState,
    chips=st.lists(chip, max_size=4, unique_by=lambda c: c[0]).map(tuple),
    min_score=st.floats(0.0, 1.0),
    date_from=st.one_of(st.none(), st.integers(0, 2_000_000_000).map(float)),
    date_to=st.one_of(st.none(), st.integers(0, 2_000_000_000).map(float)),
    kinds=st.lists(st.sampled_from((".jpg", ".png", ".tiff", ".heic")), unique=True).map(tuple),
    folder=st.one_of(st.none(), st.sampled_from(("/a", "/a b/c", "/ü/ß"))),
    rating=rating_filters,
    labels=st.sampled_from((None, *photo_filter.LABELS)),
    duplicates=st.booleans(),
    file_name=st.sampled_from(("", "IMG", "a b", "it's")),
)


@settings(max_examples=300, database=None)
@given(states)
def test_a_filter_is_a_value_its_json_and_its_words_give_it_back(state):
    """What smart views save (JSON, through a real json round trip) and what the command line
    reads (words) are the same filter again."""
    import json

    again = photo_filter.filter_from_json(
        json.loads(json.dumps(photo_filter.filter_to_json(state)))
    )
    assert again == state
    assert photo_filter.parse_filter(photo_filter.format_filter(state)) == state


def test_a_day_in_words_is_the_date_filter_of_the_more_filters_row():
    """from:/to: name days as the window's date boxes do: "to" includes its day."""
    from datetime import datetime

    state = photo_filter.parse_filter("from:2024-03-01 to:2024-03-02")
    assert state.date_from == datetime(2024, 3, 1).timestamp()
    assert state.date_to == datetime(2024, 3, 3).timestamp()
    assert photo_filter.format_filter(state) == "from:2024-03-01 to:2024-03-02"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("stars:9", "stars go from 0 to 5"),
        ("flag:maybe", "picked"),
        ("labels:mine", "confirmed"),
        ("hue:red", "names no criterion"),
        ("cat", "is not KEY:VALUE"),
        ("from:yesterday", "YYYY-MM-DD"),
        ("min-score:2", "between 0 and 1"),
        ("all:'a dog", "cannot be read"),
        ('{"chips": 3, "min_score": "high"}', "not a number"),
        ("[1]", "is not KEY:VALUE"),
    ],
)
def test_a_filter_that_is_not_one_is_said_plainly(text, says):
    from blipdesk.infra.errors import UserError

    with pytest.raises(UserError, match=says):
        photo_filter.parse_filter(text)


def test_words_and_json_name_the_same_filter():
    words = photo_filter.parse_filter(
        "all:beach any:'a dog' none:car stars:3 flag:picked labels:confirmed duplicates kind:JPEG "
        "name:IMG min-score:0.4"
    )
    as_json = photo_filter.parse_filter(
        '{"chips": [["beach", "and"], ["a dog", "or"], ["car", "not"]], "min_score": 0.4,'
        ' "rating": {"min_stars": 3, "flag": "picked"}, "labels": "confirmed",'
        ' "duplicates": true, "kinds": [".jpg"], "file_name": "IMG"}'
    )
    assert words == as_json
    assert words.rating == RatingFilter(3, "picked") and words.kinds == (".jpg",)
