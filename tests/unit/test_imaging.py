"""The decoding rule, and a clear per-file reason for every bad file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from blipdesk.core.imaging import DecodeOptions, decode_bytes, decode_photo, resize_for_model
from blipdesk.infra.errors import PhotoError
from tests.helpers.models import make_awkward_photos, scene


@pytest.fixture(scope="module")
def awkward(tmp_path_factory):
    return make_awkward_photos(tmp_path_factory.mktemp("awkward"))


def test_every_awkward_photo_decodes_to_upright_rgb(awkward):
    for name, path in awkward.items():
        im = decode_photo(path)
        assert im.mode == "RGB", name
    assert decode_photo(awkward["rotated-exif6.png"]).size == (
        300,
        400,
    )  # stored 400x300, shown portrait
    assert decode_photo(awkward["one-pixel.png"]).size == (1, 1)


def test_exif_rotation_matches_pillow_transpose(awkward):
    raw = Image.open(awkward["rotated-exif6.png"]).convert("RGB")
    expected = raw.transpose(Image.Transpose.ROTATE_270)
    assert np.array_equal(
        np.asarray(decode_photo(awkward["rotated-exif6.png"])), np.asarray(expected)
    )


def test_sixteen_bit_is_scaled_not_clipped(awkward):
    arr = np.asarray(decode_photo(awkward["gray16.png"]))
    assert (arr == 255).mean() < 0.01  # Pillow's plain convert("RGB") makes ~99% of it white
    assert 120 < arr.mean() < 135  # a 0..65535 ramp scaled to 0..255 averages ~127.5
    assert arr[0, 0, 0] == 0 and arr[-1, -1, 0] == 255


def test_transparency_goes_onto_white_like_blips_processor(awkward):
    from transformers.image_transforms import convert_to_rgb

    for name in ("rgba.png", "la.png", "palette-transparent.png"):
        ours = np.asarray(decode_photo(awkward[name]))
        theirs = np.asarray(convert_to_rgb(Image.open(awkward[name])))
        assert np.array_equal(ours, theirs), name


CMYK_PROFILE = Path("/usr/share/color/icc/ghostscript/default_cmyk.icc")  # Debian's libgs-common


@pytest.mark.skipif(
    not CMYK_PROFILE.exists(), reason="no CMYK ICC profile (apt-get install libgs-common)"
)
def test_cmyk_uses_embedded_icc_profile(tmp_path):
    from PIL import ImageCms

    cmyk = scene(64, 64, 2).convert("CMYK")
    path = tmp_path / "tagged.jpg"
    cmyk.save(path, quality=95, icc_profile=CMYK_PROFILE.read_bytes())
    stored = Image.open(path)
    expected = ImageCms.profileToProfile(
        stored,
        ImageCms.ImageCmsProfile(str(CMYK_PROFILE)),
        ImageCms.createProfile("sRGB"),
        outputMode="RGB",
    )
    ours = np.asarray(decode_photo(path))
    assert np.array_equal(ours, np.asarray(expected))
    naive = np.asarray(Image.open(path).convert("RGB"))
    assert np.abs(ours.astype(int) - naive.astype(int)).mean() > 2  # the profile really mattered


def test_cmyk_with_a_broken_profile_falls_back(tmp_path):
    cmyk = scene(64, 64, 2).convert("CMYK")
    path = tmp_path / "broken.tif"
    cmyk.save(path, icc_profile=b"not an icc profile")
    assert np.array_equal(np.asarray(decode_photo(path)), np.asarray(cmyk.convert("RGB")))


def test_jpeg_draft_keeps_enough_resolution(tmp_path):
    path = tmp_path / "big.jpg"
    scene(4000, 3000, 1).save(path, quality=90)
    draft = decode_photo(path)
    assert min(draft.size) >= 384 and draft.size[0] <= 1000  # decoded at 1/4 or 1/8 scale
    full = decode_photo(path, DecodeOptions(draft_size=None))
    assert full.size == (4000, 3000)
    diff = np.abs(resize_for_model(draft).astype(int) - resize_for_model(full).astype(int))
    assert diff.mean() < 1.0


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"hello, I am a text file\n" * 10, "not an image"),
        (bytes(range(256)) * 8, "not an image"),
    ],
)
def test_bad_bytes_give_a_reason(tmp_path, content, reason):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(PhotoError, match=reason) as info:
        decode_photo(path)
    assert info.value.path == str(path)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_files_are_reported(tmp_path, fmt):
    path = tmp_path / f"cut.{fmt.lower()}"
    scene(400, 300, 3).save(path, format=fmt)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(PhotoError, match=r"truncated|cannot decode"):
        decode_photo(path)


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    Image.new("L", (20000, 20000)).save(path, optimize=True)  # 400 MP of zeros, a few hundred KB
    with pytest.raises(PhotoError, match="megapixel limit"):
        decode_photo(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(PhotoError, match="not found"):
        decode_photo(tmp_path / "gone.jpg")
    (tmp_path / "dir.jpg").mkdir()
    with pytest.raises(PhotoError):
        decode_photo(tmp_path / "dir.jpg")


def test_decode_bytes_matches_decode_photo(awkward):
    path = awkward["cmyk.jpg"]
    assert np.array_equal(
        np.asarray(decode_bytes(path.read_bytes(), path.name)), np.asarray(decode_photo(path))
    )
