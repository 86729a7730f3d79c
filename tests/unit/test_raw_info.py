"""The information panel's facts about a RAW file are the sensor's, not its preview's (issue 25,
item 5): a DNG's sensor size and "DNG", where Pillow sees the preview's size and "TIFF"."""

from __future__ import annotations

import pytest

from blipdesk.core import exif
from blipdesk.core.raw import raw_format
from tests.helpers.dng import write_dng

pytest.importorskip("rawpy")


def test_a_dng_shows_its_sensor_size_and_format_not_the_previews(tmp_path):
    path = write_dng(tmp_path / "IMG_0001.dng", width=1200, height=800, preview_size=(600, 400))
    info = exif.photo_info(str(path))
    assert (info.width, info.height) == (1200, 800)
    assert info.file_type == "DNG"
    assert dict(info.rows())["File"].startswith("DNG · ")
    assert dict(info.rows())["Pixels"].startswith("1200 × 800 px")


def test_a_portrait_raw_is_measured_upright(tmp_path):
    path = write_dng(tmp_path / "tall.dng", width=1200, height=800, orientation=6)
    info = exif.photo_info(str(path))
    assert (info.width, info.height) == (800, 1200)


def test_a_raw_libraw_cannot_open_keeps_its_format_and_says_why(tmp_path):
    junk = tmp_path / "broken.nef"
    junk.write_bytes(b"not a raw file at all" * 10)
    info = exif.photo_info(str(junk))
    assert info.file_type == "Nikon NEF"
    assert info.error


@pytest.mark.parametrize(
    "name, kind",
    [("a.CR3", "Canon CR3"), ("b.arw", "Sony ARW"), ("c.jpg", ""), ("d.raf", "Fujifilm RAF")],
)
def test_raw_formats_are_named_as_people_name_them(name, kind):
    assert raw_format(name) == kind
