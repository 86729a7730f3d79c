"""Decoding photos: one documented rule for every file.

``decode_photo(path)`` returns an upright 8-bit RGB ``PIL.Image``:

1. Refuse empty files and anything over ``max_pixels`` before decoding (decompression bombs).
2. JPEG: DCT-domain draft decoding (``Image.draft``) to the smallest 1/1, 1/2, 1/4 or 1/8 scale
   that keeps both sides at least ``draft_size``. The model squashes every photo to 384x384, so
   the processor's own bicubic resize still has at least ``draft_size`` pixels to work from.
3. EXIF orientation applied (``ImageOps.exif_transpose``), so the model sees what people see.
4. To 8-bit RGB:
   - 16-bit and 32-bit integer images are scaled to 8 bits (65535 -> 255), never clipped
     (Pillow's plain ``convert("RGB")`` clips a 16-bit PNG to almost pure white);
   - float images are scaled from [0, 1] (or their own range when it exceeds it);
   - transparency is composited onto white, exactly as BLIP's processor does for RGBA input;
   - CMYK goes through its embedded ICC profile to sRGB when it has one;
   - palette, grayscale, bilevel and the rest convert to RGB.

``to_model_input`` then reproduces BLIP's image processor (PIL backend): bicubic squash to 384x384,
rescale by 1/255, normalise with the CLIP mean and std. Doing it here (rather than through the
processor object) pins one backend, so scores do not depend on whether torchvision happens to be
installed, and lets decode workers hand back small uint8 arrays.

Every failure becomes a ``PhotoError`` that names the file and the reason.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageFile, ImageOps, UnidentifiedImageError

from blipdesk.errors import PhotoError

# Pillow refuses > 2 * MAX_IMAGE_PIXELS itself; we enforce our own, clearer limit first.
DEFAULT_MAX_PIXELS = 250_000_000
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


def decode_photo(
    path: str | os.PathLike[str], options: DecodeOptions = DecodeOptions()
) -> Image.Image:
    """Open ``path`` and return it upright, as 8-bit RGB. Raises ``PhotoError``."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise PhotoError(path, "file not found (moved or deleted?)") from None
    except PermissionError:
        raise PhotoError(path, "permission denied") from None
    except OSError as exc:
        raise PhotoError(path, f"cannot read file ({exc.strerror or exc})") from None
    if size == 0:
        raise PhotoError(path, "empty file (0 bytes)")
    return _guarded(lambda: open(path, "rb"), path, options)


def decode_bytes(
    data: bytes, name: str = "<bytes>", options: DecodeOptions = DecodeOptions()
) -> Image.Image:
    """``decode_photo`` for in-memory data (tests, fuzzing, previews)."""
    if not data:
        raise PhotoError(name, "empty file (0 bytes)")
    return _guarded(lambda: io.BytesIO(data), name, options)


def _guarded(opener, name: str | Path, options: DecodeOptions) -> Image.Image:
    """Run the decoder, turning every way a file can be bad into a ``PhotoError``."""
    try:
        with opener() as fh:
            return _decode(fh, options, name)
    except PhotoError:
        raise
    except PermissionError:
        raise PhotoError(name, "permission denied") from None
    except IsADirectoryError:
        raise PhotoError(name, "is a folder, not a photo") from None
    except FileNotFoundError:
        raise PhotoError(name, "file not found (moved or deleted?)") from None
    except UnidentifiedImageError:
        raise PhotoError(name, "not an image, or an image format Pillow cannot read") from None
    except Image.DecompressionBombError as exc:
        raise PhotoError(name, f"refused as a decompression bomb ({exc})") from None
    except MemoryError:
        raise PhotoError(name, "not enough memory to decode this image") from None
    except (OSError, SyntaxError, ValueError, EOFError, TypeError, IndexError, struct.error) as exc:
        raise PhotoError(name, _describe_decode_error(exc)) from None


def _describe_decode_error(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    if "truncated" in lowered or "premature end" in lowered or isinstance(exc, EOFError):
        return f"truncated or incomplete image ({text})"
    return f"cannot decode image ({text})"


def _decode(fh, options: DecodeOptions, path: str | Path) -> Image.Image:
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
    im.load()
    im = ImageOps.exif_transpose(im) or im
    return to_rgb8(im)


def to_rgb8(im: Image.Image) -> Image.Image:
    """The colour part of the decoding rule; see the module docstring."""
    mode = im.mode
    if mode == "RGB":
        return im
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        arr = np.asarray(im, dtype=np.float64)
        if mode != "I" or arr.max(initial=0) > 255:
            top = 65535.0 if arr.max(initial=0) <= 65535 else float(arr.max())
            arr = arr * (255.0 / top)
        return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "L").convert("RGB")
    if mode == "F":
        arr = np.asarray(im, dtype=np.float64)
        arr = np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0)
        low, high = float(arr.min(initial=0.0)), float(arr.max(initial=0.0))
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
