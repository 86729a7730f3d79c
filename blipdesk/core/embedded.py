"""What a photo file carries about itself for keywords (issue 26): its embedded XMP packet (JPEG
APP1, TIFF/DNG tag 700, PNG iTXt ``XML:com.adobe.xmp``, and for HEIC and anything else a packet
found by scanning, as the XMP specification's fallback for unknown formats) and the IPTC-IIM
Keywords (2:25) of a JPEG's Photoshop APP13 block. Read-only, and as hostile input: only a
regular file, opened non-blocking; every length is checked against the file and ``MAX_PACKET``;
nothing is decompressed past ``MAX_PACKET``; a malformed structure yields what was read before
it, never an exception other than ``OSError`` for a file that cannot be read."""

from __future__ import annotations

import os
import stat
import struct
import zlib
from dataclasses import dataclass
from typing import BinaryIO

MAX_PACKET = 16 << 20  # bytes of one XMP packet or IPTC block (as for a sidecar)
SCAN_BYTES = 16 << 20  # how far into a file of another format a packet is looked for
_XMP_APP1 = b"http://ns.adobe.com/xap/1.0/\x00"
_PHOTOSHOP = b"Photoshop 3.0\x00"
_PNG = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Embedded:
    xmp: bytes | None = None  # the XMP packet, as found
    iptc_keywords: tuple[str, ...] = ()


def read_embedded(path: str | os.PathLike[str]) -> Embedded:
    """The XMP packet and IPTC keywords embedded in the photo at ``path``."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"{os.fspath(path)!r} is not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            try:
                return _read(fh, st.st_size)
            except (struct.error, ValueError):  # a structure that lies about itself
                return Embedded()
    finally:
        os.close(fd)


def _read(fh: BinaryIO, size: int) -> Embedded:
    head = fh.read(16)
    fh.seek(0)
    if head.startswith(b"\xff\xd8"):
        return _jpeg(fh, size)
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        xmp = _tiff(fh, size)
    elif head.startswith(_PNG):
        xmp = _png(fh, size)
    else:
        xmp = None
    return Embedded(xmp if xmp is not None else _scan(fh.read(SCAN_BYTES)))


def _jpeg(fh: BinaryIO, size: int) -> Embedded:
    xmp: bytes | None = None
    keywords: list[str] = []
    fh.seek(2)
    while True:
        marker = fh.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            break
        kind = marker[1]
        if kind == 0xFF:  # fill byte
            fh.seek(-1, os.SEEK_CUR)
            continue
        if kind in (0xD9, 0xDA) or 0xD0 <= kind <= 0xD7 or kind == 0x01:
            break  # end of image, start of scan: no more metadata segments
        raw = fh.read(2)
        if len(raw) < 2:
            break
        length = struct.unpack(">H", raw)[0] - 2
        if length < 0 or fh.tell() + length > size:
            break
        if kind == 0xE1 and xmp is None:
            body = fh.read(length)
            if body.startswith(_XMP_APP1):
                xmp = body[len(_XMP_APP1) :]
                continue
        elif kind == 0xED:
            body = fh.read(length)
            if body.startswith(_PHOTOSHOP):
                keywords += _iptc_keywords(body[len(_PHOTOSHOP) :])
            continue
        else:
            fh.seek(length, os.SEEK_CUR)
            continue
    return Embedded(xmp, tuple(dict.fromkeys(keywords)))


def _iptc_keywords(resources: bytes) -> list[str]:
    """IPTC-IIM 2:25 from the IPTC resource (0x0404) of Photoshop image resource blocks."""
    out: list[str] = []
    at = 0
    while at + 12 <= len(resources) and resources[at : at + 4] == b"8BIM":
        rid = struct.unpack(">H", resources[at + 4 : at + 6])[0]
        name_len = resources[at + 6]
        at += 6 + 1 + name_len + ((1 + name_len) % 2)  # Pascal name, padded to even
        if at + 4 > len(resources):
            break
        length = struct.unpack(">I", resources[at : at + 4])[0]
        at += 4
        data = resources[at : at + length]
        at += length + (length % 2)
        if rid == 0x0404:
            out += _iim_keywords(data)
    return out


def _iim_keywords(data: bytes) -> list[str]:
    utf8 = False
    out: list[str] = []
    at = 0
    while at + 5 <= len(data) and data[at] == 0x1C:
        record, dataset = data[at + 1], data[at + 2]
        length = struct.unpack(">H", data[at + 3 : at + 5])[0]
        at += 5
        if length & 0x8000:  # extended length: never a keyword
            break
        value = data[at : at + length]
        at += length
        if (record, dataset) == (1, 90):
            utf8 = value == b"\x1b%G"
        elif (record, dataset) == (2, 25):
            try:
                out.append(value.decode("utf-8"))
            except UnicodeDecodeError:
                out.append(value.decode("utf-8" if utf8 else "latin-1", "replace"))
    return out


def _tiff(fh: BinaryIO, size: int) -> bytes | None:
    """Tag 700 (XMP) of IFD0 of a TIFF or DNG."""
    head = fh.read(8)
    order = "<" if head[:2] == b"II" else ">"
    offset = struct.unpack(order + "I", head[4:8])[0]
    if offset + 2 > size:
        return None
    fh.seek(offset)
    count = struct.unpack(order + "H", fh.read(2))[0]
    entries = fh.read(12 * min(count, 4096))
    for i in range(len(entries) // 12):
        tag, kind, n, value = struct.unpack(order + "HHII", entries[12 * i : 12 * i + 12])
        if tag == 700 and kind in (1, 7) and n <= MAX_PACKET:
            if n <= 4:
                return entries[12 * i + 8 : 12 * i + 8 + n]
            if value + n > size:
                return None
            fh.seek(value)
            return fh.read(n)
    return None


def _png(fh: BinaryIO, size: int) -> bytes | None:
    """The ``XML:com.adobe.xmp`` iTXt chunk of a PNG (inflated at most to ``MAX_PACKET``)."""
    fh.seek(8)
    while True:
        head = fh.read(8)
        if len(head) < 8:
            return None
        length, kind = struct.unpack(">I4s", head)
        if kind == b"IEND" or fh.tell() + length > size:
            return None
        if kind != b"iTXt" or length > MAX_PACKET:
            fh.seek(length + 4, os.SEEK_CUR)
            continue
        body = fh.read(length)
        fh.seek(4, os.SEEK_CUR)  # the CRC
        keyword, _, rest = body.partition(b"\x00")
        if keyword != b"XML:com.adobe.xmp" or len(rest) < 2:
            continue
        compressed = rest[0] == 1
        parts = rest[2:].split(b"\x00", 2)  # language, translated keyword, text
        if len(parts) < 3:
            return None
        text = parts[2]
        if not compressed:
            return text
        inflater = zlib.decompressobj()
        try:
            out = inflater.decompress(text, MAX_PACKET)
        except zlib.error:
            return None
        return None if inflater.unconsumed_tail else out


def _scan(data: bytes) -> bytes | None:
    """The first XMP packet in ``data``: from ``<x:xmpmeta`` to its end tag."""
    start = data.find(b"<x:xmpmeta")
    if start < 0:
        return None
    end = data.find(b"</x:xmpmeta>", start)
    if end < 0 or end - start > MAX_PACKET:
        return None
    return data[start : end + len(b"</x:xmpmeta>")]
