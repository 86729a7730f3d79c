"""Decode memory is bounded by design (issue 10, item 3): a cap on the decoded image's bytes,
conversion strip by strip, reduction before a full-size copy, integer arithmetic for 16-bit data,
and running out of memory is retried by the next scan instead of being stored as the verdict."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from blipdesk.core import imaging
from blipdesk.core.decoding import decode_for_model
from blipdesk.core.engine import ScanOptions, model_key, scan
from blipdesk.core.imaging import DecodeOptions, decode_photo, resize_for_model
from blipdesk.core.model import ModelSpec
from blipdesk.infra.errors import PhotoError
from blipdesk.store import Library
from tests.helpers.models import make_awkward_photos, scene

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def awkward(tmp_path_factory):
    folder = tmp_path_factory.mktemp("awkward")
    photos = make_awkward_photos(folder)
    floats = np.linspace(-0.5, 2.0, 150 * 90, dtype=np.float32).reshape(90, 150)
    Image.fromarray(floats, "F").save(folder / "float.tif")
    ints = np.linspace(-1000, 300_000, 150 * 90).astype(np.int32).reshape(90, 150)
    Image.fromarray(ints, "I").save(folder / "int32.tif")
    photos.update({"float.tif": folder / "float.tif", "int32.tif": folder / "int32.tif"})
    return photos


def test_sixteen_bit_integer_scaling_equals_the_float64_rule():
    x = np.arange(65536, dtype=np.uint16)
    old = np.clip(np.rint(x.astype(np.float64) * (255.0 / 65535.0)), 0, 255).astype(np.uint8)
    assert np.array_equal(imaging._int_to_uint8(x, "I;16", 65535.0), old)


def test_strips_give_the_same_pixels_as_the_whole_image(awkward, monkeypatch):
    whole = {name: np.asarray(decode_photo(path)) for name, path in awkward.items()}
    monkeypatch.setattr(imaging, "STRIP_BYTES", 997)  # a few rows per strip, odd on purpose
    for name, path in awkward.items():
        assert np.array_equal(np.asarray(decode_photo(path)), whole[name]), name


def test_over_the_byte_cap_is_refused_before_decoding(tmp_path):
    path = tmp_path / "wide.png"
    Image.new("RGBA", (2000, 1500), (1, 2, 3, 4)).save(path)
    with pytest.raises(PhotoError, match=r"too large to decode: 2000x1500 RGBA.*11 MiB"):
        decode_photo(path, DecodeOptions(max_decoded_bytes=8 << 20))


def test_large_images_are_reduced_before_conversion_and_still_look_the_same(tmp_path):
    path = tmp_path / "big.png"
    scene(3200, 2400, 3).convert("RGBA").save(path, compress_level=1)
    small = DecodeOptions(reduce_above_bytes=1 << 20)
    reduced = decode_photo(path, small)
    assert reduced.size == (1067, 800) and reduced.mode == "RGB"  # 1/3, aspect kept
    full = decode_photo(path, DecodeOptions(reduce_above_bytes=1 << 40))
    assert full.size == (3200, 2400)
    diff = np.abs(resize_for_model(reduced).astype(int) - resize_for_model(full).astype(int))
    assert diff.mean() < 1.0


_PEAK = """
import resource, sys
from blipdesk.core.imaging import load_for_model
load_for_model(sys.argv[1])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


@pytest.mark.slow
def test_a_small_sixteen_bit_file_decodes_in_bounded_memory(tmp_path):
    """6000x6000 16-bit grey: 72 MB of pixels in a ~100 kB file. The float64 rule peaked near
    1 GB; now the decoded image plus strips."""
    n = 6000
    ramp = (np.arange(n, dtype=np.uint32) * 65535 // (n - 1)).astype(np.uint16)
    path = tmp_path / "grey16.png"
    Image.fromarray(np.ascontiguousarray(np.broadcast_to(ramp, (n, n)))).save(path)
    assert path.stat().st_size < 2 << 20
    base = subprocess.run(
        [sys.executable, "-c", _PEAK.replace("load_for_model(sys.argv[1])\n", ""), str(path)],
        capture_output=True, text=True, cwd=ROOT, check=True,
    )  # fmt: skip
    got = subprocess.run(
        [sys.executable, "-c", _PEAK, str(path)], capture_output=True, text=True, cwd=ROOT,
        check=True,
    )  # fmt: skip
    grew = int(got.stdout) - int(base.stdout)
    assert grew < 2 * n * n + (96 << 20), f"{grew / 2**20:.0f} MiB over the interpreter"


def test_out_of_memory_is_transient_and_the_next_scan_retries(tmp_path, monkeypatch, tiny_scorer):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        scene(40 + i, 30, i).save(folder / f"p{i}.png")  # p1 is the one 41 pixels wide
    real = imaging._converted

    def short_of_memory(im, factors):
        if im.size == (41, 30):
            raise MemoryError
        return real(im, factors)

    monkeypatch.setattr(imaging, "_converted", short_of_memory)
    got = decode_for_model(str(folder / "p1.png"))
    assert got.image is None and got.transient and "not enough memory" in got.reason

    key = model_key(ModelSpec(str(tiny_scorer.loaded.folder)))
    options = ScanOptions(batch_size=2, use_processes=False)
    with Library.open(tmp_path / "data" / "library.sqlite3") as lib:
        first = scan(lib, [folder], ("a dog",), key, lambda: tiny_scorer, options)
        assert first.scored == 2 and [f.path for f in first.failures] == [str(folder / "p1.png")]
        assert (
            lib.decode_errors(
                key.score_key, [p.content for p in lib.photos_under([folder]) if p.content]
            )
            == {}
        )
        monkeypatch.setattr(imaging, "_converted", real)  # memory is back
        second = scan(lib, [folder], ("a dog",), key, lambda: tiny_scorer, options)
        assert second.scored == 1 and not second.failures


def test_pipes_and_devices_are_refused_without_blocking(tmp_path):
    from blipdesk.core.inventory import content_hash

    os.mkfifo(tmp_path / "pipe.jpg")
    (tmp_path / "zero.png").symlink_to("/dev/zero")
    for name in ("pipe.jpg", "zero.png"):
        with pytest.raises(PhotoError, match="not a regular file"):
            decode_photo(tmp_path / name)
        with pytest.raises(OSError, match="not a regular file"):
            content_hash(tmp_path / name)
