"""Smart views on disk: a round trip keeps every criterion; a damaged file is set aside and
reported, never lost silently; bad entries never crash the window."""

from __future__ import annotations

from blipdesk.services.photo_filter import FilterState, SortState
from blipdesk.services.smart_views import SmartView, SmartViews


def test_round_trip_keeps_every_criterion(tmp_path):
    view = SmartView(
        "Beach, newest",
        FilterState(
            chips=(("beach", "and"), ("dog", "or"), ("car", "not")), min_score=0.4,
            date_from=1.0e9, date_to=1.1e9, kinds=(".jpg",), folder="/p/Beach",
            extra=(("min_rating", 3),),
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
