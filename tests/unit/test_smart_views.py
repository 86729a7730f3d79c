"""Smart views on disk: a round trip keeps every criterion (the rating, labels and duplicates
included); files written before those existed still load; a damaged file is set aside and
reported, never lost silently; bad entries never crash the window. The command line's
``--filter`` reads a saved view by name."""

from __future__ import annotations

import json

import pytest

from blipdesk.infra.errors import UserError
from blipdesk.services.photo_filter import FilterState, SortState, filter_to_json
from blipdesk.services.ratings import RatingFilter
from blipdesk.services.smart_views import SmartView, SmartViews, filter_option, to_json


def test_round_trip_keeps_every_criterion(tmp_path):
    view = SmartView(
        "Beach, newest",
        FilterState(
            chips=(("beach", "and"), ("dog", "or"), ("car", "not")), min_score=0.4,
            date_from=1.0e9, date_to=1.1e9, kinds=(".jpg",), folder="/p/Beach",
            rating=RatingFilter(3, "picked"), labels="confirmed", duplicates=True,
            file_name="IMG",
        ),
        SortState("date", None, True),
    )  # fmt: skip
    store = SmartViews(tmp_path / "smart-views.json")
    store.save(store.with_view(view))
    again = SmartViews(tmp_path / "smart-views.json")
    assert again.load() == [view]
    assert again.problem is None
    assert again.without("Beach, newest") == []


def test_a_damaged_file_is_set_aside_and_said(tmp_path):
    path = tmp_path / "smart-views.json"
    path.write_text("[{not json")
    store = SmartViews(path)
    assert store.load() == []
    assert store.problem is not None and "smart-views.json.bad" in store.problem
    assert (tmp_path / "smart-views.json.bad").read_text() == "[{not json"


# What blipdesk wrote before ratings, labels and duplicates were criteria of the one filter.
OLD_FILE = """[
 {
  "name": "Beach, newest",
  "chips": [["beach", "and"], ["car", "not"]],
  "min_score": 0.4,
  "date_from": null,
  "date_to": 1100000000.0,
  "kinds": [".jpg"],
  "folder": "/p/Beach",
  "extra": [],
  "sort": {"key": "date", "tag": null, "descending": true}
 }
]"""


def test_a_file_from_before_these_criteria_still_loads(tmp_path):
    path = tmp_path / "smart-views.json"
    path.write_text(OLD_FILE)
    store = SmartViews(path)
    (view,) = store.load()
    assert store.problem is None
    assert view == SmartView(
        "Beach, newest",
        FilterState(
            chips=(("beach", "and"), ("car", "not")), min_score=0.4, date_to=1.1e9,
            kinds=(".jpg",), folder="/p/Beach",
        ),
        SortState("date", None, True),
    )  # fmt: skip
    assert not view.filter.rating.active and view.filter.labels is None
    store.save(store.views)  # written again in today's form, read back the same
    assert SmartViews(path).load() == [view]


def test_a_views_own_keys_never_meet_the_filters():
    """A view is one flat object: the filter's keys beside "name" and "sort"."""
    assert not {"name", "sort"} & set(filter_to_json(FilterState()))
    view = SmartView("v", FilterState(file_name="x"), SortState())
    assert to_json(view)["name"] == "v" and to_json(view)["file_name"] == "x"


def test_the_command_lines_filter_reads_a_saved_view_and_adds_to_it(tmp_path):
    path = tmp_path / "smart-views.json"
    saved = FilterState(chips=(("beach", "and"),), rating=RatingFilter(3), duplicates=True)
    SmartViews(path).save([SmartView("Best beaches", saved, SortState())])
    assert filter_option("view:'Best beaches'", path) == saved
    more = filter_option("'view:Best beaches' labels:confirmed none:car", path)
    assert more.chips == (("beach", "and"), ("car", "not"))
    assert more.labels == "confirmed" and more.rating == RatingFilter(3)
    assert filter_option("stars:2", path) == FilterState(rating=RatingFilter(2))
    with pytest.raises(UserError, match=r"no smart view called 'Worst'.*Best beaches"):
        filter_option("view:Worst", path)


def test_the_command_line_never_sets_the_windows_file_aside(tmp_path):
    path = tmp_path / "smart-views.json"
    path.write_text("[{not json")
    with pytest.raises(UserError, match="could not be read"):
        filter_option("view:x", path)
    assert path.read_text() == "[{not json"  # the window's to set aside, and say so


