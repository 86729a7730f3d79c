"""Matched tags written to XMP sidecars that digiKam, darktable, Lightroom and exiftool read.

blipdesk never writes a photo. It writes (or merges into) a sidecar next to it, with the tags in
the three keyword fields those programs read, kept consistent with each other:

* ``dc:subject`` (rdf:Bag): the tag names, flat. Lightroom and exiftool read it; darktable and
  digiKam read it only when no hierarchical field exists.
* ``lr:hierarchicalSubject`` (rdf:Bag): ``blipdesk|<tag>``. darktable reads this in preference to
  ``dc:subject`` (``dt_exif_read_xmp_data``), Lightroom for its keyword tree.
* ``digiKam:TagsList`` (rdf:Seq): ``blipdesk/<tag>``. digiKam reads it first of all its fields.

Naming: ``photo.jpg.xmp`` (:attr:`SidecarNaming.APPEND`, the default of darktable and digiKam) or
``photo.xmp`` (:attr:`SidecarNaming.REPLACE`, Lightroom and Capture One, meant for raw files;
photos that share a base name share that sidecar, so :func:`plan_sidecars` unions their tags).

Merge, never clobber
--------------------
An existing sidecar keeps every other property, every other rdf:Description, comments, the
``<?xpacket?>`` wrapper when it had one, and every keyword that is not blipdesk's. Which keywords
are blipdesk's is read from the sidecar itself, so no database is needed and a sidecar edited in
another program stays correct:

* every ``lr:hierarchicalSubject`` entry that starts with ``blipdesk|`` and every
  ``digiKam:TagsList`` entry that starts with ``blipdesk/`` is blipdesk's (the top-level keyword
  ``blipdesk`` belongs to blipdesk);
* a ``dc:subject`` keyword is blipdesk's only if it is the leaf of such a blipdesk entry *and* it
  is not a component (leaf or parent) of any other hierarchical entry in either field. A user's
  top-level keyword that a program also lists in a hierarchical field (a flat entry ``dog``) is
  therefore the user's, and so is ``dog`` when the user has ``Animals|dog`` or ``dog|puppy``;
* the keyword ``blipdesk`` itself in ``dc:subject`` (programs that copy parents into
  ``dc:subject``, such as Lightroom, add it) is blipdesk's when blipdesk entries exist and no
  other hierarchy names it.

Edge cases, and how the writer keeps the rule true:

* A user keyword that is only in ``dc:subject`` (no hierarchy names it) and has the same name as a
  tag blipdesk adds would look like blipdesk's afterwards. The writer *pins* it first: it adds the
  flat entry (``dog``, the form a top-level keyword takes there) to the hierarchical fields, so
  removal keeps it.
* When blipdesk creates ``lr:hierarchicalSubject`` or ``digiKam:TagsList`` in a sidecar whose
  keywords were only in ``dc:subject`` (or only in the other hierarchy), darktable and digiKam
  would stop reading the user's keywords (they prefer the hierarchical field). The writer seeds a
  created field with the user's keywords (the other hierarchy's entries, else flat names).
  Pinned and seeded entries are listed in :attr:`SidecarPlan.mirrored` (for a preview) and
  recorded in the sidecar (``blipdesk:mirroredHierarchicalSubject``, ``blipdesk:mirroredTagsList``,
  a namespace other programs keep untouched), so :func:`plan_removal` takes back exactly those
  entries. (If the user meanwhile made one of them a keyword of their own in darktable or
  digiKam, removal still takes the hierarchical copy back; ``dc:subject`` keeps the keyword.)
* A tag named like a level of one of the user's hierarchies (``Places`` when the user has
  ``Places|Paris``) but absent from ``dc:subject`` would pass for the user's once added. Such
  additions are recorded (``blipdesk:addedSubject``) and count as blipdesk's.
* Tags whose hierarchical entry was deleted in another program (only ``dc:subject`` ``dog``
  remains) are the user's from then on: blipdesk no longer claims them.
* ``|`` and ``/`` separate hierarchy levels and have no escape in either format. ``dc:subject``
  holds the exact tag name; in ``lr:hierarchicalSubject`` a ``|`` inside a name is written as
  ``¦`` (U+00A6) and in ``digiKam:TagsList`` a ``/`` is written as ``∕`` (U+2215), so a tag
  stays one level deep under ``blipdesk``.
* Names are written as XML text: ``& < > " '``, non-ASCII, right-to-left text and long names
  round-trip. Characters XML 1.0 cannot carry (:func:`xmp_text_problem`: most C0 controls, lone
  surrogates, U+FFFE/U+FFFF) are refused with a :class:`SidecarError`; the store refuses such
  tag names in the first place. Surrounding whitespace is stripped; empty names are skipped. A
  name that folds onto an earlier name's entry (``a¦b`` after ``a|b``) is written once, with a
  note in :attr:`SidecarPlan.notes` (the store refuses such names too: :func:`sidecar_clash`).

Editing, not re-serializing
---------------------------
A sidecar is parsed with expat, keeping where each node lies; a plan replaces only the bytes of
blipdesk's own items (see the comment above :class:`_Editor`). Adding then removing blipdesk's
tags gives back the original bytes; comments, CDATA, quotes and line breaks inside tags, unused
namespace declarations, the packet wrapper and the last newline are never rewritten.

Safety
------
Sidecars are written atomically (a temporary file ``.blipdesk-tmp-<host>-<pid>-<random>.tmp`` in
the same folder, fsync, ``os.replace``) and only if the sidecar is still exactly what was read
when the plan was made; otherwise :class:`SidecarChangedError`. A window of a few microseconds
between that check and the replace remains (no portable compare-and-swap on files). Temporaries
are removed on any exception (the CLI turns SIGTERM and SIGHUP into a stop between sidecars);
those a killed process left are removed by :func:`clean_stale_temporaries` on the next run.
Only regular files of at most 16 MiB are read (opened non-blocking, checked with ``fstat``:
a FIFO or ``/dev/zero`` is refused, never read); documents nested more than 64 levels, and any
document type declaration (entity expansion, external entities; XMP never has one), are
refused. A read-only sidecar (no write bit for its owner) is left alone; a symlinked one is
written through to its target, which stays where it is. A sidecar blipdesk created
(``x:xmptk="blipdesk ..."``) that holds nothing else after removal is deleted. Photos are never
opened, let alone written. Every planning function reports a bad sidecar as that item's
:class:`SidecarError`, so one bad file never stops a run.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import functools
import hashlib
import os
import re
import socket
import stat
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
import xml.parsers.expat
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from blipdesk import __version__
from blipdesk.infra.display import display_path
from blipdesk.infra.errors import UserError

NS_X = "adobe:ns:meta/"
NS_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
NS_DC = "http://purl.org/dc/elements/1.1/"
NS_LR = "http://ns.adobe.com/lightroom/1.0/"
NS_DIGIKAM = "http://www.digikam.org/ns/1.0/"
NS_XMP = "http://ns.adobe.com/xap/1.0/"
NS_XMPDM = "http://ns.adobe.com/xmp/1.0/DynamicMedia/"
NS_XML = "http://www.w3.org/XML/1998/namespace"
# blipdesk's own record of the user keywords it mirrored into a hierarchical field, so removal
# takes back exactly what blipdesk added. An identifier, not a web address.
NS_BLIPDESK = "http://ns.blipdesk.app/xmp/1.0/"

ROOT_KEYWORD = "blipdesk"
LR_PREFIX = ROOT_KEYWORD + "|"
DK_PREFIX = ROOT_KEYWORD + "/"
XMPTK = f"blipdesk {__version__}"

_PREFERRED_PREFIXES = {
    NS_X: "x",
    NS_RDF: "rdf",
    NS_DC: "dc",
    NS_LR: "lr",
    NS_DIGIKAM: "digiKam",
    NS_XMP: "xmp",
    NS_XMPDM: "xmpDM",
    NS_XML: "xml",
    NS_BLIPDESK: "blipdesk",
}


def _q(ns: str, local: str) -> str:
    return f"{{{ns}}}{local}"


RDF_DESCRIPTION = _q(NS_RDF, "Description")
RDF_RDF = _q(NS_RDF, "RDF")
RDF_LI = _q(NS_RDF, "li")
RDF_ABOUT = _q(NS_RDF, "about")
RDF_VALUE = _q(NS_RDF, "value")
RDF_CONTAINERS = {_q(NS_RDF, "Bag"), _q(NS_RDF, "Seq"), _q(NS_RDF, "Alt")}
X_XMPMETA = _q(NS_X, "xmpmeta")
X_XAPMETA = _q(NS_X, "xapmeta")
X_XMPTK = _q(NS_X, "xmptk")

SUBJECT = _q(NS_DC, "subject")
HIERARCHICAL = _q(NS_LR, "hierarchicalSubject")
TAGSLIST = _q(NS_DIGIKAM, "TagsList")
MIRRORED_HIERARCHICAL = _q(NS_BLIPDESK, "mirroredHierarchicalSubject")
MIRRORED_TAGSLIST = _q(NS_BLIPDESK, "mirroredTagsList")
ADDED_SUBJECT = _q(NS_BLIPDESK, "addedSubject")
RATING = _q(NS_XMP, "Rating")
PICK_LABEL = _q(NS_DIGIKAM, "PickLabel")
XMPDM_PICK = _q(NS_XMPDM, "pick")
XMPDM_GOOD = _q(NS_XMPDM, "good")
_RECORD_OF = {HIERARCHICAL: MIRRORED_HIERARCHICAL, TAGSLIST: MIRRORED_TAGSLIST}
_CONTAINER_OF = {
    SUBJECT: "Bag",
    HIERARCHICAL: "Bag",
    TAGSLIST: "Seq",
    MIRRORED_HIERARCHICAL: "Bag",
    MIRRORED_TAGSLIST: "Bag",
    ADDED_SUBJECT: "Bag",
}
_SEPARATOR_OF = {HIERARCHICAL: "|", TAGSLIST: "/"}
_PREFIX_OF = {HIERARCHICAL: LR_PREFIX, TAGSLIST: DK_PREFIX}
_STAND_IN_OF = {HIERARCHICAL: "¦", TAGSLIST: "∕"}

# Characters XML 1.0 cannot carry, even escaped (its Char production).
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")

# A sidecar is a few kilobytes; darktable's with a long history some hundreds. Anything larger is
# not a sidecar (a symlink to /dev/zero, a renamed video) and is not read into memory.
MAX_SIDECAR_BYTES = 16 * 1024 * 1024
# XMP nests a handful of levels (xmpmeta, RDF, Description, property, container, li, struct...).
# A document nested deeper is refused before anything walks it recursively.
MAX_DEPTH = 64
# blipdesk's temporary files: hidden, with a prefix no other program uses, the host and the PID
# of the writer, so a later run can tell its own leftovers (the writer is gone) from anything else.
TEMP_PREFIX = ".blipdesk-tmp-"
_TEMP_NAME = re.compile(r"\.blipdesk-tmp-([0-9a-f]{8})-(\d+)-[a-z0-9_]+\.tmp\Z")
STALE_TEMP_SECONDS = 24 * 3600  # older than any write can take, whoever the PID is now


class SidecarError(UserError):
    """A sidecar cannot be read or written (not XMP, unreadable, a tag XML cannot hold)."""


class SidecarChangedError(SidecarError):
    """The sidecar changed between planning and writing; plan again."""


class SidecarNaming(enum.Enum):
    """How a sidecar is named after its photo. Values are what the CLI's ``--naming`` takes."""

    APPEND = "jpg.xmp"  # photo.jpg.xmp: darktable, digiKam (default)
    REPLACE = "xmp"  # photo.xmp: Lightroom, Capture One; raw files

    @classmethod
    def parse(cls, value: str | SidecarNaming) -> SidecarNaming:
        if isinstance(value, SidecarNaming):
            return value
        for naming in cls:
            if value.lower().lstrip(".") in (naming.value, naming.name.lower()):
                return naming
        raise SidecarError(f"unknown sidecar naming {value!r}: use 'jpg.xmp' or 'xmp'")


