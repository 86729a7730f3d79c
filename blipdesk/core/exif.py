"""What a photo's EXIF says, for people: the one EXIF reader (``files.exif_taken`` uses it too).

``photo_info(path)`` reads the header only (never the pixels): camera, lens, exposure, focal
length, pixel size (upright), date taken, whether GPS coordinates are present, file type and
size. ``shot_facts(path)`` reads, as values, what the metadata filter and the sorts use (camera,
lens, ISO, focal length, aperture, the moment taken). Opened without blocking and only when a regular file (a FIFO named like a photo must not
hang the thread that reads it). Qt-free and torch-free; Pillow imported when called. Damaged
metadata gives fewer fields, never an exception; a file Pillow cannot open gives ``error``.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any

# EXIF tags (CIPA DC-008) and IFD pointers.
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
MAKE, MODEL, ORIENTATION, DATETIME = 0x010F, 0x0110, 0x0112, 0x0132
EXPOSURE_TIME, F_NUMBER, ISO, DATETIME_ORIGINAL = 0x829A, 0x829D, 0x8827, 0x9003
FOCAL_LENGTH, FOCAL_35MM, LENS_MAKE, LENS_MODEL = 0x920A, 0xA405, 0xA433, 0xA434
GPS_LATITUDE, GPS_LONGITUDE = 0x0002, 0x0004


@dataclass(frozen=True)
class PhotoInfo:
    """What the information panel shows; ``None`` or empty where the file does not say."""

    path: str
    file_type: str = ""  # "JPEG", "PNG", "HEIF"…
    file_size: int = 0
    width: int = 0  # upright pixels
    height: int = 0
    camera: str = ""
    lens: str = ""
    exposure: str = ""  # "1/250 s", "2.5 s"
    aperture: str = ""  # "f/2.8"
    iso: str = ""  # "ISO 200"
    focal_length: str = ""  # "50 mm (75 mm in 35 mm)"
    taken: datetime | None = None
    gps: bool = False
    error: str = ""  # why the file could not be read

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) for every field known, in the panel's order."""
        exposure = " · ".join(v for v in (self.exposure, self.aperture, self.iso) if v)
        size = f"{self.width} × {self.height} px" if self.width else ""
        if self.width:
            size += f" ({self.width * self.height / 1e6:.1f} MP)"
        taken = self.taken.strftime("%Y-%m-%d %H:%M:%S") if self.taken else ""
        rows = [
            ("Camera", self.camera),
            ("Lens", self.lens),
            ("Exposure", exposure),
            ("Focal length", self.focal_length),
            ("Pixels", size),
            ("Taken", taken),
            ("GPS", "location recorded" if self.gps else "none"),
            ("File", f"{self.file_type or '?'} · {file_size_text(self.file_size)}"),
        ]
        return [(label, value) for label, value in rows if value]


@dataclass(frozen=True)
class ShotFacts:
    """What a photo's EXIF says of how it was taken, as values to filter and sort by (the
    metadata filter's columns, as Lightroom's): camera, lens, ISO, focal length (mm, as
    recorded), aperture (f-number), and the moment taken (a timestamp, to the second). Empty or
    ``None`` where the file does not say."""

    camera: str = ""
    lens: str = ""
    iso: int | None = None
    focal: float | None = None
    aperture: float | None = None
    taken: float | None = None


NO_FACTS = ShotFacts()


def shot_facts(path: str) -> ShotFacts:
    """``ShotFacts`` of ``path`` from its header (never the pixels); ``NO_FACTS`` when the file
    cannot be read or says nothing. Safe on any thread."""
    try:
        with _opened(path) as im:
            exif = im.getexif()
            sub = exif.get_ifd(EXIF_IFD)
    except Exception:
        return NO_FACTS
    when = parse_taken(sub.get(DATETIME_ORIGINAL) or exif.get(DATETIME))
    iso = _iso(sub.get(ISO))
    focal, f_number = _number(sub.get(FOCAL_LENGTH)), _number(sub.get(F_NUMBER))
    return ShotFacts(
        camera=_camera(_text(exif.get(MAKE)), _text(exif.get(MODEL))),
        lens=_lens(sub),
        iso=iso,
        focal=round(focal, 1) if focal else None,
        aperture=round(f_number, 1) if f_number else None,
        taken=None if when is None else when.timestamp(),
    )


def _iso(value: object) -> int | None:
    if isinstance(value, tuple):
        value = value[0] if value else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _lens(sub: Any) -> str:
    lens = _text(sub.get(LENS_MODEL))
    lens_make = _text(sub.get(LENS_MAKE))
    if lens_make and lens and not lens.lower().startswith(lens_make.lower()):
        lens = f"{lens_make} {lens}"
    return lens