# Issue 24 items 3 and 15: a view is checked whole; a damaged file is set aside whole, each time
# beside the earlier copies; nothing in it stops the window.
GOOD = {"name": "ok", "chips": [["a", "and"]], "sort": {"key": "date", "descending": True}}
DAMAGED = [
    {"name": "x", "sort": {"key": ["date"]}},  # a list as the sort key
    {"name": "x", "sort": {"key": {"a": 1}}},  # a dict as the sort key
    {"name": "x", "sort": {"key": "date", "descending": "false"}},  # a string is not false
    {"name": "x", "sort": {"key": "colour"}},
    {"name": "x", "sort": {"key": "score", "tag": 3}},
    {"name": "x", "sort": []},
    {"name": "x", "chips": 5},  # a number where a list belongs
    {"name": "x", "chips": [["a", "maybe"]]},
    {"name": "x", "kinds": 7},
    {"name": "x", "kinds": [1]},
    {"name": "x", "min_score": 7},
    {"name": "x", "min_score": 10**400},  # a 400-digit integer
    {"name": "x", "min_score": "0.5"},
    {"name": "x", "date_from": 10**400},
    {"name": "x", "date_to": "yesterday"},
    {"name": "x", "rating": {"min_stars": 10**400}},
    {"name": "x", "rating": {"min_stars": True}},
    {"name": "x", "rating": {"flag": ["picked"]}},
    {"name": "x", "rating": 3},
    {"name": "x", "labels": "everything"},
    {"name": "x", "labels": ["confirmed"]},
    {"name": "x", "duplicates": "yes"},
    {"name": "x", "file_name": "x" * 10_000},
    {"name": "x", "folder": 1},
    {"name": ""},
    {"name": ["x"]},
    {"chips": []},
    "a view",
    None,
]


@pytest.mark.parametrize("bad", DAMAGED, ids=[str(i) for i in range(len(DAMAGED))])
def test_a_view_of_the_wrong_type_sets_the_whole_file_aside(tmp_path, bad):
    path = tmp_path / "smart-views.json"
    text = json.dumps([GOOD, bad])
    path.write_text(text)
    store = SmartViews(path)
    assert store.load() == [] and store.problem is not None
    assert "smart-views.json.bad" in store.problem
    assert (tmp_path / "smart-views.json.bad").read_text() == text  # whole, as it was
    assert not path.exists()


@pytest.mark.parametrize(
    "text", ["[NaN]", '[{"name": "x", "min_score": Infinity}]', "{}", "7", "[" * 100_000, "\xff"]
)
def test_files_that_are_no_list_of_views_are_set_aside(tmp_path, text):
    path = tmp_path / "smart-views.json"
    path.write_bytes(text.encode("latin-1"))
    store = SmartViews(path)
    assert store.load() == [] and "smart-views.json.bad" in (store.problem or "")


def test_every_damaged_file_is_kept_beside_the_earlier_ones(tmp_path):
    path = tmp_path / "smart-views.json"
    for n in range(3):
        path.write_text(f"[{{not json {n}")
        store = SmartViews(path)
        assert store.load() == []
    assert (tmp_path / "smart-views.json.bad").read_text() == "[{not json 0"
    assert (tmp_path / "smart-views.json.2.bad").read_text() == "[{not json 1"
    assert (tmp_path / "smart-views.json.3.bad").read_text() == "[{not json 2"
    assert "smart-views.json.3.bad" in (store.problem or "")


def test_a_good_file_with_keys_of_a_newer_blipdesk_loads(tmp_path):
    path = tmp_path / "smart-views.json"
    path.write_text(json.dumps([{**GOOD, "colour": "red", "sort": {"key": "date", "new": 1}}]))
    (view,) = SmartViews(path).load()
    assert view.name == "ok" and view.sort == SortState("date")


def test_the_command_line_says_a_damaged_view_file_in_one_line(tmp_path):
    path = tmp_path / "smart-views.json"
    path.write_text(json.dumps([{"name": "v", "sort": {"key": ["x"]}}]))
    with pytest.raises(UserError, match="could not be read") as said:
        filter_option("view:v", path)
    assert "\n" not in str(said.value) and path.exists()  # the window's to set aside