@dataclass(frozen=True)
class SidecarKeywords:
    """The keyword fields of one sidecar, and which tags in it are blipdesk's."""

    subjects: tuple[str, ...] = ()
    hierarchical: tuple[str, ...] = ()
    tags_list: tuple[str, ...] = ()
    blipdesk_tags: tuple[str, ...] = ()
    user_subjects: tuple[str, ...] = ()  # the dc:subject keywords that are not blipdesk's
    rating: SidecarRating | None = None  # stars and pick/reject flag; None: the sidecar has none


@dataclass(frozen=True)
class SidecarRating:
    """A photo's star rating (0-5) and pick flag (1 picked, -1 rejected, 0 neither) as XMP holds
    them, the way Adobe Bridge, Lightroom, darktable and digiKam read them:

    * ``xmp:Rating``: the stars, 1-5 (0 or absent: none); ``-1`` marks a rejected photo (Bridge's
      and darktable's reject);
    * ``xmpDM:pick`` (1 picked, -1 rejected) and ``xmpDM:good`` (True, False): Lightroom
      Classic's flag in XMP (written by it since 13.2);
    * ``digiKam:PickLabel``: digiKam's pick label, 3 accepted (picked), 1 rejected, 2 pending
      (read as no flag), absent: none.

    All are written together; reading takes the first flag found in that order: ``xmpDM:pick``,
    ``digiKam:PickLabel``, ``xmpDM:good``, a negative ``xmp:Rating``.

    A rejected photo is written with ``xmp:Rating`` -1, so its stars do not travel in XMP (as in
    Bridge); they stay in blipdesk's library."""

    stars: int = 0
    flag: int = 0

    def xmp_values(self) -> dict[str, str | None]:
        """Property -> value to write (None: remove the property)."""
        rating = "-1" if self.flag < 0 else (str(self.stars) if self.stars > 0 else None)
        return {
            RATING: rating,
            XMPDM_PICK: {1: "1", -1: "-1"}.get(self.flag),
            XMPDM_GOOD: {1: "True", -1: "False"}.get(self.flag),
            PICK_LABEL: {1: "3", -1: "1"}.get(self.flag),
        }


@dataclass(frozen=True)
class _Fingerprint:
    exists: bool
    sha256: str = ""