def file_size_text(size: int) -> str:
    """Sizes people read: "820 KB", "3.4 MB", "312 bytes" (never "0.0 MB")."""
    if size < 1000:
        return f"{size} bytes"
    if size < 1000**2:
        return f"{size / 1000:.0f} KB"
    if size < 1000**3:
        return f"{size / 1000**2:.1f} MB"
    return f"{size / 1000**3:.2f} GB"


@contextmanager
def _opened(path: str) -> Iterator[Any]:
    """Pillow's image of ``path``, opened without blocking, regular files only."""
    from PIL import Image

    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise OSError(errno.EINVAL, "not a regular file (a pipe, socket or device)")
        with Image.open(fh) as im:
            yield im


def parse_taken(value: object) -> datetime | None:
    """An EXIF date ("2024:07:01 12:30:05") as a local datetime; None when absent or malformed."""
    if not value:
        return None
    try:
        return datetime.strptime(str(value).strip("\0 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None


def taken(path: str) -> datetime | None:
    """EXIF DateTimeOriginal, else DateTime; None when absent or unreadable."""
    try:
        with _opened(path) as im:
            exif = im.getexif()
            return parse_taken(exif.get_ifd(EXIF_IFD).get(DATETIME_ORIGINAL) or exif.get(DATETIME))
    except Exception:
        return None


def _number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]  # IFDRational, int, float
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if number == number and number > 0 else None  # no NaN, no 0/0


def _text(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value or "").strip("\0 ").strip()


def _exposure(value: object) -> str:
    seconds = _number(value)
    if seconds is None:
        return ""
    if seconds >= 0.3:
        return f"{seconds:g} s"
    return f"1/{round(1 / seconds)} s" if seconds else ""


def _camera(make: str, model: str) -> str:
    """ "Canon EOS R5", not "Canon Canon EOS R5" (many models repeat the make)."""
    if make and model.lower().startswith(make.split()[0].lower()):
        return model
    return " ".join(v for v in (make, model) if v)


def photo_info(path: str) -> PhotoInfo:
    """Everything the information panel shows about ``path``; see the module docstring. For a
    camera RAW file, the sensor's size and the RAW format (LibRaw's header), not those of the
    preview or the TIFF container Pillow sees (a DNG is a TIFF to Pillow)."""
    from dataclasses import replace

    from blipdesk.core.raw import raw_format, sensor_size

    info = _pillow_info(path)
    kind = raw_format(path)
    if not kind or (info.error and not info.file_size):
        return info
    sensor = sensor_size(path)
    if sensor is None:
        return replace(info, file_type=kind)
    # A RAW Pillow cannot open (CR3, NEF...) still has its format and size to show.
    return replace(info, file_type=kind, width=sensor[0], height=sensor[1], error="")


def _pillow_info(path: str) -> PhotoInfo:
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        return PhotoInfo(path, error=f"cannot read file ({exc.strerror or exc})")
    try:
        with _opened(path) as im:
            fmt = im.format or ""
            width, height = im.size
            exif = im.getexif()
            sub = exif.get_ifd(EXIF_IFD)
            gps = exif.get_ifd(GPS_IFD)
    except Exception as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return PhotoInfo(path, file_size=size, error=f"cannot read its header ({reason})")
    if exif.get(ORIENTATION, 1) in (5, 6, 7, 8):
        width, height = height, width
    focal = _number(sub.get(FOCAL_LENGTH))
    focal35 = _number(sub.get(FOCAL_35MM))
    focal_text = f"{focal:g} mm" if focal else ""
    if focal_text and focal35 and round(focal35) != round(focal or 0):
        focal_text += f" ({focal35:g} mm full-frame equivalent)"
    f_number = _number(sub.get(F_NUMBER))
    iso = _iso(sub.get(ISO))
    lens = _lens(sub)
    return PhotoInfo(
        path=path,
        file_type={"MPO": "JPEG (MPO)"}.get(fmt, fmt),
        file_size=size,
        width=width,
        height=height,
        camera=_camera(_text(exif.get(MAKE)), _text(exif.get(MODEL))),
        lens=lens,
        exposure=_exposure(sub.get(EXPOSURE_TIME)),
        aperture=f"f/{float(Fraction(f_number).limit_denominator(10)):g}" if f_number else "",
        iso=f"ISO {iso}" if iso else "",
        focal_length=focal_text,
        taken=parse_taken(sub.get(DATETIME_ORIGINAL) or exif.get(DATETIME)),
        gps=bool(gps.get(GPS_LATITUDE) and gps.get(GPS_LONGITUDE)),
    )
