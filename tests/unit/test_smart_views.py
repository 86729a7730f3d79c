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


def test_odd_entries_are_cleaned_not_fatal(tmp_path):
    path = tmp_path / "smart-views.json"
    path.write_text(
        '[{"name": "x", "chips": [["a", "maybe"], ["b", "and"]], "min_score": 7,'
        ' "sort": {"key": "colour"}, "kinds": [1, ".png"]}]'
    )
    (view,) = SmartViews(path).load()
    assert view.filter.chips == (("b", "and"),)
    assert view.filter.min_score == 1.0
    assert view.filter.kinds == (".png",)
    assert view.sort == SortState("name")


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


def test_hostile_values_are_cleaned(tmp_path):
    path = tmp_path / "smart-views.json"
    path.write_text(
        json.dumps(
            [
                {
                    "name": "odd",
                    "date_from": 1e300,
                    "rating": {"min_stars": 99, "flag": "maybe"},
                    "labels": "everything",
                    "duplicates": "yes",
                    "file_name": "x" * 10_000,
                }
            ]
        )
    )
    (view,) = SmartViews(path).load()
    f = view.filter
    assert f.date_from is None and f.rating == RatingFilter(5, None)
    assert f.labels is None and f.duplicates is False and len(f.file_name) == 200


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
