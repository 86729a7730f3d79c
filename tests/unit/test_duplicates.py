"""The same photo twice: files with one content are scored once, and the scan summary counts
them so its numbers add up (photos == scored + already scored + duplicates + unreadable)."""

from __future__ import annotations

import shutil

import pytest

from blipdesk.core.engine import ScanOptions, model_key, scan
from blipdesk.core.model import ModelSpec
from blipdesk.domain import PhotoRecord, duplicate_groups
from tests.helpers.dng import write_dng
from tests.helpers.models import scene

OPTIONS = ScanOptions(batch_size=4, use_processes=False, decode_workers=1)


def adds_up(summary) -> bool:
    parts = summary.scored + summary.cached + summary.copies + len(summary.failures)
    return summary.photos == parts + summary.paired + summary.not_reached


@pytest.fixture
def library_folder(tmp_path):
    folder = tmp_path / "photos"
    (folder / "backup").mkdir(parents=True)
    for i in range(3):
        scene(80, 60, i).save(folder / f"p{i}.jpg", quality=90)
    shutil.copyfile(folder / "p0.jpg", folder / "p0 copy.jpg")
    shutil.copyfile(folder / "p0.jpg", folder / "backup" / "p0.jpg")
    write_dng(folder / "IMG_1.dng")
    shutil.copyfile(folder / "IMG_1.dng", folder / "backup" / "IMG_1.dng")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    shutil.copyfile(folder / "broken.jpg", folder / "broken again.jpg")
    return folder


def test_duplicates_are_scored_once_and_counted(
    library, library_folder, tiny_model_dir, tiny_scorer
):
    key = model_key(ModelSpec(str(tiny_model_dir)))
    first = scan(library, [library_folder], ("a dog",), key, lambda: tiny_scorer, OPTIONS)
    # 9 files: p0 three times, p1, p2, the DNG twice, a broken file twice.
    assert first.photos == 9
    assert first.scored == 4  # p0, p1, p2, IMG_1: one model pass each
    assert first.copies == 3  # two more p0, one more IMG_1: scored with them, not again
    assert len({f.path for f in first.failures}) == 2  # each broken file is named
    assert adds_up(first)
    assert first.tally() == "9 photos: 4 scored, 3 duplicates, 2 unreadable"
    again = scan(library, [library_folder], ("a dog",), key, lambda: tiny_scorer, OPTIONS)
    assert (again.scored, again.cached, again.copies) == (0, 7, 0) and adds_up(again)
    assert again.tally() == "9 photos: 0 scored, 7 already scored, 2 unreadable"

    records = library.photos_under([library_folder], True)
    dup = duplicate_groups(records)
    assert dup[str(library_folder / "p0.jpg")] == dup[str(library_folder / "p0 copy.jpg")] == 3
    assert dup[str(library_folder / "backup" / "IMG_1.dng")] == 2
    assert str(library_folder / "p1.jpg") not in dup


def test_duplicate_groups():
    records = [PhotoRecord(p, 1, 1, c) for p, c in [("a", "x"), ("b", "x"), ("c", "y")]]
    records += [PhotoRecord(p, 0, 0, None, "cannot read") for p in ("d", "e")]
    assert duplicate_groups(records) == {"a": 2, "b": 2}
