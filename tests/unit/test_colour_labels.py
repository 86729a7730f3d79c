"""Colour labels (issue 25, item 16): red, yellow, green, blue and purple, kept by content beside
the stars and flags, written to and read from sidecars as Lightroom (``xmp:Label``, its names)
and digiKam (``digiKam:ColorLabel``, its numbers) keep them, as exiftool reads them both ways,
and a criterion of the one filter (the grid, smart views and the CLI's words)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from PySide6.QtCore import QRect

from blipdesk.core.files import Photo
from blipdesk.domain import COLOURS, Rating
from blipdesk.qt.common.badges import layout_strip, strip_rect
from blipdesk.qt.common.label_marks import Mark
from blipdesk.services import sidecars
from blipdesk.services.photo_filter import (
    FilterContext,
    FilterState,
    compile_filter,
    filter_from_json,
    filter_to_json,
    format_filter,
    parse_filter,
)
from blipdesk.services.ratings import (
    RatingFilter,
    load_ratings,
    read_sidecar_ratings,
    save_ratings,
    stars_text,
    write_sidecar_ratings,
)
from blipdesk.store import Library
from tests.unit.test_sidecars import exiftool_read, needs_exiftool

LABEL_ARGS = ["-XMP-xmp:Label", "-XMP-digiKam:ColorLabel"]
LIGHTROOM = {"red": "Red", "yellow": "Yellow", "green": "Green", "blue": "Blue", "purple": "Purple"}
DIGIKAM = {"red": 1, "yellow": 3, "green": 4, "blue": 5, "purple": 6}


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    out = []
    for i, colour in enumerate(COLOURS):
        path = folder / f"p{i} {colour}.jpg"
        Image.new("RGB", (40 + i, 30), (40 * i, 20, 30)).save(path)
        out.append(str(path))
    return out


def test_colour_labels_are_kept_by_content_beside_stars_and_flags(tmp_path, photos):
    db = str(tmp_path / "library.sqlite3")
    wanted = {
        p: Rating(i % 6, (-1, 0, 1)[i % 3], c)
        for i, (p, c) in enumerate(zip(photos, COLOURS, strict=True))
    }
    assert save_ratings(db, wanted) == wanted
    assert load_ratings(db, photos) == wanted
    moved = os.path.join(os.path.dirname(photos[4]), "moved.jpg")
    os.rename(photos[4], moved)
    assert load_ratings(db, [moved]) == {moved: wanted[photos[4]]}
    save_ratings(db, {moved: Rating(colour="green")})  # a label alone is kept
    assert load_ratings(db, [moved]) == {moved: Rating(0, 0, "green")}
    save_ratings(db, {moved: Rating()})
    assert load_ratings(db, [moved]) == {}
    with pytest.raises(ValueError):
        Rating(colour="orange")
    assert stars_text(Rating(2, 1, "blue")).endswith("picked · blue label")


def test_a_library_from_before_colour_labels_keeps_its_ratings(tmp_path):
    """A cache at the schema before the colour column migrates; its ratings read with no label."""
    from blipdesk.store.schema import MIGRATIONS

    step = next(
        n for n, sql in MIGRATIONS.items() if any("ratings ADD COLUMN colour" in s for s in sql)
    )
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    for n in range(1, step):
        for statement in MIGRATIONS[n]:
            conn.execute(statement)
    conn.execute("INSERT INTO contents(id, hash) VALUES (1, 'abc')")
    conn.execute("INSERT INTO ratings(content_id, stars, flag, updated) VALUES (1, 3, 1, 0)")
    conn.execute(f"PRAGMA user_version={step - 1}")
    conn.commit()
    conn.close()
    with Library.open(path) as lib:
        assert lib.ratings(["abc"]) == {"abc": Rating(3, 1)}
        lib.set_ratings({"abc": Rating(3, 1, "purple")}, 1.0)
        assert lib.ratings(["abc"]) == {"abc": Rating(3, 1, "purple")}


@needs_exiftool
def test_colour_labels_written_are_what_exiftool_reads_as_lightroom_and_digikam(photos):
    wanted = {p: Rating(3, 0, c) for p, c in zip(photos, COLOURS, strict=True)}
    changed, errors = write_sidecar_ratings(wanted)
    assert (changed, errors) == (5, [])
    for photo, colour in zip(photos, COLOURS, strict=True):
        got = exiftool_read(sidecars.sidecar_path(photo), *LABEL_ARGS, "-XMP-xmp:Rating")
        assert (got["Label"], got["ColorLabel"], got["Rating"]) == (
            LIGHTROOM[colour],
            DIGIKAM[colour],
            3,
        )
    assert read_sidecar_ratings(photos) == (wanted, [])
    # Another colour replaces the label; none takes it away and leaves the stars.
    write_sidecar_ratings({photos[0]: Rating(3, 0, "blue")})
    got = exiftool_read(sidecars.sidecar_path(photos[0]), *LABEL_ARGS)
    assert (got["Label"], got["ColorLabel"]) == ("Blue", 5)
    write_sidecar_ratings({photos[0]: Rating(3, 0)})
    got = exiftool_read(sidecars.sidecar_path(photos[0]), *LABEL_ARGS, "-XMP-xmp:Rating")
    assert "Label" not in got and "ColorLabel" not in got and got["Rating"] == 3


@needs_exiftool
@pytest.mark.parametrize("colour", COLOURS)
@pytest.mark.parametrize("program", ["lightroom", "digikam"])
def test_colour_labels_another_program_wrote_are_read(photos, colour, program):
    photo = photos[1]
    side = sidecars.sidecar_path(photo)
    tag = (
        f"-XMP-xmp:Label={LIGHTROOM[colour]}"
        if program == "lightroom"
        else f"-XMP-digiKam:ColorLabel={DIGIKAM[colour]}"
    )
    subprocess.run(
        [shutil.which("exiftool"), "-q", "-o", str(side), tag, "-XMP-dc:Title=Beach", photo],
        check=True,
    )
    assert read_sidecar_ratings([photo]) == ({photo: Rating(0, 0, colour)}, [])
    assert write_sidecar_ratings({photo: Rating(0, 0, colour)}) == (1, [])  # the other's too
    before = side.read_bytes()
    assert write_sidecar_ratings({photo: Rating(0, 0, colour)}) == (0, [])  # nothing to change
    assert side.read_bytes() == before
    write_sidecar_ratings({photo: Rating(2, 0, colour)})
    got = exiftool_read(side, *LABEL_ARGS, "-XMP-dc:Title")
    assert (got["Label"], got["ColorLabel"], got["Title"]) == (
        LIGHTROOM[colour],
        DIGIKAM[colour],
        "Beach",
    )


@needs_exiftool
def test_a_label_blipdesk_does_not_know_is_kept_unless_a_colour_replaces_it(photos):
    photo = photos[2]
    side = sidecars.sidecar_path(photo)
    subprocess.run(
        [shutil.which("exiftool"), "-q", "-o", str(side), "-XMP-xmp:Label=To Print",
         "-XMP-digiKam:ColorLabel=2", photo],
        check=True,
    )  # fmt: skip
    assert read_sidecar_ratings([photo]) == ({}, [])  # a custom label, digiKam's orange: none
    write_sidecar_ratings({photo: Rating(4, 0)})
    got = exiftool_read(side, *LABEL_ARGS, "-XMP-xmp:Rating")
    assert (got["Label"], got["ColorLabel"], got["Rating"]) == ("To Print", 2, 4)
    write_sidecar_ratings({photo: Rating(4, 0, "yellow")})
    got = exiftool_read(side, *LABEL_ARGS)
    assert (got["Label"], got["ColorLabel"]) == ("Yellow", 3)


def _photo(path: str) -> Photo:
    return Photo(path, os.path.basename(path), 0, 0.0)


@settings(max_examples=200, deadline=None)
@given(
    colours=st.lists(st.sampled_from((*COLOURS, "none")), max_size=3, unique=True),
    labels=st.lists(st.sampled_from(("", *COLOURS)), min_size=1, max_size=8),
)
def test_the_colour_criterion_in_words_json_and_the_rule(colours, labels):
    state = FilterState(rating=RatingFilter(colours=tuple(colours)))
    assert parse_filter(format_filter(state)) == state
    assert filter_from_json(filter_to_json(state)) == state
    book = {f"/p/{i}.jpg": Rating(colour=c) for i, c in enumerate(labels)}
    keep = compile_filter(state, FilterContext({}, lambda _p, _t: None, rating=book.get))
    kept = [p for p, r in book.items() if keep(_photo(p))]
    expected = [p for p, r in book.items() if not colours or (r.colour or "none") in colours]
    assert kept == expected


def test_colour_words_on_the_command_line():
    state = parse_filter("stars:2 colour:red color:Purple flag:picked")
    assert state.rating == RatingFilter(2, "picked", ("red", "purple"))
    assert "red or purple label" in state.rating.describe()
    with pytest.raises(Exception, match="one of red, yellow"):
        parse_filter("colour:orange")


@settings(max_examples=300, deadline=None)
@given(
    thumb=st.sampled_from(range(96, 321, 8)),
    dots=st.integers(0, 10),
    labels=st.integers(0, 6),
    files=st.sampled_from([[], ["RAW"], ["12×", "RAW"]]),
    stars=st.integers(0, 5),
    flag=st.sampled_from([-1, 0, 1]),
    colour=st.sampled_from(COLOURS),
)
def test_the_colour_swatch_is_always_shown_and_covers_nothing(
    thumb, dots, labels, files, stars, flag, colour
):
    box = QRect(8, 8, thumb, thumb * 3 // 4)
    strip = strip_rect(box)
    marks = [Mark(f"t{i}", "#2e9e44", True, None) for i in range(dots)]
    marks += [Mark(f"l{i}", "#3366cc", False, True) for i in range(labels)]
    placed = layout_strip(strip, marks, files, stars, flag, 11, colour)
    swatches = [p for p in placed if p.kind == "colour"]
    if len(files) < 2 or thumb >= 128:  # else, on the smallest, room may run out: left out
        assert len(swatches) == 1 and swatches[0].text == colour
    for p in placed:
        assert strip.contains(p.rect, False) or p.rect.isEmpty()
        assert not p.rect.intersects(box)
    for i, a in enumerate(placed):
        for b in placed[i + 1 :]:
            assert not a.rect.intersects(b.rect), (a, b)


def test_a_lightroom_attribute_label_is_edited_in_place_byte_for_byte(photos):
    """Lightroom writes its properties as attributes of the description: the label is changed
    where it stands, and nothing else in the file moves."""
    photo = photos[3]
    side = sidecars.sidecar_path(photo, sidecars.SidecarNaming.REPLACE)
    head = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
        'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:digiKam="http://www.digikam.org/ns/1.0/" '
        'xmp:Rating="2" '
    )
    tail = "/></rdf:RDF></x:xmpmeta>\n"
    side.write_text(head + 'xmp:Label="Purple" digiKam:ColorLabel="6"' + tail)
    assert read_sidecar_ratings([photo])[0] == {photo: Rating(2, 0, "purple")}
    write_sidecar_ratings({photo: Rating(2, 0, "green")})
    assert side.read_text() == head + 'xmp:Label="Green" digiKam:ColorLabel="4"' + tail
    write_sidecar_ratings({photo: Rating(2, 0)})
    assert side.read_text() == head.rstrip() + tail
