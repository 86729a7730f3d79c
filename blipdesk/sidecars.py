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
  round-trip. Characters XML 1.0 cannot carry (control characters other than tab, newline and
  carriage return) are refused with a :class:`SidecarError`. Surrounding whitespace is stripped; empty names are
  skipped.

Safety
------
Sidecars are written atomically (temporary file in the same folder, fsync, ``os.replace``) and
only if the sidecar is still exactly what was read when the plan was made; otherwise
:class:`SidecarChangedError`. A window of a few microseconds between that check and the replace
remains (no portable compare-and-swap on files). Sidecars are parsed with the standard library;
a document type declaration (entity expansion, external entities) is refused, XMP never has one.
A sidecar blipdesk created (``x:xmptk="blipdesk ..."``) that holds nothing else after removal is
deleted. Photos are never opened, let alone written.
"""

from __future__ import annotations

import contextlib
import copy
import enum
import hashlib
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from blipdesk import __version__
from blipdesk.errors import UserError

NS_X = "adobe:ns:meta/"
NS_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
NS_DC = "http://purl.org/dc/elements/1.1/"
NS_LR = "http://ns.adobe.com/lightroom/1.0/"
NS_DIGIKAM = "http://www.digikam.org/ns/1.0/"
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

# Characters XML 1.0 cannot carry, even escaped.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_XPACKET_BEGIN = re.compile(r"<\?xpacket\s+begin=.*?\?>", re.S)
_XPACKET_END = re.compile(r"<\?xpacket\s+end=.*?\?>", re.S)


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
    content: bytes | None = field(default=None, repr=False)
    base: _Fingerprint = field(default=_Fingerprint(False), repr=False)

    @property
    def changes(self) -> bool:
        return self.content is not None or self.deletes_file


# --- naming ------------------------------------------------------------------------------------


def sidecar_path(photo: str | os.PathLike[str], naming: str | SidecarNaming = "jpg.xmp") -> Path:
    """The sidecar of ``photo``. An existing one spelled ``.XMP`` is found on case-sensitive disks."""
    photo = Path(photo)
    naming = SidecarNaming.parse(naming)
    if photo.suffix.lower() == ".xmp":
        raise SidecarError(f"{photo}: is itself an XMP file, not a photo")
    stem = photo.name if naming is SidecarNaming.APPEND else photo.stem
    path = photo.with_name(stem + ".xmp")
    if not path.exists():
        upper = photo.with_name(stem + ".XMP")
        if upper.exists():
            return upper
    return path


# --- tag names ---------------------------------------------------------------------------------


def normalize_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """Stripped, de-duplicated names in their order; empty names dropped; names XML cannot hold
    refused."""
    out: dict[str, None] = {}
    for tag in tags:
        name = tag.strip()
        if not name:
            continue
        if _INVALID_XML.search(name):
            raise SidecarError(f"tag {name!r} has characters an XMP file cannot hold")
        out[name] = None
    return tuple(out)


def _leaf(prop: str, name: str) -> str:
    return name.replace(_SEPARATOR_OF[prop], _STAND_IN_OF[prop])


def _entry(prop: str, name: str) -> str:
    return _PREFIX_OF[prop] + _leaf(prop, name)


# --- reading -----------------------------------------------------------------------------------


def _decode(data: bytes, where: Path) -> str:
    try:
        if data.startswith((b"\xfe\xff", b"\xff\xfe")):
            return data.decode("utf-16")
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SidecarError(f"{where}: not a readable XMP file ({exc.reason})") from None


def _parse(data: bytes, where: Path) -> ET.Element:
    text = _decode(data, where)
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise SidecarError(f"{where}: has a document type declaration; XMP files never do")
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True, insert_pis=True))
    try:
        parser.feed(text)
        root = parser.close()
    except ET.ParseError as exc:
        raise SidecarError(f"{where}: not a readable XMP file ({exc})") from None
    if root.tag not in (X_XMPMETA, X_XAPMETA, RDF_RDF) or _rdf(root) is None:
        raise SidecarError(f"{where}: not an XMP file (no x:xmpmeta/rdf:RDF)")
    return root


def _rdf(root: ET.Element) -> ET.Element | None:
    if root.tag == RDF_RDF:
        return root
    return root.find(RDF_RDF)


def _prefixes(text: str) -> dict[str, str]:
    """The prefix each namespace URI had in the file (the first one, if several)."""
    import io

    found: dict[str, str] = {}
    try:
        for _event, (prefix, uri) in ET.iterparse(io.StringIO(text), events=("start-ns",)):
            found.setdefault(uri, prefix)
    except ET.ParseError:
        pass
    return found


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
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return SidecarKeywords()
    except OSError as exc:
        raise SidecarError(f"{path}: cannot be read ({exc.strerror})") from None
    root = _parse(data, path)
    try:
        state = _state(root)
    except SidecarError as exc:
        raise SidecarError(f"{path}: {exc}") from None
    return SidecarKeywords(
        subjects=tuple(state.subjects.values()),
        hierarchical=tuple(state.hierarchical.values()),
        tags_list=tuple(state.tags_list.values()),
        blipdesk_tags=tuple(state.current_tags()),
        user_subjects=tuple(k for k in state.subjects.values() if k not in state.owned_subjects()),
    )


# --- planning ----------------------------------------------------------------------------------


def _new_document() -> ET.Element:
    root = ET.Element(X_XMPMETA, {X_XMPTK: XMPTK})
    rdf = ET.SubElement(root, RDF_RDF)
    desc = ET.SubElement(rdf, RDF_DESCRIPTION, {RDF_ABOUT: ""})
    root.text, rdf.text, desc.text = "\n ", "\n  ", "\n  "
    desc.tail, rdf.tail = "\n ", "\n"
    return root


def _target_description(root: ET.Element, state: _State) -> ET.Element:
    for prop in (state.subjects, *state.hierarchies()):
        if prop.elements:
            return prop.elements[0][0]
        if prop.attributes:
            return prop.attributes[0]
    descs = _descriptions(root)
    if descs:
        return descs[0]
    rdf = _rdf(root)
    assert rdf is not None
    desc = ET.Element(RDF_DESCRIPTION, {RDF_ABOUT: ""})
    _append(rdf, desc)
    return desc


def _rewrite(root: ET.Element, state: _State, prop: _Property, wanted: list[_Item]) -> None:
    """Replace every occurrence of ``prop`` with one array of ``wanted`` items (or none)."""
    for desc in prop.attributes:
        del desc.attrib[prop.name]
    if prop.elements:
        desc, first = prop.elements[0]
        for d, el in prop.elements[1:]:
            _remove(d, el)
    else:
        desc, first = _target_description(root, state), None
    if not wanted:
        if first is not None:
            _remove(desc, first)
        return
    container_tag = prop.container or _q(NS_RDF, _CONTAINER_OF[prop.name])
    new = ET.Element(prop.name)
    container = ET.SubElement(new, container_tag)
    for item in wanted:
        if item.element is not None and item.element.tag == RDF_LI:
            li = copy.deepcopy(item.element)
        else:
            li = ET.Element(RDF_LI)
            li.text = item.value
        container.append(li)
    if first is not None:
        new.tail = first.tail
        desc.insert(list(desc).index(first), new)
        desc.remove(first)
    else:
        _append(desc, new)
    _indent(new, _pad_before(desc, new))


def _pad_before(parent: ET.Element, el: ET.Element) -> str:
    """The whitespace in front of ``el``: a new element is laid out like its neighbours."""
    children = list(parent)
    i = children.index(el)
    before = parent.text if i == 0 else children[i - 1].tail
    if before and not before.strip() and "\n" in before:
        return "\n" + before.rsplit("\n", 1)[1]
    return "\n  "


def _append(parent: ET.Element, el: ET.Element) -> None:
    children = list(parent)
    if children:
        closing = children[-1].tail
        children[-1].tail = _pad_before(parent, children[-1])
    else:
        closing = parent.text
        parent.text = (closing or "\n ") + " "
    el.tail = closing
    parent.append(el)


def _remove(parent: ET.Element, el: ET.Element) -> None:
    """Remove ``el`` and the whitespace it brought, so no blank line is left behind."""
    children = list(parent)
    i = children.index(el)
    if i == len(children) - 1:
        if i == 0:
            parent.text = el.tail
        else:
            children[i - 1].tail = el.tail
    parent.remove(el)


def _indent(el: ET.Element, pad: str) -> None:
    """Lay out a new element one space a level deeper than ``pad``, as Exiv2 and exiftool do."""
    children = list(el)
    if children:
        el.text = pad + " "
        for child in children:
            _indent(child, pad + " ")
            child.tail = pad + " "
        children[-1].tail = pad


def _plan_document(root: ET.Element, tags: Sequence[str]) -> tuple[list[str], list[str], bool]:
    """Edit ``root`` in place so that blipdesk's tags are ``tags``. Returns (current tags,
    mirrored entries, changed)."""
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
        _rewrite(root, state, state.subjects, wanted)
        changed = True
    # A new keyword that is also a level of a user's hierarchy would pass for the user's.
    changed |= _update_record(
        root, state, state.added_subjects, set(tags) & set(present), [t for t in new if t in others]
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
            _rewrite(root, state, prop, wanted)
            changed = True
        changed |= _update_record(
            root, state, record, set(_values(wanted)) if tags else set(), extra
        )
    return current, mirrored, changed


def _update_record(
    root: ET.Element, state: _State, record: _Property, still: set[str], new: list[str]
) -> bool:
    """Keep blipdesk's record of what it added (entries still in ``still``) plus ``new``."""
    wanted = [i for i in record.items if i.value in still] + [_Item(v) for v in new]
    if _values(wanted) == record.values():
        return False
    _rewrite(root, state, record, wanted)
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
        else (Path(photo),)  # type: ignore[arg-type]
    )
    if not any(p.exists() for p in photos):
        raise SidecarError(f"{photos[0]}: the photo is not there; its sidecar is left alone")
    return plan_sidecar_file(sidecar_path(photos[0], naming), tags, photos)


