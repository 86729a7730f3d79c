"""Fuzzing the decoding path: whatever the bytes, ``decode_bytes``/``decode_photo`` return an RGB
image or raise ``PhotoError``; nothing else escapes (issue 6).

Two sources of input: arbitrary bytes (hypothesis), and valid JPEG/PNG/GIF/WebP/TIFF/HEIC files
with bytes flipped, overwritten, inserted, deleted or cut off (mutations chosen by hypothesis), the
classic way to reach a decoder's deep error paths."""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from blipdesk.core.imaging import DecodeOptions, decode_bytes, decode_photo
from blipdesk.infra.errors import PhotoError
from tests.helpers.models import scene

# Small caps keep a fuzzed header claiming a huge size from costing real memory or time.
OPTIONS = DecodeOptions(max_pixels=4_000_000)
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


def _encoded(fmt: str, **kw) -> bytes:
    im = scene(48, 32, 3)
    if fmt == "GIF":
        frames = [im.convert("P"), scene(48, 32, 4).convert("P")]
        buf = io.BytesIO()
        frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
        return buf.getvalue()
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


SEEDS = {
    "jpeg": _encoded("JPEG", quality=80),
    "progressive-jpeg": _encoded("JPEG", quality=80, progressive=True),
    "png": _encoded("PNG"),
    "gif": _encoded("GIF"),
    "webp": _encoded("WEBP", quality=60),
    "tiff": _encoded("TIFF", compression="tiff_lzw"),
    "heic": _encoded("HEIF", quality=50),
}


def _check(data: bytes) -> None:
    try:
        im = decode_bytes(data, "fuzz", OPTIONS)
    except PhotoError as exc:
        assert exc.reason and exc.path == "fuzz"
    else:
        assert im.mode == "RGB" and im.width > 0 and im.height > 0


@FUZZ
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_decode_or_raise_photo_error(data):
    _check(data)


@st.composite
def mutated(draw):
    name = draw(st.sampled_from(sorted(SEEDS)))
    data = bytearray(SEEDS[name])
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate", "header"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and data:
            data[pos] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, draw(st.integers(0, 255))]))
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[pos : pos + draw(st.integers(1, 64))]
        elif kind == "truncate":
            del data[pos:]
        elif kind == "header" and len(data) > 32:
            # The first bytes hold sizes, counts and offsets: where decoders trust the file most.
            at = draw(st.integers(0, min(len(data), 256) - 1))
            data[at] = draw(st.integers(0, 255))
    return name, bytes(data)


@FUZZ
@given(mutated())
def test_mutated_valid_files_decode_or_raise_photo_error(case):
    _name, data = case
    _check(data)


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_every_seed_is_valid(name):
    """The mutations start from files that decode (else the fuzzing would test only garbage)."""
    assert decode_bytes(SEEDS[name], name, OPTIONS).mode == "RGB"


@settings(max_examples=40, deadline=None, database=None)
@given(mutated())
def test_decode_photo_from_a_file_agrees(tmp_path_factory, case):
    """The file path (stat, open, extension) behaves as the in-memory one does."""
    name, data = case
    path = tmp_path_factory.mktemp("fuzz") / f"photo.{name}"
    path.write_bytes(data)
    try:
        decode_photo(path, OPTIONS)
    except PhotoError as exc:
        assert exc.reason


def test_heic_decodes(tmp_path):
    """pillow-heif's opener is registered by imaging itself (not only by this test module)."""
    import subprocess
    import sys

    path = tmp_path / "photo.heic"
    path.write_bytes(SEEDS["heic"])
    code = (
        "import sys; from blipdesk.core.imaging import decode_photo; "
        f"im = decode_photo({str(path)!r}); sys.exit(im.size != (48, 32) or im.mode != 'RGB')"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
    with Image.open(path) as im:  # closed: an open file is a ResourceWarning, an error here
        assert im.format in ("HEIF", "HEIC")


def test_damaged_heif_gives_a_reason_not_a_runtime_error(tmp_path):
    """libheif reports some damage as a bare RuntimeError ("Security limit exceeded: Image size
    855638080x64"); seeded mutations that reached it once now give a reason like any other."""
    import random

    data = _encoded("HEIF")
    rng = random.Random(1)
    reasons = 0
    for i in range(120):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        path = tmp_path / f"{i}.heic"
        path.write_bytes(bytes(damaged))
        try:
            decode_photo(path)
        except PhotoError as err:
            assert err.reason
            reasons += 1
    assert reasons > 0