@dataclass(frozen=True)
class SidecarPlan:
    """What writing one sidecar would do, computed without touching the disk; :func:`apply` does
    it. ``added``/``removed``/``unchanged`` are blipdesk tag names; ``mirrored`` lists user
    keywords copied into a hierarchical field (see the module docstring); ``content`` is the new
    file (``None`` when the file is deleted or nothing changes)."""

    path: Path
    photos: tuple[Path, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: tuple[str, ...]
    creates_file: bool
    deletes_file: bool = False
    mirrored: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # tags left out, and why
    content: bytes | None = field(default=None, repr=False)
    base: _Fingerprint = field(default=_Fingerprint(False), repr=False)
    target: Path | None = field(default=None, repr=False)  # where a symlinked sidecar leads

    @property
    def changes(self) -> bool:
        return self.content is not None or self.deletes_file

    @property
    def file(self) -> Path:
        """The file whose bytes are the sidecar: :attr:`path`, or its symbolic link's target."""
        return self.target or self.path


# --- naming ------------------------------------------------------------------------------------


def sidecar_path(photo: str | os.PathLike[str], naming: str | SidecarNaming = "jpg.xmp") -> Path:
    """The sidecar of ``photo``. An existing one spelled ``.XMP`` is found on case-sensitive disks."""
    photo = Path(photo)
    naming = SidecarNaming.parse(naming)
    if photo.suffix.lower() == ".xmp":
        raise SidecarError(f"{display_path(photo)}: is itself an XMP file, not a photo")
    stem = photo.name if naming is SidecarNaming.APPEND else photo.stem
    path = photo.with_name(stem + ".xmp")
    # lexists: a dangling link is a sidecar too; a name too long for the disk is no error here
    # (os.path, unlike Path.exists, swallows ENAMETOOLONG): reading it reports it, per photo.
    if not os.path.lexists(path):
        upper = photo.with_name(stem + ".XMP")
        if os.path.lexists(upper):
            return upper
    return path


# --- tag names ---------------------------------------------------------------------------------


def xmp_text_problem(text: str) -> str | None:
    """The first character of ``text`` that an XMP sidecar cannot carry (``"U+0007"``), or
    ``None`` when all of it can travel. The one rule for text that goes into XMP: the store
    refuses such tag names with it (``Library.put_tag``), and planning refuses them too.

    XMP is XML 1.0, which has no way to write most C0 control characters (not even as ``&#7;``),
    lone surrogates (a file name's undecodable byte) or U+FFFE/U+FFFF."""
    found = _INVALID_XML.search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


def sidecar_entries(name: str) -> tuple[str, str, str]:
    """What a tag becomes in ``dc:subject``, ``lr:hierarchicalSubject`` and ``digiKam:TagsList``.
    ``|`` and ``/`` are folded into stand-ins, so two names may share an entry (``a|b``, ``a¦b``)."""
    name = name.strip()
    return name, _entry(HIERARCHICAL, name), _entry(TAGSLIST, name)


def sidecar_clash(name: str, others: Iterable[str]) -> str | None:
    """The first of ``others`` that writes one of the same sidecar entries as ``name`` (so a
    sidecar could not tell them apart), or ``None``."""
    mine = sidecar_entries(name)
    for other in others:
        if other != name and any(a == b for a, b in zip(mine, sidecar_entries(other), strict=True)):
            return other
    return None


def _normalize(tags: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(names, notes): stripped, de-duplicated names in their order, empty names dropped, names
    XML cannot hold refused; a name that folds onto an earlier one's entry is left out, with a
    note saying so."""
    out: list[str] = []
    notes: list[str] = []
    for tag in tags:
        name = tag.strip()
        if not name or name in out:
            continue
        bad = xmp_text_problem(name)
        if bad:
            raise SidecarError(f"tag {name!r} holds {bad}, a character an XMP file cannot hold")
        clash = sidecar_clash(name, out)
        if clash is not None:
            notes.append(f"tag {name!r} left out: it is written like {clash!r}")
            continue
        out.append(name)
    return tuple(out), tuple(notes)


def normalize_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """Stripped, de-duplicated names in their order; empty names dropped; names XML cannot hold
    refused; names that fold onto an earlier name's sidecar entry dropped."""
    return _normalize(tags)[0]


def _leaf(prop: str, name: str) -> str:
    return name.replace(_SEPARATOR_OF[prop], _STAND_IN_OF[prop])


def _entry(prop: str, name: str) -> str:
    return _PREFIX_OF[prop] + _leaf(prop, name)


# --- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _File:
    data: bytes
    mode: int  # st_mode of the regular file read


def _read_file(path: Path, link: Path | None = None) -> _File | None:
    """The bytes of the sidecar at ``path`` (``None``: there is none). Only a regular file of at
    most :data:`MAX_SIDECAR_BYTES` is read: it is opened non-blocking, so a FIFO never blocks, and
    checked with ``fstat`` before a byte is read, so a device (``/dev/zero``) is never read.
    ``link``: the symlinked sidecar that leads to ``path``, named in messages."""
    shown = (
        display_path(path)
        if link is None
        else f"{display_path(link)} (a link to {display_path(path)})"
    )
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SidecarError(f"{shown}: {_os_reason(exc, 'cannot be read')}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SidecarError(
                f"{shown}: not a regular file (a pipe, socket or device); left alone"
            )
        if st.st_size > MAX_SIDECAR_BYTES:
            raise SidecarError(f"{shown}: {_too_large()}")
        chunks, total = [], 0
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            total += len(chunk)
            if total > MAX_SIDECAR_BYTES:  # it grew while being read
                raise SidecarError(f"{shown}: {_too_large()}")
        return _File(b"".join(chunks), st.st_mode)
    except OSError as exc:
        raise SidecarError(f"{shown}: {_os_reason(exc, 'cannot be read')}") from None
    finally:
        os.close(fd)


def _too_large() -> str:
    return (
        f"larger than {MAX_SIDECAR_BYTES // (1024 * 1024)} MiB, too large for a sidecar; left alone"
    )


def _os_reason(exc: OSError, what: str) -> str:
    if exc.errno == errno.ENAMETOOLONG:
        return f"{what}: the name is too long for the file system"
    return f"{what} ({exc.strerror or exc})"


def _write_target(path: Path) -> Path:
    """Where the sidecar's bytes live: ``path``, or the file a symbolic link ``path`` leads to.
    A symlinked sidecar is written through (its target is replaced, in the target's folder), so
    the link stays a link (README, "Reliability")."""
    if not os.path.islink(path):
        return path
    target = Path(os.path.realpath(path))
    if os.path.islink(target) or not os.path.lexists(target):
        raise SidecarError(
            f"{display_path(path)}: a symbolic link to a file that is not there; left alone"
        )
    return target


def _decode(data: bytes, where: Path) -> tuple[str, bytes, str]:
    """(text, byte order mark, codec) of a sidecar, so edited text is written back the same way."""
    try:
        for bom, codec in ((b"\xfe\xff", "utf-16-be"), (b"\xff\xfe", "utf-16-le")):
            if data.startswith(bom):
                return data[2:].decode(codec), bom, codec
        bom = b"\xef\xbb\xbf" if data.startswith(b"\xef\xbb\xbf") else b""
        return data[len(bom) :].decode("utf-8"), bom, "utf-8"
    except UnicodeDecodeError as exc:
        raise SidecarError(
            f"{display_path(where)}: not a readable XMP file ({exc.reason})"
        ) from None


@dataclass(frozen=True)
class _Span:
    """Where one node is in the document's UTF-8 bytes: ``start`` is its ``<``; the start tag ends
    at ``open_end``; the end tag begins at ``close_start`` (both ``end`` for ``<a/>``)."""

    start: int
    open_end: int
    close_start: int
    end: int


@dataclass
class _Doc:
    """A parsed sidecar: the element tree for reading, and where each node came from, so that an
    edit replaces only the bytes of what it changes."""

    root: ET.Element
    buf: bytes  # the text as UTF-8; offsets refer to it
    spans: dict[int, _Span]  # id(node) -> its span
    scopes: dict[int, Mapping[str, str]]  # id(element) -> namespace prefixes in scope inside it
    bom: bytes = b""
    codec: str = "utf-8"

    def span(self, node: ET.Element) -> _Span:
        return self.spans[id(node)]

    def encode(self, buf: bytes) -> bytes:
        if self.codec == "utf-8":
            return self.bom + buf
        return self.bom + buf.decode("utf-8").encode(self.codec)


_START_TAG = re.compile(rb"<[^>\"']*(?:(?:\"[^\"]*\"|'[^']*')[^>\"']*)*>")


def _parse(data: bytes, where: Path) -> _Doc:
    text, bom, codec = _decode(data, where)
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise SidecarError(
            f"{display_path(where)}: has a document type declaration; XMP files never do"
        )
    buf = text.encode("utf-8")
    builder = ET.TreeBuilder(insert_comments=True, insert_pis=True)
    parser = xml.parsers.expat.ParserCreate(namespace_separator="}")
    spans: dict[int, _Span] = {}
    scopes: dict[int, Mapping[str, str]] = {}
    stack: list[tuple[ET.Element, int, int, Mapping[str, str]]] = []
    pending: dict[str, str] = {}

    def clark(name: str) -> str:
        return "{" + name if "}" in name else name

    def start(name: str, attrs: dict[str, str]) -> None:
        if len(stack) >= MAX_DEPTH:
            raise SidecarError(
                f"{display_path(where)}: nested more than {MAX_DEPTH} elements deep; "
                "not a sidecar blipdesk can edit"
            )
        el = builder.start(clark(name), {clark(k): v for k, v in attrs.items()})
        at = parser.CurrentByteIndex
        tag = _START_TAG.match(buf, at)
        assert tag is not None
        outer = stack[-1][3] if stack else {"xml": NS_XML}
        scope = {**outer, **pending} if pending else outer
        pending.clear()
        scopes[id(el)] = scope
        stack.append((el, at, tag.end(), scope))

    def end(name: str) -> None:
        el, at, open_end, _scope = stack.pop()
        builder.end(clark(name))
        if buf[open_end - 2 : open_end] == b"/>":
            spans[id(el)] = _Span(at, open_end, open_end, open_end)
        else:
            close = parser.CurrentByteIndex
            spans[id(el)] = _Span(at, open_end, close, buf.index(b">", close) + 1)

    def node(made: ET.Element | None, terminator: bytes) -> None:
        if made is not None and stack:
            at = parser.CurrentByteIndex
            stop = buf.index(terminator, at) + len(terminator)
            spans[id(made)] = _Span(at, stop, stop, stop)

    def refuse(*_args: object) -> None:
        raise SidecarError(
            f"{display_path(where)}: has a document type declaration; XMP files never do"
        )

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    parser.CommentHandler = lambda t: node(builder.comment(t), b"-->")
    parser.ProcessingInstructionHandler = lambda t, d: node(builder.pi(t, d), b"?>")
    parser.StartNamespaceDeclHandler = lambda p, u: pending.__setitem__(p or "", u)
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    try:
        parser.Parse(text, True)
        root = builder.close()
    except xml.parsers.expat.ExpatError as exc:
        raise SidecarError(f"{display_path(where)}: not a readable XMP file ({exc})") from None
    if root.tag not in (X_XMPMETA, X_XAPMETA, RDF_RDF) or _rdf(root) is None:
        raise SidecarError(f"{display_path(where)}: not an XMP file (no x:xmpmeta/rdf:RDF)")
    return _Doc(root, buf, spans, scopes, bom, codec)


def _rdf(root: ET.Element) -> ET.Element | None:
    if root.tag == RDF_RDF:
        return root
    return root.find(RDF_RDF)


def _descriptions(root: ET.Element) -> list[ET.Element]:
    rdf = _rdf(root)
    return [] if rdf is None else [d for d in rdf if d.tag == RDF_DESCRIPTION]


@dataclass
class _Item:
    value: str | None  # None: a structure that is not a plain keyword; always kept
    element: ET.Element | None = None


@dataclass
class _Property:
    """All occurrences of one array property across the rdf:Description blocks."""

    name: str
    items: list[_Item] = field(default_factory=list)
    elements: list[tuple[ET.Element, ET.Element]] = field(default_factory=list)  # (desc, prop)
    attributes: list[ET.Element] = field(default_factory=list)  # descs with the attribute form
    container: str | None = None

    @property
    def exists(self) -> bool:
        return bool(self.elements or self.attributes)

    def values(self) -> list[str]:
        return [i.value for i in self.items if i.value is not None]


def _li_value(li: ET.Element) -> str | None:
    if len([c for c in li if isinstance(c.tag, str)]) == 0:
        return li.text or ""
    value = li.find(RDF_VALUE)
    if value is None:
        desc = li.find(RDF_DESCRIPTION)
        value = desc.find(RDF_VALUE) if desc is not None else None
    return None if value is None else (value.text or "")


def _collect(root: ET.Element, name: str) -> _Property:
    prop = _Property(name)
    for desc in _descriptions(root):
        if name in desc.attrib:
            prop.attributes.append(desc)
            prop.items.append(_Item(desc.attrib[name]))
        for el in desc.findall(name):
            prop.elements.append((desc, el))
            containers = [c for c in el if c.tag in RDF_CONTAINERS]
            if containers:
                prop.container = prop.container or containers[0].tag
                for li in containers[0].findall(RDF_LI):
                    prop.items.append(_Item(_li_value(li), li))
            elif len([c for c in el if isinstance(c.tag, str)]) == 0 and not el.attrib:
                if (el.text or "").strip():
                    prop.items.append(_Item(el.text or ""))
            else:
                # rdf:resource, rdf:parseType or a nested structure: not a keyword list. Writing
                # around it could lose it, so the sidecar is left alone.
                raise SidecarError(
                    f"its {el.tag.rsplit('}', 1)[1]} has a form blipdesk cannot edit"
                )
    return prop


@dataclass
class _State:
    subjects: _Property
    hierarchical: _Property
    tags_list: _Property
    added_subjects: _Property

    def hierarchies(self) -> tuple[_Property, _Property]:
        return self.hierarchical, self.tags_list

    def other_components(self) -> set[str]:
        """Every level of every hierarchical entry that is not under ``blipdesk``."""
        out: set[str] = set()
        for prop in self.hierarchies():
            sep, prefix = _SEPARATOR_OF[prop.name], _PREFIX_OF[prop.name]
            for entry in prop.values():
                if not entry.startswith(prefix) and entry != ROOT_KEYWORD:
                    out.update(entry.split(sep))
        return out

    def blipdesk_entries(self) -> dict[str, set[str]]:
        return {
            p.name: {v for v in p.values() if v.startswith(_PREFIX_OF[p.name]) or v == ROOT_KEYWORD}
            for p in self.hierarchies()
        }

    def owned_subjects(self) -> set[str]:
        """The ``dc:subject`` keywords that are blipdesk's (the rule in the module docstring)."""
        entries = self.blipdesk_entries()
        if not any(entries.values()):
            return set()
        others = self.other_components()
        recorded = set(self.added_subjects.values())
        owned = set()
        for keyword in self.subjects.values():
            if keyword in others and keyword not in recorded:
                continue
            if keyword == ROOT_KEYWORD or any(
                _entry(name, keyword) in found for name, found in entries.items()
            ):
                owned.add(keyword)
        return owned

    def current_tags(self) -> list[str]:
        """blipdesk's tags in this sidecar: owned keywords, then leaves of orphaned entries."""
        owned = self.owned_subjects()
        tags = [k for k in dict.fromkeys(self.subjects.values()) if k in owned]
        tags = [t for t in tags if t != ROOT_KEYWORD]
        claimed = {_entry(p, t) for p in (HIERARCHICAL, TAGSLIST) for t in tags}
        for name, found in self.blipdesk_entries().items():
            for entry in sorted(found - claimed):
                leaf = entry[len(_PREFIX_OF[name]) :]
                if leaf and leaf not in tags and "|" not in leaf and "/" not in leaf:
                    tags.append(leaf)
        return tags


def _state(root: ET.Element) -> _State:
    return _State(
        _collect(root, SUBJECT),
        _collect(root, HIERARCHICAL),
        _collect(root, TAGSLIST),
        _collect(root, ADDED_SUBJECT),
    )


def read_sidecar(path: str | os.PathLike[str]) -> SidecarKeywords:
    """The keyword fields of a sidecar (empty when there is none)."""
    path = Path(path)
    found = _read_file(path)
    if found is None:
        return SidecarKeywords()
    root = _parse(found.data, path).root
    try:
        state = _state(root)
    except SidecarError as exc:
        raise SidecarError(f"{display_path(path)}: {exc}") from None
    return SidecarKeywords(
        subjects=tuple(state.subjects.values()),
        hierarchical=tuple(state.hierarchical.values()),
        tags_list=tuple(state.tags_list.values()),
        blipdesk_tags=tuple(state.current_tags()),
        user_subjects=tuple(k for k in state.subjects.values() if k not in state.owned_subjects()),
        rating=_read_rating(root),
    )


def _scalars(root: ET.Element, name: str) -> list[tuple[ET.Element, ET.Element | None, str]]:
    """Every occurrence of a simple property: (description, element or None for the attribute
    form, text)."""
    out: list[tuple[ET.Element, ET.Element | None, str]] = []
    for desc in _descriptions(root):
        if name in desc.attrib:
            out.append((desc, None, desc.attrib[name]))
        for el in desc.findall(name):
            if any(isinstance(c.tag, str) for c in el) or el.attrib:
                raise SidecarError(
                    f"its {el.tag.rsplit('}', 1)[1]} has a form blipdesk cannot edit"
                )
            out.append((desc, el, el.text or ""))
    return out


def _number(text: str) -> int | None:
    try:
        return round(float(text.strip()))
    except ValueError:
        return None


def _read_rating(root: ET.Element) -> SidecarRating | None:
    """The sidecar's rating and pick flag (:class:`SidecarRating`); None when it has neither."""

    def first(name: str) -> int | None:
        found = (_number(t) for _d, _e, t in _scalars(root, name))
        return next((n for n in found if n is not None), None)

    rating, pick, label = first(RATING), first(XMPDM_PICK), first(PICK_LABEL)
    goods = [t.strip().lower() for _d, _e, t in _scalars(root, XMPDM_GOOD)]
    good = next((g for g in goods if g in ("true", "false")), None)
    if pick in (1, -1):
        flag = pick
    elif label in (1, 3):
        flag = 1 if label == 3 else -1
    elif good is not None:
        flag = 1 if good == "true" else -1
    else:
        flag = -1 if rating is not None and rating < 0 else 0
    if rating is None and flag == 0 and pick is None and label is None:
        return None
    stars = max(0, min(5, rating)) if rating is not None else 0
    return SidecarRating(stars, flag)


def read_sidecar_rating(path: str | os.PathLike[str]) -> SidecarRating | None:
    """Only the rating of a sidecar (None when there is no sidecar or no rating in it)."""
    path = Path(path)
    found = _read_file(path)
    if found is None:
        return None
    try:
        return _read_rating(_parse(found.data, path).root)
    except SidecarError as exc:
        raise SidecarError(f"{display_path(path)}: {exc}") from None


# --- editing -----------------------------------------------------------------------------------
#
# An edit replaces only the bytes of what blipdesk changes: an rdf:li added after the last one
# (laid out like it), an rdf:li or a whole property removed together with the whitespace in front
# of it, a new property appended to its rdf:Description. Each removal is the exact inverse of
# the matching addition, so adding then removing gives back the original bytes; everything else
# (comments, CDATA, quotes, line breaks inside tags, unused namespace declarations, the packet
# wrapper, the last newline) is never re-serialized. New elements declare the namespaces they
# need that are not in scope on themselves, so no other tag is touched.

_NEW_DOCUMENT = f"""<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="{NS_X}" x:xmptk="{XMPTK}">
 <rdf:RDF xmlns:rdf="{NS_RDF}">
  <rdf:Description rdf:about=""
    xmlns:dc="{NS_DC}"
    xmlns:lr="{NS_LR}"
    xmlns:digiKam="{NS_DIGIKAM}">
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""
_SPACE = b" \t\r\n"


class _Editor:
    """Collects byte edits against a parsed document; :meth:`result` applies them."""

    def __init__(self, doc: _Doc) -> None:
        self.doc = doc
        self.edits: list[tuple[int, int, str]] = []  # (start, end, replacement), in call order
        self.gone: set[int] = set()  # ids of nodes removed
        self.gone_attributes: dict[int, set[str]] = {}  # id(description) -> attributes removed
        self.touched: list[ET.Element] = []  # descriptions that lost something
        self.filled: set[int] = set()  # ids of descriptions that gain a property
        self.new_description: list[ET.Element] = []  # properties for an rdf:Description to add

    # -- the operations

    def rewrite(self, state: _State, prop: _Property, wanted: list[_Item]) -> None:
        """Make ``prop`` hold ``wanted``: existing items (kept in their order) then new ones."""
        if self._edit_items(prop, wanted):
            return
        for desc in prop.attributes:
            self._remove_attribute(desc, prop.name)
        elements = list(prop.elements)
        if elements:
            desc, first = elements.pop(0)
            for d, el in elements:
                self._remove(d, el)
            if wanted:
                span = self.doc.span(first)
                fragment = _fragment(
                    _property(prop, wanted), self.doc.scopes[id(desc)], self._pad(desc)
                )
                self.edits.append((span.start, span.end, fragment))
            else:
                self._remove(desc, first)
        elif wanted:
            self._add_property(state, _property(prop, wanted))

    def _edit_items(self, prop: _Property, wanted: list[_Item]) -> bool:
        """Item by item in the one container ``prop`` has; False when ``prop`` has another shape
        (attribute form, several occurrences, no container) or the order changes."""
        if prop.attributes or len(prop.elements) != 1:
            return False
        desc, el = prop.elements[0]
        containers = [c for c in el if c.tag in RDF_CONTAINERS]
        if not containers or any(i.element is None for i in prop.items):
            return False
        kept = [i.element for i in wanted if i.element is not None]
        new = [i for i in wanted if i.element is None]
        existing = [i.element for i in prop.items]
        order = [e for e in existing if any(e is k for k in kept)]
        if order != kept or any(i.element is None for i in wanted[: len(kept)]):
            return False
        if not wanted:
            self._remove(desc, el)
            return True
        container = containers[0]
        if new and self.doc.span(container).open_end == self.doc.span(container).end:
            return False  # <rdf:Bag/>: written anew as a whole
        for item in existing:
            if item is not None and not any(item is k for k in kept):
                self._remove(container, item)
        if new:
            scope = self.doc.scopes[id(container)]
            after = self.doc.span(kept[-1]).end if kept else self.doc.span(container).open_end
            pad = self._pad(container, kept[-1] if kept else None)
            lis = "".join(_fragment(_li(i.value or ""), scope, pad) for i in new)
            self.edits.append((after, after, lis))
        return True

    def _add_property(self, state: _State, new: ET.Element) -> None:
        desc = _target_description(self.doc.root, state)
        if desc is None or self.doc.span(desc).open_end == self.doc.span(desc).end:
            self.new_description.append(new)  # no open rdf:Description to add it to
            return
        at = self._end_of_children(desc)
        self.edits.append((at, at, _fragment(new, self.doc.scopes[id(desc)], self._pad(desc))))
        self.filled.add(id(desc))

    def _remove(self, parent: ET.Element, node: ET.Element) -> None:
        """Remove ``node`` with the whitespace before it: the inverse of an addition."""
        span = self.doc.span(node)
        self.edits.append((self._space_before(span.start), span.end, ""))
        self.gone.add(id(node))
        if parent.tag == RDF_DESCRIPTION:
            self.touched.append(parent)

    def _attributes_named(
        self, desc: ET.Element, name: str
    ) -> Iterator[tuple[int, re.Match[bytes]]]:
        """Each occurrence of ``desc``'s attribute ``name`` ("{namespace}local") in its start
        tag as written: (the tag's offset in the buffer, the ``_ATTRIBUTE`` match in the tag)."""
        span, scope = self.doc.span(desc), self.doc.scopes[id(desc)]
        tag = self.doc.buf[span.start : span.open_end]
        for found in _ATTRIBUTE.finditer(tag):
            qname = found.group(2).decode("utf-8")
            prefix, _, local = qname.rpartition(":")
            if prefix and f"{{{scope.get(prefix)}}}{local}" == name:
                yield span.start, found

    def _remove_attribute(self, desc: ET.Element, name: str) -> None:
        for at, found in self._attributes_named(desc, name):
            self.edits.append((at + found.start(), at + found.end(), ""))
        self.gone_attributes.setdefault(id(desc), set()).add(name)
        self.touched.append(desc)

    def set_attribute(self, desc: ET.Element, name: str, value: str) -> None:
        """Replace the value of ``desc``'s attribute ``name`` in place (quotes kept)."""
        for at, found in self._attributes_named(desc, name):
            quote = found.group(3)[:1].decode("utf-8")
            start, end = at + found.start(3), at + found.end(3)
            self.edits.append((start, end, quote + _escape_attr(value) + quote))

    # -- layout

    def _space_before(self, at: int) -> int:
        while at > 0 and self.doc.buf[at - 1] in _SPACE:
            at -= 1
        return at

    def _end_of_children(self, el: ET.Element) -> int:
        children = list(el)
        return self.doc.span(children[-1]).end if children else self.doc.span(el).open_end

    def _pad(self, el: ET.Element, last: ET.Element | None = None) -> str:
        """The line break and indentation a new child of ``el`` gets: that of its last child, else
        one space deeper than its end tag; nothing in a document written on one line."""
        buf, span = self.doc.buf, self.doc.span(el)
        children = list(el)
        last = last if last is not None else (children[-1] if children else None)
        if last is not None:
            start = self.doc.span(last).start
            space = buf[self._space_before(start) : start].decode("utf-8")
            return "\n" + space.rsplit("\n", 1)[1] if "\n" in space else ""
        inner = buf[span.open_end : span.close_start].decode("utf-8")
        if "\n" in inner and not inner.strip():
            return "\n" + inner.rsplit("\n", 1)[1] + " "
        line = buf[: span.start].decode("utf-8").rsplit("\n", 1)
        indent = line[1] if len(line) == 2 and not line[1].strip() else ""
        return "\n" + indent + " " if len(line) == 2 else ""

    # -- the result

    def _emptied(self, desc: ET.Element) -> bool:
        """A description blipdesk added (it carries :data:`_MARK`) that its removals left with
        nothing but ``rdf:about``. Any other description stays, even empty: it may be the user's."""
        span = self.doc.span(desc)
        if _MARK.encode("utf-8") not in self.doc.buf[span.start : span.open_end]:
            return False
        if id(desc) in self.filled or any(id(c) not in self.gone for c in desc):
            return False
        left = set(desc.attrib) - self.gone_attributes.get(id(desc), set()) - {RDF_ABOUT}
        return not left and not (desc.text or "").strip()

    def result(self) -> bytes:
        edits = list(self.edits)
        for desc in dict.fromkeys(self.touched):
            if self._emptied(desc):
                span = self.doc.span(desc)
                lo = self._space_before(span.start)
                edits = [e for e in edits if not (lo <= e[0] and e[1] <= span.end)]
                edits.append((lo, span.end, ""))
        if self.new_description:
            edits.append(self._description_edit())
        out, at = [], 0
        for start, end, text in sorted(edits, key=lambda e: (e[0], e[1])):
            assert start >= at, "overlapping sidecar edits"
            out += [self.doc.buf[at:start], text.encode("utf-8")]
            at = end
        out.append(self.doc.buf[at:])
        return b"".join(out)

    def _description_edit(self) -> tuple[int, int, str]:
        rdf = _rdf(self.doc.root)
        assert rdf is not None
        desc = ET.Element(RDF_DESCRIPTION, {RDF_ABOUT: ""})
        desc.extend(self.new_description)
        span, scope = self.doc.span(rdf), self.doc.scopes[id(rdf)]
        pad = self._pad(rdf)
        if span.open_end != span.end:
            at = self._end_of_children(rdf)
            return at, at, _fragment(desc, scope, pad, mark=True)
        # <rdf:RDF .../>: opened, so that it can hold the description.
        tag = self.doc.buf[span.start : span.end].decode("utf-8")
        name = re.match(r"<([^\s/>]+)", tag).group(1)  # type: ignore[union-attr]
        closing = pad[:-1] if pad.endswith(" ") else pad
        text = (
            tag[:-2].rstrip()
            + ">"
            + _fragment(desc, scope, pad, mark=True)
            + closing
            + f"</{name}>"
        )
        return span.start, span.end, text


# Declared on an rdf:Description blipdesk adds (when no open one can take its properties), so
# that removal can tell it from a user's and take it back whole.
_MARK = f'xmlns:blipdesk="{NS_BLIPDESK}"'
_ATTRIBUTE = re.compile(rb"(\s+)([^\s=/>]+)\s*=\s*(\"[^\"]*\"|'[^']*')")


def _target_description(root: ET.Element, state: _State) -> ET.Element | None:
    for prop in (state.subjects, *state.hierarchies()):
        if prop.elements:
            return prop.elements[0][0]
        if prop.attributes:
            return prop.attributes[0]
    descs = _descriptions(root)
    return descs[0] if descs else None


def _li(value: str) -> ET.Element:
    li = ET.Element(RDF_LI)
    li.text = value
    return li


def _property(prop: _Property, wanted: list[_Item]) -> ET.Element:
    new = ET.Element(prop.name)
    container = ET.SubElement(new, prop.container or _q(NS_RDF, _CONTAINER_OF[prop.name]))
    for item in wanted:
        is_li = item.element is not None and item.element.tag == RDF_LI
        container.append(item.element if is_li else _li(item.value or ""))  # type: ignore[arg-type]
    return new


# --- planning ----------------------------------------------------------------------------------


def _plan_document(editor: _Editor, tags: Sequence[str]) -> tuple[list[str], list[str], bool]:
    """Collect in ``editor`` the edits that make blipdesk's tags ``tags``. Returns (current tags,
    mirrored entries, changed)."""
    root = editor.doc.root
    state = _state(root)
    current = state.current_tags()
    owned = state.owned_subjects()
    others = state.other_components()
    user_subjects = [k for k in dict.fromkeys(state.subjects.values()) if k not in owned]
    mirrored: list[str] = []
    changed = False

    # dc:subject: the user's keywords and ours that stay, in place; new ones appended.
    keep = set(tags)
    wanted = [i for i in state.subjects.items if i.value not in owned or i.value in keep]
    present = set(_values(wanted))
    new = [t for t in tags if t not in present]
    wanted += [_Item(t) for t in new]
    if _values(wanted) != state.subjects.values() or len(state.subjects.elements) > 1:
        editor.rewrite(state, state.subjects, wanted)
        changed = True
    # A new keyword that is also a level of a user's hierarchy would pass for the user's.
    changed |= _update_record(
        editor,
        state,
        state.added_subjects,
        set(tags) & set(present),
        [t for t in new if t in others],
    )

    for prop in state.hierarchies():
        record = _collect(root, _RECORD_OF[prop.name])
        recorded = set(record.values())
        extra = _mirrors(state, prop, tags, user_subjects, others)
        mirrored += [f"{_short(prop.name)}: {e}" for e in extra]
        ours = [_entry(prop.name, t) for t in tags]
        prefix = _PREFIX_OF[prop.name]
        has_ours = bool(state.blipdesk_entries()[prop.name])
        # The user's entries and ours that stay keep their place; mirrors and new ones go last.
        # Removing everything also takes back the mirrors blipdesk recorded.
        kept = [
            i
            for i in prop.items
            if i.value is None
            or i.value in ours
            or not (
                i.value.startswith(prefix)
                or (i.value == ROOT_KEYWORD and has_ours)
                or (not tags and i.value in recorded)
            )
        ]
        kept = [
            i for n, i in enumerate(kept) if i.value is None or i.value not in _values(kept[:n])
        ]
        present = set(_values(kept))
        wanted = kept + [_Item(e) for e in extra] + [_Item(e) for e in ours if e not in present]
        duplicated = len(prop.elements) + len(prop.attributes) > 1
        if _values(wanted) != prop.values() or duplicated:
            editor.rewrite(state, prop, wanted)
            changed = True
        changed |= _update_record(
            editor, state, record, set(_values(wanted)) if tags else set(), extra
        )
    return current, mirrored, changed


def _update_record(
    editor: _Editor, state: _State, record: _Property, still: set[str], new: list[str]
) -> bool:
    """Keep blipdesk's record of what it added (entries still in ``still``) plus ``new``."""
    wanted = [i for i in record.items if i.value in still] + [_Item(v) for v in new]
    if _values(wanted) == record.values():
        return False
    editor.rewrite(state, record, wanted)
    return True


def _values(items: Iterable[_Item]) -> list[str]:
    return [i.value for i in items if i.value is not None]


def _mirrors(
    state: _State, prop: _Property, tags: Sequence[str], user_subjects: list[str], others: set[str]
) -> list[str]:
    """User keywords to copy into ``prop`` so the ownership rule and other programs stay right
    (module docstring): seeds for a field blipdesk creates, pins for a name a tag shares."""
    if not tags:
        return []
    sep = _SEPARATOR_OF[prop.name]
    user_values = set(prop.values())
    extra: list[str] = []
    if not prop.exists:
        other = state.tags_list if prop.name == HIERARCHICAL else state.hierarchical
        other_sep, other_prefix = _SEPARATOR_OF[other.name], _PREFIX_OF[other.name]
        for entry in other.values():
            if not entry.startswith(other_prefix) and entry != ROOT_KEYWORD:
                levels = entry.split(other_sep)
                extra.append(sep.join(lvl.replace(sep, _STAND_IN_OF[prop.name]) for lvl in levels))
        covered = {lvl for e in extra for lvl in e.split(sep)}
        extra += [_leaf(prop.name, k) for k in user_subjects if _leaf(prop.name, k) not in covered]
    else:
        keep = set(tags)
        extra += [_leaf(prop.name, k) for k in user_subjects if k in keep and k not in others]
    return [e for e in dict.fromkeys(extra) if e not in user_values]


def _short(name: str) -> str:
    return {SUBJECT: "dc:subject", HIERARCHICAL: "lr:hierarchicalSubject"}.get(
        name, "digiKam:TagsList"
    )


def _is_empty_blipdesk_file(root: ET.Element) -> bool:
    if not root.get(X_XMPTK, "").startswith(ROOT_KEYWORD + " "):
        return False
    rdf = _rdf(root)
    if rdf is None or any(isinstance(c.tag, str) and c.tag != RDF_RDF for c in root):
        return False
    for child in rdf:
        if child.tag != RDF_DESCRIPTION:
            return False
        if any(isinstance(c.tag, str) for c in child):
            return False
        if set(child.attrib) - {RDF_ABOUT}:
            return False
    return True


def plan_sidecar(
    photo: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    tags: Iterable[str],
    naming: str | SidecarNaming = SidecarNaming.APPEND,
) -> SidecarPlan:
    """What writing ``tags`` as blipdesk's tags into the sidecar of ``photo`` would change.

    ``tags`` replaces the blipdesk tags already there; an empty ``tags`` removes them. ``photo``
    may be several photos that share one sidecar (``photo.jpg`` and ``photo.cr2`` under
    ``photo.xmp`` naming). Nothing is written; pass the plan to :func:`apply`.
    """
    photos = (
        tuple(Path(p) for p in photo)
        if isinstance(photo, Sequence) and not isinstance(photo, str)
        else (Path(photo),)
    )
    if not any(os.path.exists(p) for p in photos):
        raise SidecarError(
            f"{display_path(photos[0])}: the photo is not there; its sidecar is left alone"
        )
    return plan_sidecar_file(sidecar_path(photos[0], naming), tags, photos)


def plan_sidecar_file(
    path: str | os.PathLike[str], tags: Iterable[str], photos: Sequence[Path] = ()
) -> SidecarPlan:
    """:func:`plan_sidecar` for a sidecar named directly (removal from every sidecar in a folder
    needs no photo and no naming)."""
    path, photos = Path(path), tuple(photos)
    tags, notes = _normalize(tags)
    target = _write_target(path)
    found = _read_file(target, path if target != path else None)
    if found is None and not tags:
        return SidecarPlan(path, photos, (), (), (), creates_file=False, notes=notes)
    doc, base = _open_document(found, path)
    editor = _Editor(doc)
    try:
        current, mirrored, changed = _plan_document(editor, tags)
    except SidecarError as exc:
        raise SidecarError(f"{display_path(path)}: {exc}") from None
    keep = set(tags)
    added = tuple(t for t in tags if t not in set(current))
    removed = tuple(t for t in current if t not in keep)
    unchanged = tuple(t for t in tags if t in set(current))
    plan = dict(
        path=path,
        photos=photos,
        added=added,
        removed=removed,
        unchanged=unchanged,
        creates_file=found is None,
        mirrored=tuple(mirrored),
        notes=notes,
        base=base,
        target=target,
    )
    if not changed and found is not None:
        return SidecarPlan(**plan)  # type: ignore[arg-type]
    return _edited(SidecarPlan(**plan), doc, editor, found)  # type: ignore[arg-type]


def _open_document(found: _File | None, path: Path) -> tuple[_Doc, _Fingerprint]:
    """The sidecar to edit (a new empty document where there is none) and the fingerprint that
    :func:`apply` checks before writing."""
    if found is None:
        return _parse(_NEW_DOCUMENT.encode("utf-8"), path), _Fingerprint(False)
    return _parse(found.data, path), _Fingerprint(True, hashlib.sha256(found.data).hexdigest())


def _edited(plan: SidecarPlan, doc: _Doc, editor: _Editor, found: _File | None) -> SidecarPlan:
    """``plan`` with the edited sidecar's bytes, or deleting a file left holding nothing but
    blipdesk's empty shell; refused for a read-only sidecar, and never anything that does not
    read back."""
    path, target = plan.path, plan.target
    if found is not None and not found.mode & stat.S_IWUSR:
        raise SidecarError(f"{display_path(path)}: read-only; left alone")
    content = doc.encode(editor.result())
    try:
        edited = _parse(content, path).root
    except SidecarError as exc:  # a bug: never write what could not be read back
        raise SidecarError(f"{exc} after editing; nothing was written") from None
    if found is not None and target == path and _is_empty_blipdesk_file(edited):
        return replace(plan, deletes_file=True)
    return replace(plan, content=content)


def _plan_rating(editor: _Editor, rating: SidecarRating) -> bool:
    """Collect in ``editor`` the edits that make the sidecar hold ``rating``; True if any. Each
    property is edited in the form it has (attribute or element); a missing one is added as an
    element next to the keywords."""
    root = editor.doc.root
    changed = False
    for name, value in rating.xmp_values().items():
        found = _scalars(root, name)
        if not found:
            if value is not None:
                new = ET.Element(name)
                new.text = value
                editor._add_property(_state(root), new)
                changed = True
            continue
        for n, (desc, el, text) in enumerate(found):
            if value is not None and n == 0:
                if text.strip() == value:
                    continue
                if el is None:
                    editor.set_attribute(desc, name, value)
                else:
                    span = editor.doc.span(el)
                    new = ET.Element(name)
                    new.text = value
                    editor.edits.append(
                        (span.start, span.end, _fragment(new, editor.doc.scopes[id(desc)], ""))
                    )
            elif el is None:
                editor._remove_attribute(desc, name)
            else:
                editor._remove(desc, el)
            changed = True
    return changed


def plan_rating(
    photo: str | os.PathLike[str],
    rating: SidecarRating,
    naming: str | SidecarNaming = SidecarNaming.APPEND,
) -> SidecarPlan:
    """What writing ``rating`` into the sidecar of ``photo`` would change (the tags' sidecar,
    merged the same way: every other property and keyword is kept). Nothing is written; pass
    the plan to :func:`apply`. No rating and no sidecar: nothing to do."""
    photo = Path(photo)
    if not os.path.exists(photo):
        raise SidecarError(
            f"{display_path(photo)}: the photo is not there; its sidecar is left alone"
        )
    path = sidecar_path(photo, naming)
    target = _write_target(path)
    found = _read_file(target, path if target != path else None)
    empty = rating == SidecarRating()
    if found is None and empty:
        return SidecarPlan(path, (photo,), (), (), (), creates_file=False)
    doc, base = _open_document(found, path)
    editor = _Editor(doc)
    try:
        changed = _plan_rating(editor, rating)
    except SidecarError as exc:
        raise SidecarError(f"{display_path(path)}: {exc}") from None
    plan = SidecarPlan(
        path, (photo,), (), (), (), creates_file=found is None, base=base, target=target
    )
    if not changed:
        return plan
    return _edited(plan, doc, editor, found)


def plan_ratings(
    ratings: Mapping[str, SidecarRating], naming: str | SidecarNaming = SidecarNaming.APPEND
) -> list[SidecarPlan | SidecarError]:
    """One rating plan (or its error) per photo: one bad sidecar never stops the rest."""
    return [
        _each(photo, functools.partial(plan_rating, photo, rating, naming))
        for photo, rating in ratings.items()
    ]


def plan_removal(
    photo: str | os.PathLike[str], naming: str | SidecarNaming = SidecarNaming.APPEND
) -> SidecarPlan:
    """Undo blipdesk: remove exactly its keywords, and the sidecar itself if blipdesk created it
    and nothing else is left in it."""
    return plan_sidecar(photo, (), naming)


def _each(
    path: str | os.PathLike[str], plan: Callable[[], SidecarPlan]
) -> SidecarPlan | SidecarError:
    """One item of a run: its plan, or why it has none, so one bad item never stops the rest."""
    try:
        return plan()
    except SidecarError as exc:
        return exc
    except OSError as exc:
        return SidecarError(f"{display_path(path)}: {_os_reason(exc, 'cannot be read')}")
    except (RecursionError, ValueError) as exc:
        return SidecarError(f"{display_path(path)}: not a sidecar blipdesk can edit ({exc})")


# A mapping is invariant in its keys: photos keyed by str, by Path, or by either.
_PathT = TypeVar("_PathT", bound="str | os.PathLike[str]")


def plan_sidecars(
    photo_tags: Mapping[_PathT, Iterable[str]],
    naming: str | SidecarNaming = SidecarNaming.APPEND,
    remove: bool = False,
) -> list[SidecarPlan | SidecarError]:
    """One plan a sidecar, for many photos (a preview, a dry run). Photos that share a sidecar
    share a plan with the union of their tags. A sidecar that cannot be planned comes back as
    its :class:`SidecarError` in the list, so one bad file does not stop the rest."""
    groups: dict[Path, tuple[list[Path], dict[str, None]]] = {}
    errors: list[SidecarPlan | SidecarError] = []
    for photo, tags in photo_tags.items():
        try:
            path = sidecar_path(photo, naming)
        except SidecarError as exc:
            errors.append(exc)
            continue
        photos, names = groups.setdefault(path, ([], {}))
        photos.append(Path(photo))
        if not remove:
            names.update(dict.fromkeys(tags))
    out = errors
    for path, (photos, names) in groups.items():
        out.append(_each(path, functools.partial(plan_sidecar, photos, names, naming)))
    return out


def sidecars_under(folders: Iterable[str | os.PathLike[str]], recursive: bool = True) -> list[Path]:
    """Every ``.xmp`` file under ``folders`` (hidden folders skipped), sorted."""
    found: set[Path] = set()
    for folder in folders:
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if recursive else []
            found.update(Path(root, f) for f in files if f.lower().endswith(".xmp"))
    return sorted(found)


def plan_removal_under(
    folders: Iterable[str | os.PathLike[str]], recursive: bool = True
) -> list[SidecarPlan | SidecarError]:
    """Removal plans for every sidecar under ``folders``, whatever its naming and whether or not
    blipdesk still knows the photo: undoing blipdesk needs neither its cache nor the photos."""
    return [
        _each(path, functools.partial(plan_sidecar_file, path, ()))
        for path in sidecars_under(folders, recursive)
    ]


def describe(plan: SidecarPlan) -> str:
    """One line for a preview or a log: ``path: +added -removed`` and what happens to the file.
    The path is shown with :func:`~blipdesk.infra.display.display_path`, so the line stays one line."""
    changes = [f"+{t}" for t in plan.added] + [f"-{t}" for t in plan.removed]
    if plan.deletes_file:
        changes.append("(sidecar deleted)")
    elif plan.creates_file and plan.changes:
        changes.append("(new sidecar)")
    if plan.mirrored:
        changes.append(f"(user keywords mirrored: {len(plan.mirrored)})")
    if plan.changes and not changes:
        changes.append("(keyword fields tidied: duplicate or scattered entries merged)")
    changes += [f"({note})" for note in plan.notes]
    return f"{display_path(plan.path)}: {' '.join(changes) if changes else 'unchanged'}"


@dataclass(frozen=True)
class SidecarRun:
    """What :func:`apply_plans` did (or, in a dry run, would do). ``stopped``: cancelled before
    the end (the sidecars not reached are in no list); ``cleaned``: stale temporary files of an
    interrupted earlier run, removed."""

    changed: tuple[SidecarPlan, ...]
    unchanged: tuple[SidecarPlan, ...]
    failed: tuple[SidecarError, ...]
    stopped: bool = False
    cleaned: tuple[Path, ...] = ()


def apply_plans(
    plans: Iterable[SidecarPlan | SidecarError],
    *,
    dry_run: bool = False,
    cancel: threading.Event | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SidecarRun:
    """Apply each plan that changes something; a sidecar that cannot be written is reported in
    ``failed`` and the rest go on. ``cancel`` (set from a signal handler, say) stops between two
    sidecars, never in the middle of one. Before writing, blipdesk's own temporary files that an
    interrupted run left next to these sidecars are removed (:func:`clean_stale_temporaries`).
    ``progress(done, total)`` is called after each plan (a window shows a bar)."""
    plans = list(plans)
    cleaned: list[Path] = []
    if not dry_run:
        folders = {p.file.parent for p in plans if isinstance(p, SidecarPlan) and p.changes}
        for folder in sorted(folders):
            cleaned += clean_stale_temporaries(folder)
    changed, unchanged, failed = [], [], []
    stopped = False
    for done, plan in enumerate(plans):
        if progress is not None and (done % 25 == 0 or done == len(plans) - 1):
            progress(done, len(plans))
        if cancel is not None and cancel.is_set():
            stopped = True
            break
        if isinstance(plan, SidecarError):
            failed.append(plan)
            continue
        if not plan.changes:
            unchanged.append(plan)
            continue
        if not dry_run:
            try:
                apply(plan)
            except SidecarError as exc:
                failed.append(exc)
                continue
            except OSError as exc:
                where = display_path(plan.path)
                failed.append(SidecarError(f"{where}: {_os_reason(exc, 'cannot be written')}"))
                continue
        changed.append(plan)
    return SidecarRun(tuple(changed), tuple(unchanged), tuple(failed), stopped, tuple(cleaned))


# --- writing -----------------------------------------------------------------------------------


def _fingerprint(path: Path) -> tuple[_Fingerprint, int]:
    found = _read_file(path)
    if found is None:
        return _Fingerprint(False), 0
    return _Fingerprint(True, hashlib.sha256(found.data).hexdigest()), found.mode


def apply(plan: SidecarPlan) -> None:
    """Carry out a plan: write the sidecar atomically, or delete it. Refuses with
    :class:`SidecarChangedError` if the sidecar is no longer what the plan was made from."""
    if not plan.changes:
        return
    path, target = plan.path, plan.file
    if _write_target(path) != target:
        raise SidecarChangedError(
            f"{display_path(path)}: its symbolic link changed since it was read; nothing was written"
        )
    base, mode = _fingerprint(target)
    if base != plan.base:
        raise SidecarChangedError(
            f"{display_path(path)}: changed since it was read; nothing was written"
        )
    if base.exists and not mode & stat.S_IWUSR:
        raise SidecarError(f"{display_path(path)}: read-only; left alone")
    if plan.deletes_file:
        path.unlink()
        return
    assert plan.content is not None
    _atomic_write(target, plan.content, create=not plan.base.exists)


def _host() -> str:
    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def _atomic_write(path: Path, content: bytes, *, create: bool) -> None:
    if create:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    else:
        mode = path.stat().st_mode & 0o7777
    # A short name of its own, whatever the sidecar's (a 250-byte sidecar name leaves no room).
    prefix = f"{TEMP_PREFIX}{_host()}-{os.getpid()}-"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        if create:
            # Creating: never replace a sidecar that appeared meanwhile (a hard link fails if the
            # name exists); file systems without hard links fall back to a last check.
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise SidecarChangedError(
                    f"{display_path(path)}: appeared since it was planned; nothing was written"
                ) from None
            except OSError:
                if os.path.lexists(path):
                    raise SidecarChangedError(
                        f"{display_path(path)}: appeared since it was planned; nothing was written"
                    ) from None
                os.replace(tmp, path)
        else:
            os.replace(tmp, path)
    finally:
        _unlink_quietly(tmp)  # also on Ctrl-C, SIGTERM (the CLI turns it into an exception)
    _fsync_dir(path.parent)


def clean_stale_temporaries(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files an interrupted blipdesk (``kill -9``, a power cut) left in
    ``folder``; returns them. Only regular files named as blipdesk names its own temporaries
    (``.blipdesk-tmp-<host>-<pid>-<random>.tmp``) are candidates, and only when the process that
    made them is gone (same host, PID not running) or they are a day old. Nothing else is ever
    removed, and neither is a temporary of this process."""
    removed: list[Path] = []
    here, me, now = _host(), os.getpid(), time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        found = _TEMP_NAME.match(entry.name)
        if found is None:
            continue
        host, pid = found.group(1), int(found.group(2))
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode) or (host == here and pid == me):
            continue
        gone = host == here and not _running(pid)
        if gone or now - st.st_mtime > STALE_TEMP_SECONDS:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _running(pid: int) -> bool:
    if os.name != "posix":  # os.kill(pid, 0) would signal the process there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's process: running
    return True


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_tags(
    photo: str | os.PathLike[str],
    tags: Iterable[str],
    naming: str | SidecarNaming = SidecarNaming.APPEND,
) -> SidecarPlan:
    """Plan and apply in one go; returns the plan that was carried out."""
    plan = plan_sidecar(photo, tags, naming)
    apply(plan)
    return plan


def remove_tags(
    photo: str | os.PathLike[str], naming: str | SidecarNaming = SidecarNaming.APPEND
) -> SidecarPlan:
    plan = plan_removal(photo, naming)
    apply(plan)
    return plan


# --- new elements ------------------------------------------------------------------------------


def _escape_text(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    )


def _escape_attr(text: str) -> str:
    return _escape_text(text).replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")


def _uris(el: ET.Element) -> list[str]:
    found: dict[str, None] = {}
    for node in el.iter():
        tag: object = node.tag  # typed str, but a function for comments and instructions
        if not isinstance(tag, str):
            continue
        for name in [tag, *node.attrib]:
            if name.startswith("{"):
                found[name[1:].split("}", 1)[0]] = None
    found.pop(NS_XML, None)
    return list(found)


def _fragment(el: ET.Element, scope: Mapping[str, str], pad: str, mark: bool = False) -> str:
    """``el`` as XML text to insert where ``scope`` is in force, after ``pad`` (a line break and
    indentation, or nothing). Prefixes in scope are used; namespaces that are not in scope are
    declared on ``el`` itself, with prefixes that shadow nothing in scope. ``mark``: declare
    blipdesk's namespace on ``el`` whatever is in scope (:data:`_MARK`)."""
    if mark:
        scope = {p: u for p, u in scope.items() if p != "blipdesk" and u != NS_BLIPDESK}
    prefix_of = {uri: prefix for prefix, uri in scope.items() if prefix}
    prefix_of[NS_XML] = "xml"
    declare: list[tuple[str, str]] = []
    taken = set(scope)
    for uri in [NS_BLIPDESK] * mark + _uris(el):
        if uri not in prefix_of:
            prefix, n = _PREFERRED_PREFIXES.get(uri, "ns0"), 0
            while prefix in taken:
                prefix, n = f"ns{n}", n + 1
            taken.add(prefix)
            prefix_of[uri] = prefix
            declare.append((prefix, uri))

    def qname(name: str) -> str:
        if not name.startswith("{"):
            return name
        uri, local = name[1:].split("}", 1)
        return f"{prefix_of[uri]}:{local}"

    out: list[str] = []

    def write(node: ET.Element, indent: str, top: bool) -> None:
        out.append(indent)
        tag: object = node.tag  # typed str, but a function for comments and instructions
        if tag is ET.Comment:
            out.append(f"<!--{node.text or ''}-->")
            return
        if tag is ET.ProcessingInstruction:
            out.append(f"<?{node.text or ''}?>")
            return
        parts = [qname(str(tag))]
        if top:
            parts += [f'xmlns:{p}="{_escape_attr(u)}"' for p, u in declare]
        parts += [f'{qname(k)}="{_escape_attr(v)}"' for k, v in node.attrib.items()]
        children = list(node)
        text = node.text or ""
        if not children and not text:
            out.append("<" + " ".join(parts) + "/>")
            return
        out.append("<" + " ".join(parts) + ">")
        if children:
            if text.strip():
                out.append(_escape_text(text))
            inner = indent + " " if indent else ""
            for child in children:
                write(child, inner, False)
                if (child.tail or "").strip():
                    out.append(_escape_text(child.tail or ""))
            out.append(indent)
        else:
            out.append(_escape_text(text))
        out.append(f"</{parts[0]}>")

    write(el, pad, True)
    return "".join(out)