def plan_sidecar_file(
    path: str | os.PathLike[str], tags: Iterable[str], photos: Sequence[Path] = ()
) -> SidecarPlan:
    """:func:`plan_sidecar` for a sidecar named directly (removal from every sidecar in a folder
    needs no photo and no naming)."""
    path, photos, tags = Path(path), tuple(photos), normalize_tags(tags)
    try:
        data: bytes | None = path.read_bytes()
    except FileNotFoundError:
        data = None
    except OSError as exc:
        raise SidecarError(f"{path}: cannot be read ({exc.strerror})") from None

    if data is None:
        base = _Fingerprint(False)
        if not tags:
            return SidecarPlan(path, photos, (), (), (), creates_file=False, base=base)
        root, wrapper, prefixes = _new_document(), None, {}
    else:
        base = _Fingerprint(True, hashlib.sha256(data).hexdigest())
        root = _parse(data, path)
        text = _decode(data, path)
        wrapper = _wrapper(text)
        prefixes = _prefixes(text)

    try:
        current, mirrored, changed = _plan_document(root, tags)
    except SidecarError as exc:
        raise SidecarError(f"{path}: {exc}") from None
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
        creates_file=data is None,
        mirrored=tuple(mirrored),
        base=base,
    )
    if not changed and data is not None:
        return SidecarPlan(**plan)  # type: ignore[arg-type]
    if data is not None and _is_empty_blipdesk_file(root):
        return SidecarPlan(**plan, deletes_file=True)  # type: ignore[arg-type]
    content = serialize(root, prefixes, wrapper)
    return SidecarPlan(**plan, content=content)  # type: ignore[arg-type]


