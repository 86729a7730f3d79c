"""Decoding photos: one documented rule for every file.

``decode_photo(path)`` returns an upright 8-bit RGB ``PIL.Image``:

1. Refuse empty files and anything over ``max_pixels`` before decoding (decompression bombs).
2. JPEG: DCT-domain draft decoding (``Image.draft``) to the smallest 1/1, 1/2, 1/4 or 1/8 scale
   that keeps both sides at least ``draft_size``. The model squashes every photo to 384x384, so
   the processor's own bicubic resize still has at least ``draft_size`` pixels to work from.
3. Refuse an image whose decoded pixels alone would take more than ``max_decoded_bytes`` (width x
   height x Pillow's bytes per pixel, after the draft): a 437 KB PNG can hold 15000x15000 pixels.
4. Memory stays near the decoded image itself: the conversion below runs on horizontal strips,
   and an image over ``reduce_above_bytes`` is reduced strip by strip (``Image.reduce``, a box
   average, one factor for both sides) so that its shorter side stays at least twice
   ``draft_size``, before a full-size RGB copy could exist.
   Smaller images are converted whole-image-equivalently: their pixels are the same as before
   strips existed, so their cached scores stay valid (``DECODE_RULE_VERSION`` unchanged; only
   images over the threshold, which used to need gigabytes, now decode through the reduction).
5. EXIF orientation applied (as ``ImageOps.exif_transpose``), so the model sees what people see.
6. To 8-bit RGB:
   - 16-bit and 32-bit integer images are scaled to 8 bits (65535 -> 255), never clipped
     (Pillow's plain ``convert("RGB")`` clips a 16-bit PNG to almost pure white), in integer
     arithmetic (round(x / 257) for 16 bits: the same values float64 gave, at an eighth of the
     memory);
   - float images are scaled from [0, 1] (or their own range when it exceeds it);
   - transparency is composited onto white, exactly as BLIP's processor does for RGBA input;
   - CMYK goes through its embedded ICC profile to sRGB when it has one;
   - palette, grayscale, bilevel and the rest convert to RGB.

``to_model_input`` then reproduces BLIP's image processor (PIL backend): bicubic squash to 384x384,
rescale by 1/255, normalise with the CLIP mean and std. Doing it here (rather than through the
processor object) pins one backend, so scores do not depend on whether torchvision happens to be
installed, and lets decode workers hand back small uint8 arrays.

Camera RAW files (``files.RAW_SUFFIXES``) go through ``core/raw.py``: LibRaw's embedded preview,
else a half-size demosaic, turned by the RAW's own orientation (see its docstring); a JPEG preview
is then decoded by the steps above, its size limits and draft included. The thumbnails, the
viewer and the model all get that one picture from ``decode_photo``.

Every failure becomes a ``PhotoError`` that names the file and the reason; running out of memory
is ``transient`` (tried again by the next scan, never stored as the file's verdict).
"""

from __future__ import annotations

import io
import os
import stat
import struct
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageCms, ImageFile, UnidentifiedImageError

from blipdesk.core.files import is_raw
from blipdesk.core.raw import read_raw
from blipdesk.infra.errors import PhotoError

# Pillow refuses > 2 * MAX_IMAGE_PIXELS itself; we enforce our own, clearer limit first.
DEFAULT_MAX_PIXELS = 250_000_000
DEFAULT_MAX_DECODED_BYTES = 1 << 30  # 250 MP at Pillow's 4 bytes per RGB(A) pixel fits
REDUCE_ABOVE_BYTES = 64 << 20  # e.g. 16 MP of RGBA or 33 MP of 16-bit grey
STRIP_BYTES = 8 << 20  # source bytes converted at a time
DEFAULT_DRAFT_SIZE = 384
MODEL_IMAGE_SIZE = 384
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

# Bumped whenever the decoding rule changes in a way that changes pixels: part of a score's key.
DECODE_RULE_VERSION = 1

Image.MAX_IMAGE_PIXELS = None  # our own cap (with a clear message) replaces Pillow's warning
ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file is an error, never a grey half-photo
# Pillow warns on stderr about damaged metadata ("Corrupt EXIF data", "Tag data larger than
# file") in files it still decodes; blipdesk reports what matters per file, so they are noise.
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")

_SRGB = ImageCms.createProfile("sRGB")

