"""Camera RAW files (CR2, CR3, NEF, ARW, RAF, ORF, RW2, PEF, DNG, ...) through LibRaw (``rawpy``).

The rule (``RAW_DECODE_RULE``; part of a RAW file's image key, see ``inventory.image_key``, so
features and scores from it never mix with another decoder's; its labels and ratings are kept by
the file's content identity and survive a new rule):

1. The embedded preview the camera wrote (``extract_thumb``): a JPEG, or a bitmap. It is what the
   camera and every photo browser show, and costs a fraction of a demosaic.
2. When there is none, or its shorter side is below the model's input (``MODEL_IMAGE_SIZE``,
   384), a half-size demosaic of the sensor data instead (camera white balance, 8 bits, sRGB).
   The threshold is the model's, not the caller's: thumbnails, the viewer and the model all see
   the same picture.
3. Orientation: a JPEG preview's own EXIF orientation when it has one (LibRaw itself writes the
   RAW's into previews that came without an EXIF header), else the RAW's flip value (LibRaw's
   ``sizes.flip``); applied unless the preview is already upright: a quarter turn asked for and
   the preview's sides already swapped against the sensor's (cameras that store previews turned).
   A demosaic comes out upright from LibRaw itself.

The file is opened once without blocking and checked to be a regular file; LibRaw then reads that
very descriptor (``/proc/self/fd/N`` on Linux), so a FIFO swapped in later cannot hang it.

``rawpy`` is a dependency; without it, a RAW file gets a clear, transient reason (retried by the
next scan, so installing rawpy is enough).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np

from blipdesk.infra.errors import PhotoError

RAW_DECODE_RULE = "raw-1:preview-min-384,half-demosaic,flip-unless-upright"
RAW_MIN_PREVIEW = 384  # the model's input side (imaging.MODEL_IMAGE_SIZE)
NO_RAWPY = "RAW files need the rawpy package (pip install rawpy); tried again by the next scan"

JpegHeader: TypeAlias = Callable[[bytes], "tuple[tuple[int, int], int | None] | None"]

# LibRaw's flip -> the EXIF orientation that means the same turn.
FLIP_TO_EXIF = {3: 3, 5: 8, 6: 6}


@dataclass(frozen=True)
class RawPicture:
    """What a RAW file shows: a JPEG preview's bytes (to decode without applying their own EXIF
    orientation), or RGB pixels (a bitmap preview or a demosaic); ``orientation``: the EXIF
    orientation to apply to it (1: none)."""

    jpeg: bytes | None
    pixels: np.ndarray | None
    orientation: int
    source: str  # "jpeg preview", "bitmap preview" or "half-size demosaic"


# What a person calls each RAW format (the information panel's "File:" row).
RAW_FORMATS = {
    ".cr2": "Canon CR2", ".cr3": "Canon CR3", ".crw": "Canon CRW", ".nef": "Nikon NEF",
    ".nrw": "Nikon NRW", ".arw": "Sony ARW", ".srf": "Sony SRF", ".sr2": "Sony SR2",
    ".raf": "Fujifilm RAF", ".orf": "Olympus ORF", ".rw2": "Panasonic RW2", ".pef": "Pentax PEF",
    ".dng": "DNG", ".srw": "Samsung SRW", ".3fr": "Hasselblad 3FR", ".iiq": "Phase One IIQ",
    ".x3f": "Sigma X3F",
}  # fmt: skip


def raw_format(path: str | os.PathLike[str]) -> str:
    """ "DNG", "Canon CR3", "Nikon NEF"…: the RAW format by the file's suffix ("" when not RAW)."""
    return RAW_FORMATS.get(os.path.splitext(os.fspath(path))[1].lower(), "")