def plan_removal(
    photo: str | os.PathLike[str], naming: str | SidecarNaming = SidecarNaming.APPEND
) -> SidecarPlan:
    """Undo blipdesk: remove exactly its keywords, and the sidecar itself if blipdesk created it
    and nothing else is left in it."""
    return plan_sidecar(photo, (), naming)


def plan_sidecars(
    photo_tags: Mapping[str | os.PathLike[str], Iterable[str]],
    naming: str | SidecarNaming = SidecarNaming.APPEND,
    remove: bool = False,
) -> list[SidecarPlan | SidecarError]:
    """One plan a sidecar, for many photos (a preview, a dry run). Photos that share a sidecar
    share a plan with the union of their tags. A sidecar that cannot be planned comes back as
    its :class:`SidecarError` in the list, so one bad file does not stop the rest."""
    groups: dict[Path, tuple[list[Path], dict[str, None]]] = {}
    errors: list[SidecarError] = []
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
    out: list[SidecarPlan | SidecarError] = list(errors)
    for photos, names in groups.values():
        try:
            out.append(plan_sidecar(photos, names, naming))
        except SidecarError as exc:
            out.append(exc)
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
    out: list[SidecarPlan | SidecarError] = []
    for path in sidecars_under(folders, recursive):
        try:
            out.append(plan_sidecar_file(path, ()))
        except SidecarError as exc:
            out.append(exc)
    return out