try:  # HEIC/HEIF (iPhone photos since 2017): Pillow has no decoder of its own.
    from pillow_heif import register_heif_opener
except ImportError:  # pragma: no cover - a dependency; without it .heic files get a clear reason
    pass
else:
    register_heif_opener()


@dataclass(frozen=True)
class DecodeOptions:
    """How photos are decoded. Frozen: it crosses threads and processes."""

    max_pixels: int = DEFAULT_MAX_PIXELS
    draft_size: int | None = DEFAULT_DRAFT_SIZE  # None: always decode at full resolution
    max_decoded_bytes: int = DEFAULT_MAX_DECODED_BYTES
    reduce_above_bytes: int = REDUCE_ABOVE_BYTES


def decode_photo(
    path: str | os.PathLike[str], options: DecodeOptions = DecodeOptions()
) -> Image.Image:
    """Open ``path`` and return it upright, as 8-bit RGB. Raises ``PhotoError``."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise PhotoError(path, "file not found (moved or deleted?)") from None
    except PermissionError:  # the file's state, not its content's: tried again next scan
        raise PhotoError(path, "permission denied", True) from None
    except OSError as exc:
        raise PhotoError(path, f"cannot read file ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):  # a FIFO would block the decoder, /dev/zero never ends
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "a pipe, socket or device"
        raise PhotoError(path, f"not a regular file ({kind})")
    if st.st_size == 0:
        raise PhotoError(path, "empty file (0 bytes)")
    if is_raw(path):  # camera RAW: LibRaw's preview or demosaic (core/raw.py)
        return _run_guarded(lambda: _decode_raw(path, options), path)
    return _guarded(lambda: _open_regular(path), path, options)


def _open_regular(path: Path) -> BinaryIO:
    """Open without blocking (O_NONBLOCK: a FIFO swapped in after the check above cannot hang
    the open) and check the descriptor itself."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    fh = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        fh.close()
        raise PhotoError(path, "not a regular file (a pipe, socket or device)")
    return fh


def decode_bytes(
    data: bytes, name: str = "<bytes>", options: DecodeOptions = DecodeOptions()
) -> Image.Image:
    """``decode_photo`` for in-memory data (tests, fuzzing, previews)."""
    if not data:
        raise PhotoError(name, "empty file (0 bytes)")
    return _guarded(lambda: io.BytesIO(data), name, options)


def _guarded(
    opener: Callable[[], BinaryIO], name: str | Path, options: DecodeOptions
) -> Image.Image:
    """Run the decoder, turning every way a file can be bad into a ``PhotoError``."""

    def work() -> Image.Image:
        with opener() as fh:
            return _decode(fh, options, name)

    return _run_guarded(work, name)


def _run_guarded(work: Callable[[], Image.Image], name: str | Path) -> Image.Image:
    try:
        return work()
    except PhotoError:
        raise
    except PermissionError:
        raise PhotoError(name, "permission denied", True) from None
    except IsADirectoryError:
        raise PhotoError(name, "is a folder, not a photo") from None
    except FileNotFoundError:
        raise PhotoError(name, "file not found (moved or deleted?)") from None
    except UnidentifiedImageError:
        raise PhotoError(name, "not an image, or an image format Pillow cannot read") from None
    except Image.DecompressionBombError as exc:
        raise PhotoError(name, f"refused as a decompression bomb ({exc})") from None
    except MemoryError:
        raise PhotoError(
            name, "not enough memory to decode this image (tried again by the next scan)", True
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError, TypeError, IndexError, struct.error) as exc:
        raise PhotoError(name, _describe_decode_error(exc)) from None
    except RuntimeError as exc:
        # libheif reports a damaged HEIF as a bare RuntimeError ("Invalid input: ..."): the file's
        # fault, so a reason. A RuntimeError from anywhere else is a bug and stays one.
        if not _raised_in(exc, "pillow_heif"):
            raise
        raise PhotoError(name, _describe_decode_error(exc)) from None


def _raised_in(exc: BaseException, package: str) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__", "").split(".")[0] == package:
            return True
        tb = tb.tb_next
    return False


