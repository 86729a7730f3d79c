"""Ratings and flags: kept by content in the library, read from and written to XMP sidecars as
exiftool (the reference reader) sees them, merged with the tags, and the filter rule. Also the one
EXIF reader behind the information panel."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import datetime

import pytest
from PIL import Image

from blipdesk.core import exif
from blipdesk.core.files import exif_taken
from blipdesk.domain import Rating
from blipdesk.services import sidecars
from blipdesk.services.ratings import (
    RatingFilter,
    load_ratings,
    read_sidecar_ratings,
    save_ratings,
    stars_text,
    write_sidecar_ratings,
)
from blipdesk.store import Library
from tests.unit.test_sidecars import exiftool_read, keywords, needs_exiftool

RATING_ARGS = ["-XMP-xmp:Rating", "-XMP-digiKam:PickLabel", "-XMP-xmpDM:Pick", "-XMP-xmpDM:Good"]


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    out = []
    for i in range(3):
        path = folder / f"p{i}.jpg"
        Image.new("RGB", (40 + i, 30), (10 * i, 20, 30)).save(path)
        out.append(str(path))
    return out


def test_ratings_are_kept_by_content_a_moved_photo_keeps_its_rating(tmp_path, photos):
    db = str(tmp_path / "library.sqlite3")
    Library.open(db).close()
    saved = save_ratings(db, {photos[0]: Rating(4, 1), photos[1]: Rating(0, -1)})
    assert saved == {photos[0]: Rating(4, 1), photos[1]: Rating(0, -1)}
    assert load_ratings(db, photos) == {photos[0]: Rating(4, 1), photos[1]: Rating(0, -1)}
    moved = os.path.join(os.path.dirname(photos[0]), "renamed.jpg")
    os.rename(photos[0], moved)
    assert load_ratings(db, [moved]) == {moved: Rating(4, 1)}
    save_ratings(db, {moved: Rating()})  # 0 stars, no flag: forgotten
    assert load_ratings(db, [moved]) == {}
    with pytest.raises(ValueError):
        Rating(6, 0)


def test_the_ratings_table_is_one_migration_step(tmp_path):
    from blipdesk.store.schema import MIGRATIONS, SCHEMA_VERSION

    steps = [n for n, sql in MIGRATIONS.items() if any("CREATE TABLE ratings" in s for s in sql)]
    # one step, whatever its number (steps merged after it, like issue 13's labels, may follow)
    assert len(steps) == 1 and steps[0] <= SCHEMA_VERSION
    with Library.open(tmp_path / "l.sqlite3") as lib:
        lib.set_ratings({"abc": Rating(3, 0)}, 0.0)
        assert lib.ratings(["abc", "nope"]) == {"abc": Rating(3, 0)}


@needs_exiftool
def test_ratings_written_to_xmp_are_what_exiftool_reads(photos):
    changed, errors = write_sidecar_ratings(
        {photos[0]: Rating(4, 0), photos[1]: Rating(2, -1), photos[2]: Rating(5, 1)}
    )
    assert (changed, errors) == (3, [])
    read = [exiftool_read(sidecars.sidecar_path(p), *RATING_ARGS) for p in photos]
    assert read[0] == {"SourceFile": str(sidecars.sidecar_path(photos[0])), "Rating": 4}
    # Rejected: Rating -1 (Bridge, darktable), Pick/Good (Lightroom Classic), PickLabel (digiKam).
    assert (read[1]["Rating"], read[1]["Pick"], read[1]["Good"], read[1]["PickLabel"]) == (
        -1, -1, False, 1
    )  # fmt: skip
    assert (read[2]["Rating"], read[2]["Pick"], read[2]["Good"], read[2]["PickLabel"]) == (
        5, 1, True, 3
    )  # fmt: skip
    # And back: blipdesk reads what it wrote.
    found, errors = read_sidecar_ratings(photos)
    assert errors == [] and found == {
        photos[0]: Rating(4, 0),
        photos[1]: Rating(0, -1),
        photos[2]: Rating(5, 1),
    }


@needs_exiftool
def test_ratings_from_another_programs_sidecar_are_read_and_merged_with_tags(photos):
    photo = photos[0]
    side = sidecars.sidecar_path(photo)
    # As digiKam or Lightroom would leave it: a rating, a pick label, a keyword, a title.
    subprocess.run(
        [shutil.which("exiftool"), "-q", "-o", str(side), "-XMP-xmp:Rating=3",
         "-XMP-digiKam:PickLabel=3", "-XMP-dc:Subject=holiday", "-XMP-dc:Title=Beach", photo],
        check=True,
    )  # fmt: skip
    assert read_sidecar_ratings([photo]) == ({photo: Rating(3, 1)}, [])
    sidecars.write_tags(photo, ["dog"])  # blipdesk's tags: the rating stays
    assert read_sidecar_ratings([photo])[0] == {photo: Rating(3, 1)}
    write_sidecar_ratings({photo: Rating(1, -1)})
    got = exiftool_read(side, *RATING_ARGS, "-XMP-dc:Title")
    assert (got["Rating"], got["PickLabel"], got["Pick"], got["Title"]) == (-1, 1, -1, "Beach")
    assert keywords(side)[0] == ["holiday", "dog"]  # the keywords are untouched
    write_sidecar_ratings({photo: Rating()})  # no rating: the properties go, the rest stays
    got = exiftool_read(side, *RATING_ARGS, "-XMP-dc:Title")
    assert not {"Rating", "PickLabel", "Pick", "Good"} & set(got) and got["Title"] == "Beach"


def test_a_rating_only_sidecar_blipdesk_made_goes_when_the_rating_does(photos):
    photo = photos[0]
    write_sidecar_ratings({photo: Rating(3, 0)})
    assert sidecars.sidecar_path(photo).is_file()
    write_sidecar_ratings({photo: Rating()})
    assert not sidecars.sidecar_path(photo).exists()
    assert write_sidecar_ratings({photo: Rating()}) == (0, [])  # nothing to do, nothing made


def test_a_lightroom_named_sidecar_is_read_and_written_in_place(photos):
    photo = photos[1]
    lr = sidecars.sidecar_path(photo, sidecars.SidecarNaming.REPLACE)
    lr.write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
        'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="2"/></rdf:RDF></x:xmpmeta>'
    )
    assert read_sidecar_ratings([photo])[0] == {photo: Rating(2, 0)}
    write_sidecar_ratings({photo: Rating(5, 0)})
    assert 'xmp:Rating="5"' in lr.read_text()  # the attribute form, edited in place
    assert not sidecars.sidecar_path(photo).exists()


@needs_exiftool
def test_a_lightroom_flag_is_read(photos):
    """Lightroom Classic (13.2 and later) writes its flag as xmpDM:pick and xmpDM:good."""
    exiftool = shutil.which("exiftool")
    for photo, pick, good in ((photos[0], 1, "True"), (photos[1], -1, "False")):
        side = sidecars.sidecar_path(photo, sidecars.SidecarNaming.REPLACE)
        subprocess.run(
            [exiftool, "-q", "-o", str(side), "-XMP-xmp:Rating=2", f"-XMP-xmpDM:Pick={pick}",
             f"-XMP-xmpDM:Good={good}", photo],
            check=True,
        )  # fmt: skip
    side = sidecars.sidecar_path(photos[2])
    subprocess.run(
        [exiftool, "-q", "-o", str(side), "-XMP-xmpDM:Good=False", photos[2]], check=True
    )
    found, errors = read_sidecar_ratings(photos)
    assert errors == [] and found == {
        photos[0]: Rating(2, 1),
        photos[1]: Rating(2, -1),
        photos[2]: Rating(0, -1),
    }


def test_a_bad_sidecar_is_one_error_not_a_stop(photos):
    sidecars.sidecar_path(photos[0]).write_text("<not xml")
    write_sidecar_ratings({photos[1]: Rating(1, 0)})
    found, errors = read_sidecar_ratings(photos)
    assert found == {photos[1]: Rating(1, 0)}
    assert len(errors) == 1 and "p0.jpg" in errors[0]


def _rated(rating: str) -> str:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-'
        'rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
        f'xmp:Rating="{rating}"/></rdf:RDF></x:xmpmeta>'
    )


def test_an_infinite_rating_never_stops_the_folder(photos):
    """``inf`` and ``1e400`` are no number of stars: that sidecar has no rating, and the others
    are read (they used to raise OverflowError out of the whole read)."""
    sidecars.sidecar_path(photos[0]).write_text(_rated("inf"))
    sidecars.sidecar_path(photos[1]).write_text(_rated("1e400"))
    sidecars.sidecar_path(photos[2]).write_text(_rated("4"))
    found, errors = read_sidecar_ratings(photos)
    assert found == {photos[2]: Rating(4, 0)} and errors == []


@pytest.mark.parametrize(
    "text, stars", [("2.5", 3), ("3.5", 4), ("0.5", 1), ("2.49", 2), (" 4.0 ", 4), ("7", 5)]
)
def test_a_fractional_rating_rounds_half_up(photos, text, stars):
    sidecars.sidecar_path(photos[0]).write_text(_rated(text))
    assert read_sidecar_ratings(photos[:1]) == ({photos[0]: Rating(stars, 0)}, [])


def test_each_bad_sidecar_is_named_once(photos):
    sidecars.sidecar_path(photos[0]).write_text("<not xml")
    sidecars.sidecar_path(photos[1]).write_text(
        _rated("1").replace("/></rdf:RDF>", "><xmp:Rating><rdf:Alt/></xmp:Rating>"
                            "</rdf:Description></rdf:RDF>")
    )  # fmt: skip
    _found, errors = read_sidecar_ratings(photos)
    assert len(errors) == 2
    for error, photo in zip(errors, photos, strict=False):
        assert error.count(os.path.basename(photo)) == 1, error
    assert "not a readable XMP file" in errors[0] and "cannot edit" in errors[1]


def test_the_rating_filter_rule():
    assert not RatingFilter().active and RatingFilter().accepts(None)
    three = RatingFilter(3)
    assert three.accepts(Rating(3, 0)) and three.accepts(Rating(5, -1))
    assert not three.accepts(Rating(2, 1)) and not three.accepts(None)
    picked = RatingFilter(flag="picked")
    assert picked.accepts(Rating(0, 1)) and not picked.accepts(Rating(5, 0))
    assert RatingFilter(flag="unflagged").accepts(None)
    assert not RatingFilter(flag="unflagged").accepts(Rating(0, -1))
    assert RatingFilter(2, "picked").describe() == "≥ ★★, picked"
    assert stars_text(Rating(3, 1)) == "★★★☆☆ · picked"


def _jpeg_with_exif(path, orientation=1, gps=True):
    im = Image.new("RGB", (60, 40), (200, 100, 50))
    e = Image.Exif()
    e[exif.MAKE] = "Canon"
    e[exif.MODEL] = "Canon EOS R5"
    e[exif.ORIENTATION] = orientation
    sub = e.get_ifd(exif.EXIF_IFD)
    sub[exif.EXPOSURE_TIME] = 1 / 250
    sub[exif.F_NUMBER] = 2.8
    sub[exif.ISO] = 200
    sub[exif.FOCAL_LENGTH] = 50.0
    sub[exif.FOCAL_35MM] = 80
    sub[exif.LENS_MODEL] = "RF50mm F1.8 STM"
    sub[exif.DATETIME_ORIGINAL] = "2024:07:01 12:30:05"
    if gps:
        g = e.get_ifd(exif.GPS_IFD)
        g[1], g[exif.GPS_LATITUDE] = "N", (48.0, 51.0, 24.0)
        g[3], g[exif.GPS_LONGITUDE] = "E", (2.0, 21.0, 3.0)
    im.save(path, exif=e)


def test_photo_info_reads_what_the_panel_shows(tmp_path):
    path = str(tmp_path / "a.jpg")
    _jpeg_with_exif(path, orientation=6)
    info = exif.photo_info(path)
    assert info.camera == "Canon EOS R5"  # not "Canon Canon EOS R5"
    assert info.lens == "RF50mm F1.8 STM"
    assert (info.exposure, info.aperture, info.iso) == ("1/250 s", "f/2.8", "ISO 200")
    assert info.focal_length == "50 mm (80 mm full-frame equivalent)"
    assert (info.width, info.height) == (40, 60)  # upright: orientation 6 turns it
    assert info.taken == datetime(2024, 7, 1, 12, 30, 5)
    assert info.gps and info.file_type == "JPEG" and info.file_size == os.path.getsize(path)
    rows = dict(info.rows())
    assert rows["GPS"] == "location recorded" and rows["Pixels"].startswith("40 × 60 px")
    assert rows["File"].startswith("JPEG · ") and rows["File"].endswith(("bytes", "KB"))
    # The grid's date comes from the same reader.
    assert exif_taken(path) == datetime(2024, 7, 1, 12, 30, 5).timestamp()


def test_photo_info_of_awkward_files_says_why(tmp_path):
    plain = tmp_path / "plain.png"
    Image.new("RGB", (5, 4)).save(plain)
    info = exif.photo_info(str(plain))
    assert (info.camera, info.taken, info.gps, info.file_type) == ("", None, False, "PNG")
    assert dict(info.rows())["GPS"] == "none"
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not a photo at all")
    assert "cannot read its header" in exif.photo_info(str(junk)).error
    fifo = tmp_path / "fifo.jpg"
    os.mkfifo(fifo)
    assert "not a regular file" in exif.photo_info(str(fifo)).error  # never blocks
    assert "cannot read file" in exif.photo_info(str(tmp_path / "gone.jpg")).error
    assert exif.file_size_text(312) == "312 bytes" and exif.file_size_text(3_400_000) == "3.4 MB"
