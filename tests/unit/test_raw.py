"""RAW files on real RAW data: DNGs written by tifffile (tests/helpers/dng.py) and read by LibRaw
through rawpy, the way a camera's DNG is read. Nothing here mocks LibRaw."""

from __future__ import annotations

import os
import shutil
import sys

import numpy as np
import pytest

from blipdesk.core import decoding, files
from blipdesk.core.engine import ScanOptions, model_key, scan
from blipdesk.core.imaging import DecodeOptions, decode_photo, load_for_model
from blipdesk.core.inventory import content_hash
from blipdesk.core.model import ModelSpec
from blipdesk.core.raw import NO_RAWPY, RAW_DECODE_RULE, read_raw
from blipdesk.infra.errors import PhotoError
from blipdesk.services.sidecars import sidecar_path
from tests.helpers.dng import write_dng
from tests.helpers.models import scene

rawpy = pytest.importorskip("rawpy")

GREEN = np.array([30, 220, 30])


def has_marker(im) -> bool:
    """The preview carries a green square the sensor data does not."""
    arr = np.asarray(im).reshape(-1, 3).astype(int)
    return bool((np.abs(arr - GREEN).sum(axis=1) < 60).sum() > 50)


def band_side(im) -> str:
    """Where the white band (the scene's top) ended up."""
    arr = np.asarray(im).astype(int)
    h, w = arr.shape[:2]
    sides = {
        "top": arr[: h // 12].mean(),
        "bottom": arr[-h // 12 :].mean(),
        "left": arr[:, : w // 12].mean(),
        "right": arr[:, -w // 12 :].mean(),
    }
    return max(sides, key=sides.__getitem__)


def test_every_raw_suffix_is_a_photo_and_is_raw():
    for (
        suffix
    ) in ".cr2 .CR3 .nef .nrw .arw .srf .raf .orf .rw2 .pef .dng .srw .3fr .iiq .x3f".split():
        assert files.is_photo(f"IMG_0001{suffix}") and files.is_raw(f"IMG_0001{suffix}")
    assert not files.is_raw("IMG_0001.jpg") and files.is_photo("IMG_0001.jpg")
    assert files.RAW_SUFFIXES <= files.PHOTO_SUFFIXES  # one list: walk, grid and scan agree


def test_jpeg_preview_is_used_when_large_enough(tmp_path):
    path = write_dng(tmp_path / "a.dng", preview="jpeg", preview_size=(600, 400))
    with_libraw = read_raw(path, 10**9, lambda b: ((600, 400), None))
    assert with_libraw.source == "jpeg preview" and with_libraw.jpeg[:2] == b"\xff\xd8"
    im = decode_photo(path, DecodeOptions(draft_size=None))
    assert im.mode == "RGB" and im.size == (600, 400)
    assert has_marker(im) and band_side(im) == "top"
    # Left red, right blue: the colours came through.
    arr = np.asarray(im).astype(int)
    assert arr[300, 50, 0] > 150 > arr[300, 50, 2] and arr[300, 550, 2] > 150 > arr[300, 550, 0]


def test_bitmap_preview(tmp_path):
    path = write_dng(tmp_path / "b.dng", preview="bitmap", preview_size=(600, 400))
    assert read_raw(path, 10**9).source == "bitmap preview"
    im = decode_photo(path)
    assert im.size == (600, 400) and has_marker(im) and band_side(im) == "top"


@pytest.mark.parametrize("preview", [None, "small"])
def test_half_size_demosaic_when_the_preview_is_missing_or_small(tmp_path, preview):
    kind = "jpeg" if preview == "small" else None
    path = write_dng(tmp_path / "c.dng", 1200, 800, preview=kind, preview_size=(200, 130))
    picture = read_raw(path, 10**9, lambda b: ((200, 130), None))
    assert picture.source == "half-size demosaic"
    im = decode_photo(path)
    assert im.size == (600, 400)  # half of the 1200 x 800 sensor
    assert not has_marker(im) and band_side(im) == "top"
    arr = np.asarray(im).astype(int)
    assert arr[300, 50, 0] > 150 > arr[300, 50, 2] and arr[300, 550, 2] > 150 > arr[300, 550, 0]


def test_orientation_from_the_raw_flip(tmp_path):
    path = write_dng(tmp_path / "d.dng", preview="jpeg", orientation=6)
    with rawpy.imread(str(path)) as raw:
        assert raw.sizes.flip == 6  # LibRaw read the DNG's orientation
    im = decode_photo(path)
    assert im.size == (400, 600) and band_side(im) == "right" and has_marker(im)
    # The demosaic (no preview) comes out turned the same way, by LibRaw itself.
    bare = decode_photo(write_dng(tmp_path / "e.dng", preview=None, orientation=6))
    assert bare.size == (400, 600) and band_side(bare) == "right"


def test_an_upright_preview_is_not_turned_again(tmp_path):
    path = write_dng(tmp_path / "f.dng", preview="jpeg", orientation=6, preview_upright=True)
    im = decode_photo(path)
    assert im.size == (400, 600) and band_side(im) == "right" and has_marker(im)
    bitmap = decode_photo(
        write_dng(tmp_path / "g.dng", preview="bitmap", orientation=6, preview_upright=True)
    )
    assert bitmap.size == (400, 600) and band_side(bitmap) == "right"


def test_a_preview_with_its_own_exif_orientation_follows_it(tmp_path):
    # The RAW says "turn a quarter", the JPEG preview says so itself: turned once, not twice.
    path = write_dng(tmp_path / "h.dng", orientation=6, preview_exif_orientation=6)
    im = decode_photo(path)
    assert im.size == (400, 600) and band_side(im) == "right"


def test_thumbnail_viewer_and_model_see_the_same_preview(tmp_path):
    path = write_dng(tmp_path / "i.dng", preview="jpeg", orientation=6)
    thumb = decode_photo(path, DecodeOptions(draft_size=192))  # what render_thumbnail asks
    viewer = decode_photo(path, DecodeOptions(draft_size=1024))
    assert has_marker(thumb) and has_marker(viewer)
    assert band_side(thumb) == band_side(viewer) == "right"
    model = load_for_model(path)
    assert model.shape == (384, 384, 3) and model.dtype == np.uint8 and has_marker(model)


def test_damaged_and_hostile_raw_files_get_a_reason(tmp_path):
    fake = tmp_path / "fake.cr2"
    fake.write_bytes(b"II*\x00" + os.urandom(4000))
    with pytest.raises(PhotoError) as info:
        decode_photo(fake)
    assert "fake.cr2" in str(info.value) and "LibRaw" in info.value.reason
    assert info.value.transient  # unsupported: a newer rawpy may read it, so tried again
    good = write_dng(tmp_path / "good.dng")
    cut = tmp_path / "cut.dng"
    cut.write_bytes(good.read_bytes()[:3000])
    with pytest.raises(PhotoError):
        decode_photo(cut)
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "pipe.nef"
        os.mkfifo(fifo)
        with pytest.raises(PhotoError, match="not a regular file"):
            decode_photo(fifo)
    with pytest.raises(PhotoError, match="megapixel"):
        decode_photo(good, DecodeOptions(max_pixels=100_000))


def test_without_rawpy_a_raw_file_says_so_and_is_retried(tmp_path, monkeypatch):
    path = write_dng(tmp_path / "j.dng")
    monkeypatch.setitem(sys.modules, "rawpy", None)  # as if not installed
    with pytest.raises(PhotoError) as info:
        decode_photo(path)
    assert info.value.reason == NO_RAWPY and "pip install rawpy" in NO_RAWPY
    assert info.value.transient  # never stored as the file's verdict


def test_the_raw_rule_is_part_of_the_content_key(tmp_path):
    dng = write_dng(tmp_path / "k.dng")
    copy = tmp_path / "copy.DNG"
    shutil.copyfile(dng, copy)
    as_tiff = tmp_path / "k.tif"
    shutil.copyfile(dng, as_tiff)
    # The same bytes decoded by LibRaw and by Pillow never share features or scores ...
    assert content_hash(dng) != content_hash(as_tiff)
    # ... while two copies of a RAW are one content (scored once).
    assert content_hash(dng) == content_hash(copy)
    assert RAW_DECODE_RULE.startswith("raw-")


def test_raw_sidecars_follow_the_naming_setting(tmp_path):
    path = tmp_path / "IMG_0001.CR3"
    assert sidecar_path(path, "xmp") == tmp_path / "IMG_0001.xmp"  # Lightroom, Capture One
    assert sidecar_path(path, "jpg.xmp") == tmp_path / "IMG_0001.CR3.xmp"  # darktable, digiKam


def test_a_scan_scores_raw_files(library, tmp_path, tiny_model_dir, tiny_scorer):
    folder = tmp_path / "card"
    folder.mkdir()
    write_dng(folder / "IMG_0001.dng", preview="jpeg")
    write_dng(folder / "IMG_0002.dng", preview=None, orientation=6)
    key = model_key(ModelSpec(str(tiny_model_dir)))
    options = ScanOptions(batch_size=2, use_processes=False, decode_workers=1)
    summary = scan(library, [folder], ("a red wall",), key, lambda: tiny_scorer, options)
    assert summary.photos == 2 and summary.scored == 2 and not summary.failures
    results = {r.path: r for r in library.photo_results(key.score_key, [folder])}
    assert len(results) == 2 and all(r.error is None for r in results.values())
    path = str(folder / "IMG_0001.dng")
    direct = tiny_scorer.score(
        load_for_model(path)[None], tiny_scorer.encode_sentences(["a red wall"])
    )
    content = content_hash(path)
    cached = library.sentence_scores(key.score_key, [content])[content]["a red wall"]
    assert cached.itm == pytest.approx(float(direct.itm[0, 0]), abs=1e-4)
    assert decoding.decode_for_model(path).image is not None


def test_mutated_raw_files_decode_or_give_a_reason(tmp_path):
    """Damaged RAW data (bit flips, cuts, holes in real DNGs) never escapes as anything but a
    PhotoError, and never kills the process (LibRaw is C)."""
    import random

    seeds = [
        write_dng(tmp_path / "s0.dng", 64, 48, "jpeg", (600, 400)).read_bytes(),
        write_dng(tmp_path / "s1.dng", 64, 48, "bitmap", (400, 400)).read_bytes(),
        write_dng(tmp_path / "s2.dng", 400, 300, None).read_bytes(),
    ]
    rng = random.Random(15)
    target = tmp_path / "m.dng"
    decoded = failed = 0
    for _ in range(150):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            pos = rng.randrange(max(1, len(data)))
            choice = rng.random()
            if choice < 0.4:
                data[pos : pos + 1] = bytes([data[pos] ^ (1 << rng.randrange(8))]) if data else b""
            elif choice < 0.7:
                data[pos : pos + 1] = bytes([rng.choice([0, 127, 128, 255])])
            elif choice < 0.85:
                del data[pos : pos + rng.randint(1, 64)]
            else:
                del data[max(1, pos) :]
        target.write_bytes(bytes(data))
        try:
            im = decode_photo(target)
        except PhotoError as exc:
            assert exc.reason
            failed += 1
        else:
            assert im.mode == "RGB" and min(im.size) > 0
            decoded += 1
    assert decoded + failed == 150 and failed > 0


def test_a_raw_file_is_never_decoded_in_the_scan_process_after_a_worker_died(tmp_path):
    import concurrent.futures as cf
    from concurrent.futures.process import BrokenProcessPool

    path = str(write_dng(tmp_path / "crash.dng"))
    broken: cf.Future = cf.Future()
    broken.set_exception(BrokenProcessPool("a worker died"))
    got = decoding.result_of(broken, path, None)
    assert got.image is None and got.transient and "worker died" in got.reason
    jpeg = tmp_path / "fine.jpg"
    scene(64, 48, 1).save(jpeg)
    assert decoding.result_of(broken, str(jpeg), None).image is not None