def describe(plan: SidecarPlan) -> str:
    """One line for a preview or a log: ``path: +added -removed`` and what happens to the file."""
    changes = [f"+{t}" for t in plan.added] + [f"-{t}" for t in plan.removed]
    if plan.deletes_file:
        changes.append("(sidecar deleted)")
    elif plan.creates_file and plan.changes:
        changes.append("(new sidecar)")
    if plan.mirrored:
        changes.append(f"(user keywords mirrored: {len(plan.mirrored)})")
    return f"{plan.path}: {' '.join(changes) if changes else 'unchanged'}"


@dataclass(frozen=True)
class SidecarRun:
    """What :func:`apply_plans` did (or, in a dry run, would do)."""

    changed: tuple[SidecarPlan, ...]
    unchanged: tuple[SidecarPlan, ...]
    failed: tuple[SidecarError, ...]


def apply_plans(
    plans: Iterable[SidecarPlan | SidecarError], *, dry_run: bool = False
) -> SidecarRun:
    """Apply each plan that changes something; a sidecar that cannot be written is reported in
    ``failed`` and the rest go on."""
    changed, unchanged, failed = [], [], []
    for plan in plans:
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
                failed.append(SidecarError(f"{plan.path}: cannot be written ({exc.strerror})"))
                continue
        changed.append(plan)
    return SidecarRun(tuple(changed), tuple(unchanged), tuple(failed))


# --- writing -----------------------------------------------------------------------------------


def _fingerprint(path: Path) -> _Fingerprint:
    try:
        return _Fingerprint(True, hashlib.sha256(path.read_bytes()).hexdigest())
    except FileNotFoundError:
        return _Fingerprint(False)


def apply(plan: SidecarPlan) -> None:
    """Carry out a plan: write the sidecar atomically, or delete it. Refuses with
    :class:`SidecarChangedError` if the sidecar is no longer what the plan was made from."""
    if not plan.changes:
        return
    path = plan.path
    if _fingerprint(path) != plan.base:
        raise SidecarChangedError(f"{path}: changed since it was read; nothing was written")
    if plan.deletes_file:
        path.unlink()
        return
    assert plan.content is not None
    _atomic_write(path, plan.content, create=not plan.base.exists)


def _atomic_write(path: Path, content: bytes, *, create: bool) -> None:
    if create:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    else:
        mode = path.stat().st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
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
                    f"{path}: appeared since it was planned; nothing was written"
                ) from None
            except OSError:
                if path.exists():
                    raise SidecarChangedError(
                        f"{path}: appeared since it was planned; nothing was written"
                    ) from None
                os.replace(tmp, path)
        else:
            os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    _unlink_quietly(tmp)
    _fsync_dir(path.parent)


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


