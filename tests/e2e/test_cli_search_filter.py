"""``search --filter`` is the window's one filter (services/photo_filter.py): the
same words, the same saved views, read over the library (services/library_filter.py)."""

from __future__ import annotations

import json
import os

import pytest

from blipdesk.core.inventory import content_hash
from blipdesk.domain import Rating
from blipdesk.store import Library
from tests.e2e.test_cli import blipdesk
from tests.helpers.models import scene


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(4):
        scene(96, 64, i).save(folder / f"p{i}.jpg", quality=90)
    return folder


def test_search_ranks_only_what_the_filter_keeps(tmp_path, photos, tiny_model_dir):
    data = tmp_path / "data"
    assert blipdesk(data, "scan", photos, "--model", tiny_model_dir).returncode == 0
    files = sorted(str(p) for p in photos.iterdir() if p.suffix == ".jpg")
    starred = files[:2]
    with Library.open(data / "library.sqlite3") as lib:
        ratings = {content_hash(p, os.path.getsize(p)): Rating(4, 0) for p in starred}
        lib.set_ratings(ratings, 1.0)
    args = ("a dog on a beach", photos, "--model", tiny_model_dir, "--device", "cpu", "--json")
    out = blipdesk(data, "search", *args, "--filter", "stars:3")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert sorted(r["path"] for r in doc["results"]) == starred
    assert doc["unscanned"] == 0 and "not scanned" not in out.stderr  # left out, not unscanned
    bad = blipdesk(data, "search", *args, "--filter", "stars:9")
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert "stars:9" in bad.stderr
