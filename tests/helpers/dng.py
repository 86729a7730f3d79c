"""Real DNG files, written with ``tifffile`` the way cameras and converters write them: IFD0 holds
the preview (a JPEG, or an uncompressed RGB bitmap, or none), its SubIFD the Bayer sensor data
(16-bit CFA, RGGB) with the DNG tags LibRaw needs to demosaic it (black/white level, colour
matrix, as-shot white balance). LibRaw reads them as it reads a camera's DNG.

The scene is a picture the tests can recognise: left half red, right half blue, a white top
band, so a test can tell which way up a decode came out and whether it came from the preview or
the sensor data (the preview is drawn with a green square the sensor data lacks).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image


def scene(width: int, height: int, marker: bool, noise: int = 0) -> np.ndarray:
    """RGB uint8: red left, blue right, a white band on top, and (``marker``) a green square in
    the middle of the bottom half. ``noise``: added texture (+-noise), so that a JPEG of it
    weighs what a photo does (benchmarks)."""
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[:, : width // 2] = (200, 30, 30)
    rgb[:, width // 2 :] = (30, 30, 200)
    rgb[: height // 6] = (240, 240, 240)
    if marker:
        s = max(2, min(width, height) // 6)
        cy, cx = height * 3 // 4, width // 2
        rgb[cy - s // 2 : cy + s // 2, cx - s // 2 : cx + s // 2] = (30, 220, 30)
    if noise:
        grain = np.random.default_rng(0).integers(-noise, noise + 1, rgb.shape, dtype=np.int16)
        rgb = np.clip(rgb.astype(np.int16) + grain, 0, 255).astype(np.uint8)
    return rgb


def bayer(rgb: np.ndarray, white: int = 4095, black: int = 64) -> np.ndarray:
    """An RGGB mosaic of ``rgb`` at 12 bits (uint16)."""
    lin = (rgb.astype(np.float64) / 255.0) ** 2.2
    cfa = np.empty(rgb.shape[:2], np.float64)
    cfa[0::2, 0::2] = lin[0::2, 0::2, 0]
    cfa[0::2, 1::2] = lin[0::2, 1::2, 1]
    cfa[1::2, 0::2] = lin[1::2, 0::2, 1]
    cfa[1::2, 1::2] = lin[1::2, 1::2, 2]
    return (black + cfa * (white - black)).round().astype(np.uint16)


def write_dng(
    path: str | Path,
    width: int = 1200,
    height: int = 800,
    preview: str | None = "jpeg",  # "jpeg", "bitmap" or None
    preview_size: tuple[int, int] = (600, 400),
    orientation: int = 1,
    preview_upright: bool = False,
    preview_exif_orientation: int | None = None,
    noise: int = 0,
) -> Path:
    """Write a DNG of the scene. ``orientation``: the TIFF/EXIF orientation of the RAW (LibRaw's
    flip). ``preview_upright``: the preview is stored already turned by ``orientation`` (as some
    cameras do). ``preview_exif_orientation``: an EXIF orientation inside the JPEG preview."""
    import tifffile

    path = Path(path)
    sensor = bayer(scene(width, height, marker=False, noise=noise))
    extratags_raw = [
        (33421, "H", 2, (2, 2)),  # CFARepeatPatternDim
        (33422, "B", 4, (0, 1, 1, 2)),  # CFAPattern: RGGB
        (50714, "H", 1, 64),  # BlackLevel
        (50717, "H", 1, 4095),  # WhiteLevel
    ]
    common = [
        (50706, "B", 4, (1, 4, 0, 0)),  # DNGVersion
        (50707, "B", 4, (1, 1, 0, 0)),  # DNGBackwardVersion
        (50708, "s", 0, "blipdesk test camera"),  # UniqueCameraModel
        (271, "s", 0, "blipdesk"),  # Make
        (272, "s", 0, "test camera"),  # Model
        (274, "H", 1, orientation),  # Orientation
        # ColorMatrix1 (XYZ -> camera), sRGB's: the camera's colours are sRGB's.
        (
            50721,
            "2i",
            9,
            _rationals(3.240, -1.537, -0.499, -0.969, 1.876, 0.041, 0.056, -0.204, 1.057),
        ),
        (50778, "H", 1, 21),  # CalibrationIlluminant1: D65
        (50728, "2I", 3, (1, 1, 1, 1, 1, 1)),  # AsShotNeutral
    ]
    pw, ph = preview_size
    shown = scene(pw, ph, marker=True, noise=noise)
    if preview_upright:  # the camera stored the preview as it is to be seen
        shown = displayed(shown, orientation)
        ph, pw = shown.shape[:2]
    # tifffile looks up a JPEG encoder (from imagecodecs) even for strips handed over already
    # encoded; register Pillow's, so writing a JPEG preview needs no imagecodecs.
    tifffile.TIFF.COMPRESSORS._codecs.setdefault(7, _pillow_jpeg)
    with tifffile.TiffWriter(path) as tif:
        if preview == "jpeg":
            buf = io.BytesIO()
            exif = Image.Exif()
            if preview_exif_orientation is not None:
                exif[0x0112] = preview_exif_orientation
            Image.fromarray(shown).save(buf, "JPEG", quality=92, exif=exif.tobytes())
            tif.write(
                iter([buf.getvalue()]),
                shape=(ph, pw, 3),
                dtype=np.uint8,
                photometric="ycbcr",
                compression="jpeg",
                rowsperstrip=ph,
                subfiletype=1,
                subifds=1,
                extratags=common,
                metadata=None,
            )
        elif preview == "bitmap":
            tif.write(
                shown,
                photometric="rgb",
                subfiletype=1,
                subifds=1,
                extratags=common,
                metadata=None,
            )
        else:  # a tiny 8-bit placeholder stands in IFD0, as the DNG spec needs something there
            tif.write(
                np.zeros((16, 16, 3), np.uint8),
                photometric="rgb",
                subfiletype=1,
                subifds=1,
                extratags=common,
                metadata=None,
            )
        tif.write(
            sensor,
            photometric=32803,  # CFA
            subfiletype=0,
            extratags=extratags_raw,
            metadata=None,
        )
    return path


def _rationals(*values: float) -> tuple[int, ...]:
    return tuple(v for x in values for v in (round(x * 1000), 1000))


def _pillow_jpeg(data: np.ndarray, level: int | None = None, **_kwargs: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.asarray(data).reshape(data.shape[-3:]).squeeze()).save(
        buf, "JPEG", quality=level or 92
    )
    return buf.getvalue()


def displayed(stored: np.ndarray, orientation: int) -> np.ndarray:
    """``stored`` as seen once its EXIF ``orientation`` (1, 3, 6 or 8) is applied."""
    turns = {6: -1, 8: 1, 3: 2}.get(orientation, 0)  # np.rot90 counts counter-clockwise
    return np.ascontiguousarray(np.rot90(stored, turns))
