"""The metadata filter (camera, lens, ISO, focal length, aperture, as Lightroom's columns), the
sorts by rating, flag and capture time, and what a folder offers them (issue 25 item 17): one
filter mechanism, so the window, smart views and the command line agree."""

from __future__ import annotations

import os
from datetime import datetime

import pytest
from PIL import Image

from blipdesk.core import exif
from blipdesk.core.exif import NO_FACTS, ShotFacts, shot_facts
from blipdesk.core.files import Photo
from blipdesk.domain import Rating
from blipdesk.services.photo_filter import (
    FilterContext,
    FilterState,
    SortState,
    compile_filter,
    filter_from_json,
    filter_to_json,
    folder_facts,
    format_filter,
    parse_filter,
    sort_function,
)


def shot(path, make="Canon", model="Canon EOS R5", lens="RF24-70mm F2.8", iso=200, focal=50.0,
         f_number=2.8, when="2024:07:14 19:42:08"):  # fmt: skip
    e = Image.Exif()
    e[exif.MAKE], e[exif.MODEL] = make, model
    sub = e.get_ifd(exif.EXIF_IFD)
    sub[exif.ISO], sub[exif.FOCAL_LENGTH], sub[exif.F_NUMBER] = iso, focal, f_number
    sub[exif.LENS_MODEL] = lens
    sub[exif.DATETIME_ORIGINAL] = when
    Image.new("RGB", (32, 24), (90, 120, 200)).save(path, exif=e)
    return str(path)


def test_shot_facts_are_values_to_the_second(tmp_path):
    path = shot(tmp_path / "a.jpg", iso=6400, focal=23.0, f_number=1.4, when="2023:01:02 03:04:05")
    facts = shot_facts(path)
    assert facts == ShotFacts(
        "Canon EOS R5", "RF24-70mm F2.8", 6400, 23.0, 1.4, datetime(2023, 1, 2, 3, 4, 5).timestamp()
    )
    (tmp_path / "b.jpg").write_bytes(b"not a photo")
    assert shot_facts(str(tmp_path / "b.jpg")) == NO_FACTS
    Image.new("RGB", (8, 8)).save(tmp_path / "c.png")
    assert shot_facts(str(tmp_path / "c.png")) == NO_FACTS


FACTS = {
    "/p/a.jpg": ShotFacts("Canon EOS R5", "RF 50", 100, 50.0, 1.8, 1.7e9),
    "/p/b.jpg": ShotFacts("Canon EOS R5", "RF 24-70", 400, 35.0, 2.8, 1.7e9 + 1),
    "/p/c.jpg": ShotFacts("X-T5", "XF23", 400, 23.0, 1.4, 1.7e9 + 2),
    "/p/d.jpg": NO_FACTS,
}
PHOTOS = [Photo(p, os.path.basename(p), 1, 1.6e9, FACTS[p].taken) for p in FACTS]


def _kept(state: FilterState) -> list[str]:
    ctx = FilterContext({}, lambda _p, _t: None, facts=lambda p: FACTS.get(p, NO_FACTS))
    keep = compile_filter(state, ctx)
    return [p.name for p in PHOTOS if keep(p)]


@pytest.mark.parametrize(
    ("words", "want"),
    [
        ("camera:'Canon EOS R5'", ["a.jpg", "b.jpg"]),
        ("camera:X-T5 camera:'Canon EOS R5'", ["a.jpg", "b.jpg", "c.jpg"]),  # any of a column
        ("iso:400", ["b.jpg", "c.jpg"]),
        ("iso:400 camera:X-T5", ["c.jpg"]),  # the columns are ANDed
        ("lens:'RF 50'", ["a.jpg"]),
        ("focal:35mm", ["b.jpg"]),
        ("aperture:f/1.4", ["c.jpg"]),
        ("aperture:1.8 iso:100", ["a.jpg"]),
        ("iso:800", []),
        ("", ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]),
    ],
)
def test_the_metadata_columns_filter_through_the_one_filter(words, want):
    state = parse_filter(words)
    assert _kept(state) == want
    # Its words and its saved form are the same filter.
    assert parse_filter(format_filter(state)) == state
    assert filter_from_json(filter_to_json(state)) == state
    assert state.active == bool(words)


def test_odd_saved_values_are_left_out():
    state = filter_from_json(
        {"cameras": ["A", 3, ""], "isos": [200, "x", -1, True], "apertures": [2.8, float("nan")]}
    )
    assert (state.cameras, state.isos, state.apertures) == (("A",), (200,), (2.8,))


@pytest.mark.parametrize("bad", ["iso:abc", "iso:1.5", "focal:-3", "aperture:0"])
def test_a_wrong_metadata_word_is_refused(bad):
    from blipdesk.infra.errors import UserError

    with pytest.raises(UserError):
        parse_filter(bad)


def test_sort_by_rating_flag_and_capture_time():
    ratings = {"/p/a.jpg": Rating(3, 0), "/p/b.jpg": Rating(5, -1), "/p/c.jpg": Rating(1, 1)}

    def order(key: str, descending: bool = False) -> list[str]:
        by, reverse = sort_function(
            SortState(key, None, descending), FilterState(), {}, lambda *_: None, ratings.get
        )
        return [p.name for p in sorted(PHOTOS, key=by, reverse=reverse)]

    assert order("rating") == ["b.jpg", "a.jpg", "c.jpg", "d.jpg"]
    assert order("rating", True) == ["d.jpg", "c.jpg", "a.jpg", "b.jpg"]
    assert order("flag") == ["c.jpg", "a.jpg", "d.jpg", "b.jpg"]  # picked, none, none, rejected
    # Capture time to the second (a second apart), the file's time when the photo does not say.
    assert order("date") == ["d.jpg", "a.jpg", "b.jpg", "c.jpg"]


def test_what_a_folder_offers_the_columns_and_the_date_tree():
    found = folder_facts(PHOTOS, lambda p: FACTS.get(p, NO_FACTS))
    assert found.columns["cameras"] == {"Canon EOS R5": 2, "X-T5": 1}
    assert found.columns["isos"] == {100: 1, 400: 2}
    assert found.columns["apertures"] == {1.8: 1, 2.8: 1, 1.4: 1}
    taken = datetime.fromtimestamp(1.7e9).date()
    assert found.days[taken] == 3
    assert found.days[datetime.fromtimestamp(1.6e9).date()] == 1  # d.jpg: its file's day
    assert sum(found.days.values()) == len(PHOTOS)


def test_the_command_line_filters_by_camera(tmp_path):
    """``--filter camera:…`` reads the same facts (the library's photos under a folder)."""
    from blipdesk.services.library_filter import matching_paths
    from blipdesk.store import Library

    folder = tmp_path / "photos"
    folder.mkdir()
    a = shot(folder / "a.jpg", model="Canon EOS R5", iso=200)
    b = shot(folder / "b.jpg", make="FUJIFILM", model="X-T5", iso=800)
    from blipdesk.domain import PhotoRecord

    with Library.open(tmp_path / "db.sqlite") as library:
        library.record_photos(
            [PhotoRecord(p, os.stat(p).st_size, os.stat(p).st_mtime_ns, p) for p in (a, b)]
        )
        assert matching_paths(
            library, "k", [folder], False, parse_filter("camera:'FUJIFILM X-T5'")
        ) == {b}
        assert matching_paths(library, "k", [folder], False, parse_filter("iso:200")) == {a}
        day = parse_filter("from:2024-07-14 to:2024-07-14 camera:'Canon EOS R5'")
        assert matching_paths(library, "k", [folder], False, day) == {a}
