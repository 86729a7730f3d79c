"""The window and smart-views.json (issue 24 items 3 and 15): a file with a value of the wrong
type never stops the window; it is set aside whole and said."""

from __future__ import annotations

import json

import pytest


@pytest.mark.parametrize(
    "view",
    [
        {"name": "v", "sort": {"key": ["date"]}},
        {"name": "v", "sort": {"key": {"date": 1}}},
        {"name": "v", "chips": 5},
        {"name": "v", "min_score": 10**400},
        {"name": "v", "sort": {"key": "name", "descending": "false"}},
    ],
    ids=["list-key", "dict-key", "number-chips", "huge-int", "string-bool"],
)
def test_the_window_starts_with_a_views_file_of_wrong_types_and_says_so(
    make_window, app_paths, view
):
    """Issue 24 item 15: a traceback and SIGABRT at every start before; now the file is set
    aside whole, the window opens with no views and the status bar says where the file went."""
    path = app_paths.data_dir / "smart-views.json"
    text = json.dumps([view])
    path.write_text(text)
    window = make_window()
    assert window.sidebar.views.count() == 0
    assert "smart-views.json.bad" in window.statusBar().currentMessage()
    assert (app_paths.data_dir / "smart-views.json.bad").read_text() == text