def sensor_size(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """The picture the sensor records, upright, in pixels (LibRaw's output size after its
    crop, turned by the RAW's flip): what the camera calls its resolution, not the embedded
    preview's. Reads the header only (no unpacking); None when LibRaw cannot open the file."""
    try:
        import rawpy
    except ImportError:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        where = f"/proc/self/fd/{fd}" if os.path.isdir("/proc/self/fd") else os.fspath(path)
        with rawpy.imread(where) as raw:
            sizes = raw.sizes
            width, height = int(sizes.width), int(sizes.height)
            if sizes.flip in (5, 6):  # a quarter turn: the upright picture is taller
                width, height = height, width
            return (width, height) if width > 0 and height > 0 else None
    except rawpy.LibRawError:
        return None
    finally:
        os.close(fd)


def rawpy_available() -> bool:
    try:
        import rawpy  # noqa: F401
    except ImportError:
        return False
    return True


def read_raw(
    path: str | os.PathLike[str], max_pixels: int, jpeg_header: JpegHeader | None = None
) -> RawPicture:
    """Open a RAW file and return its picture (see the module docstring). ``jpeg_header``: reads
    a JPEG preview's ``((width, height), EXIF orientation or None)``, or None when it is broken
    (imaging passes Pillow's header read); without it JPEG previews are not used.
    Raises ``PhotoError``."""
    path = Path(path)
    try:
        import rawpy
    except ImportError:
        raise PhotoError(path, NO_RAWPY, True) from None
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise PhotoError(path, "not a regular file (a pipe, socket or device)")
        where = f"/proc/self/fd/{fd}" if os.path.isdir("/proc/self/fd") else os.fspath(path)
        try:
            with rawpy.imread(where) as raw:
                return _picture(raw, path, max_pixels, jpeg_header)
        except rawpy.LibRawFileUnsupportedError:
            # Transient: a newer rawpy may read it, and trying again costs a header read.
            raise PhotoError(
                path, "not a RAW file this LibRaw can read (unsupported or damaged)", True
            ) from None
        except rawpy.LibRawTooBigError:
            raise PhotoError(path, "too large for LibRaw to decode") from None
        except (rawpy.LibRawUnsufficientMemoryError, rawpy.LibRawMemPoolOverflowError):
            raise PhotoError(
                path,
                "not enough memory to decode this RAW file (tried again by the next scan)",
                True,
            ) from None
        except rawpy.LibRawError as exc:
            raise PhotoError(
                path, f"cannot decode RAW file ({type(exc).__name__}: {exc})"
            ) from None
    finally:
        os.close(fd)


def _picture(raw: Any, path: Path, max_pixels: int, jpeg_header: JpegHeader | None) -> RawPicture:
    import rawpy

    sizes = raw.sizes
    if sizes.raw_width * sizes.raw_height > max_pixels:
        raise PhotoError(
            path,
            f"too large: {sizes.raw_width}x{sizes.raw_height} is "
            f"{sizes.raw_width * sizes.raw_height / 1e6:.0f} megapixels, "
            f"over the {max_pixels / 1e6:.0f}-megapixel limit",
        )
    sensor_landscape = sizes.width >= sizes.height
    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        thumb = None
    except rawpy.LibRawError:  # a damaged preview: the sensor data may still be good
        thumb = None
    if thumb is not None:
        if thumb.format == rawpy.ThumbFormat.JPEG:
            data = bytes(thumb.data)
            header = jpeg_header(data) if jpeg_header is not None else None
            if header is not None and min(header[0]) >= RAW_MIN_PREVIEW:
                size, own = header
                turn = _turn(own or FLIP_TO_EXIF.get(sizes.flip, 1), size, sensor_landscape)
                return RawPicture(data, None, turn, "jpeg preview")
        elif thumb.format == rawpy.ThumbFormat.BITMAP:
            pixels = np.ascontiguousarray(thumb.data)
            if pixels.ndim == 2:
                pixels = pixels[:, :, None]
            if pixels.shape[2] < 3:  # grey
                pixels = np.repeat(pixels[:, :, :1], 3, axis=2)
            if pixels.dtype != np.uint8:
                pixels = (pixels.astype(np.uint32) * 255 // max(1, int(pixels.max()))).astype(
                    np.uint8
                )
            size = (pixels.shape[1], pixels.shape[0])
            if min(size) >= RAW_MIN_PREVIEW:
                turn = _turn(FLIP_TO_EXIF.get(sizes.flip, 1), size, sensor_landscape)
                return RawPicture(None, pixels[:, :, :3], turn, "bitmap preview")
    pixels = raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8, no_auto_bright=False)
    return RawPicture(None, np.ascontiguousarray(pixels), 1, "half-size demosaic")


def _turn(orientation: int, size: tuple[int, int], sensor_landscape: bool) -> int:
    """The EXIF orientation to apply to a preview of ``size`` that says ``orientation``: none
    when that is a quarter turn and the preview's sides are already swapped against the sensor's."""
    if orientation in (6, 8) and (size[0] >= size[1]) != sensor_landscape:
        return 1  # already upright: the camera rotated the preview itself
    return orientation
