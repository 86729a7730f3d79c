"""Which sidecar belongs to a photo, and what blipdesk's tags become in it: the names, cleaned,
and their entries in the hierarchical keyword fields (the rule itself: ``blipdesk.domain.names``,
which the store follows too)."""

from __future__ import annotations

import enum
import os
from collections.abc import Iterable
from pathlib import Path

from blipdesk.domain.names import DIGIKAM, LIGHTROOM, Hierarchy, sidecar_clash, xmp_text_problem
from blipdesk.infra.display import display_path
from blipdesk.services.sidecars.xmp import HIERARCHICAL, TAGSLIST, SidecarError

# The hierarchical keyword fields, by property: their separator, stand-in and blipdesk prefix.
_HIERARCHY_OF: dict[str, Hierarchy] = {HIERARCHICAL: LIGHTROOM, TAGSLIST: DIGIKAM}
_SEPARATOR_OF = {prop: h.separator for prop, h in _HIERARCHY_OF.items()}
_PREFIX_OF = {prop: h.prefix for prop, h in _HIERARCHY_OF.items()}
_STAND_IN_OF = {prop: h.stand_in for prop, h in _HIERARCHY_OF.items()}


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
    return _HIERARCHY_OF[prop].leaf(name)


def _entry(prop: str, name: str) -> str:
    return _HIERARCHY_OF[prop].entry(name)
