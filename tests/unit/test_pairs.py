"""RAW + JPEG pairs: one photo with both files (grouped by default), scored once from the JPEG,
its sidecar where the person chooses (the RAW by default). Real files: a DNG and a JPEG."""

from __future__ import annotations

import os

from blipdesk.core import files
from blipdesk.core.engine import ScanOptions, model_key, scan
from blipdesk.core.model import ModelSpec
from blipdesk.services.settings import Settings, SettingsFile
from tests.helpers.dng import write_dng
from tests.helpers.models import scene


def test_raw_partners_by_stem():
    names = ["IMG_0001.CR3", "img_0001.jpg", "IMG_0002.NEF", "IMG_0003.jpg", "IMG_0004.dng",
             "IMG_0004.xmp", "IMG_0005.HEIC", "IMG_0005.ARW", "IMG_0006.png", "IMG_0006.orf"]  # fmt: skip
    assert files.raw_partners(names) == {
        "img_0001.jpg": ["IMG_0001.CR3"],
        "IMG_0005.HEIC": ["IMG_0005.ARW"],
    }  # a PNG is not a camera's picture of its RAW
    paths = ["/a/IMG_1.jpg", "/a/IMG_1.cr2", "/b/IMG_1.cr2", "/b/other.jpg"]
    assert files.paired_raws(paths) == {"/a/IMG_1.cr2"}


def pair_folder(tmp_path):
    folder = tmp_path / "card"
    folder.mkdir()
    write_dng(folder / "IMG_0001.dng")
    scene(320, 240, 1).save(folder / "IMG_0001.JPG")
    write_dng(folder / "IMG_0002.dng", orientation=6)  # a RAW alone
    scene(320, 240, 3).save(folder / "IMG_0003.jpg")
    return folder


def test_listing_and_counts_show_a_pair_once(tmp_path):
    folder = pair_folder(tmp_path)
    grouped = files.list_photos(str(folder), True, group_pairs=True)
    assert [p.name for p in grouped] == ["IMG_0001.JPG", "IMG_0002.dng", "IMG_0003.jpg"]
    assert grouped[0].companions == (str(folder / "IMG_0001.dng"),)
    assert grouped[1].companions == grouped[2].companions == ()
    assert len(files.list_photos(str(folder), True)) == 4  # not grouped: every file
    assert files.count_tree(str(folder), group_pairs=True).counts == ((".", 3),)
    assert files.count_tree(str(folder)).counts == ((".", 4),)


def test_sidecars_go_to_the_chosen_file(tmp_path):
    folder = pair_folder(tmp_path)
    photos = files.list_photos(str(folder), True, group_pairs=True)
    tags = {p.path: ["beach"] for p in photos}
    to_raw = files.sidecar_targets(photos, tags)  # the default: the RAW (Lightroom reads it)
    assert set(to_raw) == {
        str(folder / "IMG_0001.dng"), str(folder / "IMG_0002.dng"), str(folder / "IMG_0003.jpg")
    }  # fmt: skip
    to_jpeg = files.sidecar_targets(photos, tags, "jpeg")
    assert set(to_jpeg) == {p.path for p in photos}


def test_a_pair_is_scored_once_from_the_jpeg(library, tmp_path, tiny_model_dir, tiny_scorer):
    folder = pair_folder(tmp_path)
    key = model_key(ModelSpec(str(tiny_model_dir)))
    options = ScanOptions(batch_size=4, use_processes=False, decode_workers=1)
    summary = scan(library, [folder], ("a dog",), key, lambda: tiny_scorer, options)
    assert (summary.photos, summary.scored, summary.paired) == (4, 3, 1)
    # A pair is one photo (as the grid counts it): 3 photos, one of them with a RAW file.
    assert summary.tally() == "3 photos (1 with a RAW file): 3 scored, 0 unreadable"
    # Not grouped: the RAW is a photo of its own, scored too.
    apart = ScanOptions(batch_size=4, use_processes=False, decode_workers=1, group_pairs=False)
    summary = scan(library, [folder], ("a dog",), key, lambda: tiny_scorer, apart)
    assert (summary.scored, summary.cached, summary.paired) == (1, 3, 0)


