"""``export --filter``: the window's one filter on the command line (words, a saved smart view
``view:NAME`` and more words on top), read from the cache as the window reads it."""

from __future__ import annotations

import json

import pytest

from blipdesk.domain import Rating
from blipdesk.services.photo_filter import SortState, parse_filter
from blipdesk.services.smart_views import FILE_NAME, SmartView, to_json
from blipdesk.store import Library
from tests.e2e.test_cli import blipdesk
from tests.helpers.models import scene

STARS = {"p0.png": 4, "p1.png": 3, "p2.png": 1}  # p3 unrated
CONFIRMED = ("p0.png", "p2.png")


@pytest.fixture(scope="module")
def rated(tmp_path_factory, tiny_model_dir):
    root = tmp_path_factory.mktemp("filtered")
    photos, data = root / "photos", root / "data"
    photos.mkdir()
    for i in range(4):
        scene(64, 48, i).save(photos / f"p{i}.png")
    assert blipdesk(data, "tags", "add", "dog", "a dog").returncode == 0
    got = blipdesk(data, "scan", photos, "--model", tiny_model_dir, "--device", "cpu")
    assert got.returncode == 0, got.stderr
    got = blipdesk(data, "label", "dog", "yes", *(photos / n for n in CONFIRMED))
    assert got.returncode == 0, got.stderr
    with Library.open(data / "library.sqlite3") as library:
        content = {r.path: r.content for r in library.photos_under([photos])}
        library.set_ratings(
            {content[str(photos / n)]: Rating(stars) for n, stars in STARS.items()}, 0.0
        )
    view = SmartView("keepers", parse_filter("stars:3"), SortState())
    (data / FILE_NAME).write_text(json.dumps([to_json(view)]), encoding="utf-8")
    return data, photos, tiny_model_dir


def _exported(rated, *words: str) -> list[str]:
    data, photos, model = rated
    got = blipdesk(data, "export", photos, "--model", model, *words)
    assert got.returncode == 0, got.stderr
    assert "not scanned yet" not in got.stderr  # a photo filtered out is not an unscanned one
    return sorted(p["path"].rsplit("/", 1)[1] for p in json.loads(got.stdout)["photos"])


def test_export_filter_words_keep_what_the_window_keeps(rated):
    assert _exported(rated) == ["p0.png", "p1.png", "p2.png", "p3.png"]
    assert _exported(rated, "--filter", "stars:3") == ["p0.png", "p1.png"]
    assert _exported(rated, "--filter", "labels:confirmed") == ["p0.png", "p2.png"]
    assert _exported(rated, "--filter", "stars:3 labels:confirmed") == ["p0.png"]
    assert _exported(rated, "--filter", "labels:unlabelled") == ["p1.png", "p3.png"]


def test_export_filter_starts_from_a_saved_view(rated):
    assert _exported(rated, "--filter", "view:keepers") == ["p0.png", "p1.png"]
    assert _exported(rated, "--filter", "view:keepers labels:confirmed") == ["p0.png"]


@pytest.mark.parametrize(
    ("words", "said"),
    [
        ("stars:9", "'stars:9'"),
        ("bogus", "'bogus'"),
        ("colour:magenta", "'colour:magenta'"),  # colour:red is a colour label
        ("labels:maybe", "'labels:maybe'"),
        ("view:nothing", "'nothing'"),
        ("all:'unclosed", "cannot be read"),
    ],
)
def test_a_bad_filter_is_one_line_and_exit_1(rated, words, said):
    data, photos, model = rated
    got = blipdesk(data, "export", photos, "--model", model, "--filter", words)
    assert got.returncode == 1, got.stderr
    lines = got.stderr.strip().splitlines()
    assert len(lines) == 1 and said in lines[0] and "Traceback" not in got.stderr, got.stderr
    assert got.stdout == ""