def _describe_decode_error(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    if "truncated" in lowered or "premature end" in lowered or isinstance(exc, EOFError):
        return f"truncated or incomplete image ({text})"
    return f"cannot decode image ({text})"


def _decode(
    fh: BinaryIO, options: DecodeOptions, path: str | Path, orient: bool = True
) -> Image.Image:
    im: Image.Image = Image.open(fh)
    width, height = im.size
    if width <= 0 or height <= 0:
        raise PhotoError(path, f"invalid image size {width}x{height}")
    if width * height > options.max_pixels:
        raise PhotoError(
            path,
            f"too large: {width}x{height} is {width * height / 1e6:.0f} megapixels, "
            f"over the {options.max_pixels / 1e6:.0f}-megapixel limit",
        )
    if options.draft_size and im.format in ("JPEG", "MPO"):
        # Must happen before load(); a square request makes orientation irrelevant.
        im.draft("RGB", (options.draft_size, options.draft_size))
    if getattr(im, "is_animated", False):
        im.seek(0)  # the first frame stands for an animation
    need = decoded_bytes(im)
    if need > options.max_decoded_bytes:
        raise PhotoError(
            path,
            f"too large to decode: {im.size[0]}x{im.size[1]} {im.mode} pixels take "
            f"{need / 2**20:.0f} MiB, over the {options.max_decoded_bytes / 2**20:.0f}-MiB limit",
        )
    im.load()
    # Applied to the result: no full-size copy. (A RAW's preview is turned by the RAW's rule.)
    orientation = im.getexif().get(0x0112, 1) if orient else 1
    factors = (1, 1)
    if options.draft_size and need > options.reduce_above_bytes:
        k = max(1, min(im.size) // (2 * options.draft_size))  # one factor: keeps the aspect
        factors = (k, k)
    out = _converted(im, factors)
    method = _ORIENTATIONS.get(orientation)
    return out if method is None else out.transpose(method)


def _decode_raw(path: Path, options: DecodeOptions) -> Image.Image:
    """A RAW file's picture (``raw.read_raw``) through the same rule as every photo: a JPEG
    preview is decoded like any JPEG (draft, size limits), pixels are size-checked; then turned
    as ``read_raw`` decided."""
    picture = read_raw(path, options.max_pixels, _jpeg_header)
    if picture.jpeg is not None:
        jpeg = picture.jpeg

        def work() -> Image.Image:
            with io.BytesIO(jpeg) as fh:
                return _decode(fh, options, path, orient=False)  # read_raw chose the turn

        im = _run_guarded(work, path)
    else:
        assert picture.pixels is not None
        height, width = picture.pixels.shape[:2]
        if width * height * 4 > options.max_decoded_bytes:
            raise PhotoError(path, f"too large to decode: a {width}x{height} RAW picture")
        im = Image.fromarray(picture.pixels, "RGB")
    method = _ORIENTATIONS.get(picture.orientation)
    return im if method is None else im.transpose(method)


def _jpeg_header(data: bytes) -> tuple[tuple[int, int], int | None] | None:
    try:
        with Image.open(io.BytesIO(data)) as im:
            orientation = im.getexif().get(0x0112)
            return (
                im.size,
                orientation if orientation in _ORIENTATIONS or orientation == 1 else None,
            )
    except (OSError, SyntaxError, ValueError, struct.error):
        return None  # a broken preview: the demosaic stands in


_ORIENTATIONS = {  # EXIF orientation -> what ImageOps.exif_transpose does
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_INT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def decoded_bytes(im: Image.Image) -> int:
    """What Pillow allocates for ``im``'s pixels: 1 byte for 1, L and P; 2 for 16-bit; 4 for
    the rest (Pillow keeps RGB in 4 bytes per pixel)."""
    if im.mode in ("1", "L", "P"):
        per_pixel = 1
    elif im.mode.startswith("I;16"):
        per_pixel = 2
    else:
        per_pixel = 4
    return im.size[0] * im.size[1] * per_pixel


def _strips(im: Image.Image, multiple: int) -> list[tuple[int, int]]:
    """Row ranges of about ``STRIP_BYTES`` each, a multiple of ``multiple`` rows high."""
    height = im.size[1]
    rows = max(1, STRIP_BYTES // max(1, decoded_bytes(im) // max(1, height)))
    rows = max(multiple, rows // multiple * multiple)
    return [(top, min(height, top + rows)) for top in range(0, height, rows)]


def _converted(im: Image.Image, factors: tuple[int, int]) -> Image.Image:
    """``to_rgb8`` (then ``reduce(factors)``) strip by strip: memory beyond ``im`` itself is a
    strip's worth plus the (reduced) result. Per-pixel rules give the same pixels as converting
    the whole image at once; the value range of 16-bit and float images is measured first."""
    strips = _strips(im, factors[1])
    if factors == (1, 1) and (len(strips) == 1 or im.mode == "RGB"):
        return to_rgb8(im)
    value_range = _value_range(im, strips)
    width, height = im.size
    out = Image.new("RGB", (-(-width // factors[0]), -(-height // factors[1])))
    for top, bottom in strips:
        part = to_rgb8(im.crop((0, top, width, bottom)), value_range)
        if factors != (1, 1):
            part = part.reduce(factors)
        out.paste(part, (0, top // factors[1]))
    return out


def _value_range(im: Image.Image, strips: Iterable[tuple[int, int]]) -> tuple[float, float] | None:
    if im.mode not in (*_INT_MODES, "F"):
        return None
    low, high = 0.0, 0.0  # what min/max(initial=0) gave on the whole image
    for top, bottom in strips:
        arr = np.asarray(im.crop((0, top, im.size[0], bottom)))
        if im.mode == "F":
            arr = np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0)
        low, high = min(low, float(arr.min(initial=0))), max(high, float(arr.max(initial=0)))
    return low, high


def _int_to_uint8(arr: np.ndarray, mode: str, high: float) -> np.ndarray:
    """Integer pixels to 8 bits without float64: round(x * 255 / top), negatives to 0."""
    if mode == "I" and high <= 255:
        small: np.ndarray = np.clip(arr, 0, 255).astype(np.uint8)
        return small
    top = 65535 if high <= 65535 else int(high)
    wide = np.uint32 if top == 65535 else np.int64  # 65535 * 255 + 32767 < 2**24
    x = np.clip(arr, 0, None).astype(wide)
    scaled: np.ndarray = ((x * 255 + top // 2) // top).astype(np.uint8)
    return scaled


def to_rgb8(im: Image.Image, value_range: tuple[float, float] | None = None) -> Image.Image:
    """The colour part of the decoding rule; see the module docstring. ``value_range``: the
    (low, high) of the whole image when ``im`` is one strip of it (16-bit, 32-bit and float)."""
    mode = im.mode
    if mode == "RGB":
        return im
    if mode in _INT_MODES:
        arr = np.asarray(im)
        high = float(arr.max(initial=0)) if value_range is None else value_range[1]
        return Image.fromarray(_int_to_uint8(arr, mode, high), "L").convert("RGB")
    if mode == "F":
        arr = np.asarray(im, dtype=np.float64)
        arr = np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0)
        if value_range is None:
            value_range = float(arr.min(initial=0.0)), float(arr.max(initial=0.0))
        low, high = value_range
        if low >= 0.0 and high <= 1.0:
            arr = arr * 255.0
        elif high > low:
            arr = (arr - low) * (255.0 / (high - low))
        return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "L").convert("RGB")
    if mode == "CMYK":
        icc = im.info.get("icc_profile")
        if icc:
            try:
                src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
                converted = ImageCms.profileToProfile(im, src, _SRGB, outputMode="RGB")
                if converted is not None:
                    return converted
            except (ImageCms.PyCMSError, OSError, ValueError):
                pass  # a broken profile: fall back to Pillow's naive conversion
        return im.convert("RGB")
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        mode in ("P", "L", "RGB") and "transparency" in im.info
    ):
        # What BLIP's processor does (transformers.image_transforms.convert_to_rgb): onto white.
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return im.convert("RGB")


def resize_for_model(im: Image.Image, size: int = MODEL_IMAGE_SIZE) -> np.ndarray:
    """The processor's resize step: bicubic squash to ``size`` x ``size``, uint8 HWC."""
    if im.mode != "RGB":
        im = to_rgb8(im)
    return np.array(im.resize((size, size), Image.Resampling.BICUBIC), dtype=np.uint8)


def load_for_model(
    path: str | os.PathLike[str],
    options: DecodeOptions = DecodeOptions(),
    size: int = MODEL_IMAGE_SIZE,
) -> np.ndarray:
    """Decode + resize: what a decode worker hands to the model (uint8, size x size x 3)."""
    return resize_for_model(decode_photo(path, options), size)