def test_pair_settings_round_trip(tmp_path):
    settings = SettingsFile(tmp_path / "settings.json")
    assert Settings().group_pairs and Settings().pair_sidecars == "raw"
    settings.save(Settings(group_pairs=False, pair_sidecars="jpeg", watch_folders=False))
    loaded = settings.load()
    assert (loaded.group_pairs, loaded.pair_sidecars, loaded.watch_folders) == (
        False,
        "jpeg",
        False,
    )
    (tmp_path / "settings.json").write_text('{"pair_sidecars": "tiff", "scan_new_photos": 1}')
    loaded = settings.load()
    assert loaded.pair_sidecars == "raw" and loaded.scan_new_photos is True and settings.problem


def test_a_pair_whose_jpeg_cannot_be_read_is_scored_by_its_raw(
    library, tmp_path, tiny_model_dir, tiny_scorer
):
    """The pair stays one photo: its RAW is scored in the same scan that finds the JPEG broken,
    and the JPEG's reason is kept; the next scan finds both known and scores nothing."""
    folder = pair_folder(tmp_path)
    (folder / "IMG_0001.JPG").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG" * 40)
    write_dng(folder / "IMG_0004.dng")  # a second pair, its picture a truncated PNG-less HEIC
    (folder / "IMG_0004.heic").write_bytes(b"\0\0\0\x18ftypheic" + b"\0" * 64)
    key = model_key(ModelSpec(str(tiny_model_dir)))
    options = ScanOptions(batch_size=4, use_processes=False, decode_workers=1)
    summary = scan(library, [folder], ("a dog",), key, lambda: tiny_scorer, options)
    assert summary.paired == 0 and summary.photos == 6
    assert {os.path.basename(f.path) for f in summary.failures} == {"IMG_0001.JPG", "IMG_0004.heic"}
    scored = {p.path for p in library.all_photos()
              if library.sentence_scores(key.score_key, [p.content]).get(p.content)}  # fmt: skip
    assert {os.path.basename(p) for p in scored} == {
        "IMG_0001.dng", "IMG_0002.dng", "IMG_0003.jpg", "IMG_0004.dng"
    }  # fmt: skip
    again = scan(library, [folder], ("a dog",), key, lambda: tiny_scorer, options)
    assert (again.scored, again.cached, again.paired) == (0, 4, 0)
    assert {os.path.basename(f.path) for f in again.failures} == {"IMG_0001.JPG", "IMG_0004.heic"}


def test_the_window_shows_a_pair_by_its_raw_when_its_picture_cannot_be_read():
    from blipdesk.domain import SentenceScore, Tag
    from blipdesk.services.scoreboard import PhotoScores, ScoreBoard

    board = ScoreBoard()
    board.pairs = {"/c/IMG_1.jpg": ("/c/IMG_1.dng",), "/c/IMG_2.jpg": ("/c/IMG_2.dng",)}
    dog, sure = Tag("dog", ("a dog",), 0.5), {"a dog": SentenceScore(0.9, 0.3, 0.0, 2.0)}
    # The RAW's scores may arrive before the picture's reason (paths sort either way).
    changed = board.merge([PhotoScores("/c/IMG_1.dng", sure), PhotoScores("/c/IMG_2.dng", sure)])
    assert "/c/IMG_1.jpg" in changed
    board.merge([PhotoScores("/c/IMG_1.jpg", error="cannot identify image file")])
    board.merge([PhotoScores("/c/IMG_2.jpg", {"a dog": SentenceScore(0.1, 0.1, 2.0, 0.0)})])
    assert board.matches("/c/IMG_1.jpg", dog) and board.errors["/c/IMG_1.jpg"]  # reason kept
    assert not board.matches("/c/IMG_2.jpg", dog)  # a readable picture speaks for its pair
    assert board.matched_tags(["/c/IMG_1.jpg", "/c/IMG_2.jpg"], [dog]) == {
        "/c/IMG_1.jpg": ["dog"], "/c/IMG_2.jpg": []
    }  # fmt: skip
    assert board.missing(["/c/IMG_1.jpg"], ["a dog"]) == []