# --- serializing -------------------------------------------------------------------------------


def _wrapper(text: str) -> tuple[str, str] | None:
    begin, end = _XPACKET_BEGIN.search(text), _XPACKET_END.search(text)
    if begin is None:
        return None
    return begin.group(0), end.group(0) if end else "<?xpacket end='w'?>"


def _escape_text(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    )


def _escape_attr(text: str) -> str:
    return _escape_text(text).replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")


class _Namer:
    """Gives each namespace URI a prefix: the file's own, else the usual one, else a new one."""

    def __init__(self, prefixes: Mapping[str, str]) -> None:
        self.prefix_of: dict[str, str] = {}
        taken: set[str] = set()
        for uri, prefix in [*prefixes.items(), *_PREFERRED_PREFIXES.items()]:
            if uri in self.prefix_of or not prefix or prefix in taken:
                continue
            self.prefix_of[uri] = prefix
            taken.add(prefix)
        self.taken = taken
        self.prefix_of[NS_XML] = "xml"

    def prefix(self, uri: str) -> str:
        if uri not in self.prefix_of:
            n = 0
            while f"ns{n}" in self.taken:
                n += 1
            self.prefix_of[uri] = f"ns{n}"
            self.taken.add(f"ns{n}")
        return self.prefix_of[uri]

    def qname(self, tag: str) -> tuple[str, str | None]:
        if tag.startswith("{"):
            uri, local = tag[1:].split("}", 1)
            return f"{self.prefix(uri)}:{local}", uri
        return tag, None


def _uris(el: ET.Element, deep: bool) -> list[str]:
    found: dict[str, None] = {}
    for node in el.iter() if deep else [el]:
        if not isinstance(node.tag, str):
            continue
        for name in [node.tag, *node.attrib]:
            if name.startswith("{"):
                found[name[1:].split("}", 1)[0]] = None
    found.pop(NS_XML, None)
    return list(found)


def serialize(
    root: ET.Element,
    prefixes: Mapping[str, str] | None = None,
    wrapper: tuple[str, str] | None = None,
) -> bytes:
    """XMP as Exiv2 writes it (XML declaration, no packet wrapper) or, when the file had one, in
    its ``<?xpacket?>`` wrapper. Namespaces are declared on the element that opens a property
    block (rdf:Description), as XMP writers do, with the prefixes the file used."""
    namer = _Namer(prefixes or {})
    out: list[str] = []

    def write(el: ET.Element, declared: frozenset[str], top: bool) -> None:
        if el.tag is ET.Comment:
            out.append(f"<!--{el.text or ''}-->")
        elif el.tag is ET.ProcessingInstruction:
            out.append(f"<?{el.text or ''}?>")
        else:
            deep = el.tag == RDF_DESCRIPTION and top
            uris = [u for u in _uris(el, deep) if u not in declared]
            name, _ = namer.qname(el.tag)
            parts = [name]
            parts += [f'xmlns:{namer.prefix(u)}="{_escape_attr(u)}"' for u in uris]
            parts += [f'{namer.qname(k)[0]}="{_escape_attr(v)}"' for k, v in el.attrib.items()]
            children = list(el)
            if not children and not el.text:
                out.append("<" + " ".join(parts) + "/>")
            else:
                out.append("<" + " ".join(parts) + ">")
                out.append(_escape_text(el.text or ""))
                inner = declared | set(uris)
                for child in children:
                    write(child, inner, el.tag == RDF_RDF)
                out.append(f"</{name}>")
        out.append(_escape_text(el.tail or ""))

    write(root, frozenset(), False)
    body = "".join(out).rstrip("\n")
    if wrapper:
        text = f"{wrapper[0]}\n{body}\n{wrapper[1]}"
    else:
        text = f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'
    return text.encode("utf-8")
