"""What a tag name may hold, as the rule both the store (``Library.put_tag``) and the XMP
sidecars follow: pure text rules, no I/O.

A tag travels to three keyword fields of an XMP sidecar (``services.sidecars``): ``dc:subject``
holds the name itself, ``lr:hierarchicalSubject`` holds ``blipdesk|<name>`` and
``digiKam:TagsList`` holds ``blipdesk/<name>``. ``|`` and ``/`` separate hierarchy levels there
and have no escape, so inside a name they are written as stand-ins (``¦`` U+00A6, ``∕`` U+2215)
and a tag stays one level under ``blipdesk``. Two names that fold onto one entry (``a|b`` and
``a¦b``) could not be told apart in a sidecar: :func:`sidecar_clash` finds them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

ROOT_KEYWORD = "blipdesk"

# Characters XML 1.0 cannot carry, even escaped (its Char production).
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


@dataclass(frozen=True)
class Hierarchy:
    """A hierarchical keyword field: its level separator, and the character written instead of
    the separator inside a name."""

    separator: str
    stand_in: str

    @property
    def prefix(self) -> str:
        """What every blipdesk entry in the field starts with: ``blipdesk|``, ``blipdesk/``."""
        return ROOT_KEYWORD + self.separator

    def leaf(self, name: str) -> str:
        """``name`` as one level of this field (its separators turned into the stand-in)."""
        return name.replace(self.separator, self.stand_in)

    def entry(self, name: str) -> str:
        """The entry a tag named ``name`` becomes under ``blipdesk``."""
        return self.prefix + self.leaf(name)


LIGHTROOM = Hierarchy("|", "¦")  # lr:hierarchicalSubject
DIGIKAM = Hierarchy("/", "∕")  # digiKam:TagsList


def xmp_text_problem(text: str) -> str | None:
    """The first character of ``text`` that an XMP sidecar cannot carry (``"U+0007"``), or
    ``None`` when all of it can travel. The one rule for text that goes into XMP: the store
    refuses such tag names with it (``Library.put_tag``), and planning a sidecar refuses them too.

    XMP is XML 1.0, which has no way to write most C0 control characters (not even as ``&#7;``),
    lone surrogates (a file name's undecodable byte) or U+FFFE/U+FFFF."""
    found = _INVALID_XML.search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


def sidecar_entries(name: str) -> tuple[str, str, str]:
    """What a tag becomes in ``dc:subject``, ``lr:hierarchicalSubject`` and ``digiKam:TagsList``.
    ``|`` and ``/`` are folded into stand-ins, so two names may share an entry (``a|b``, ``a¦b``)."""
    name = name.strip()
    return name, LIGHTROOM.entry(name), DIGIKAM.entry(name)


def sidecar_clash(name: str, others: Iterable[str]) -> str | None:
    """The first of ``others`` that writes one of the same sidecar entries as ``name`` (so a
    sidecar could not tell them apart), or ``None``."""
    mine = sidecar_entries(name)
    for other in others:
        if other != name and any(a == b for a, b in zip(mine, sidecar_entries(other), strict=True)):
            return other
    return None


__all__ = [
    "DIGIKAM",
    "LIGHTROOM",
    "ROOT_KEYWORD",
    "Hierarchy",
    "sidecar_clash",
    "sidecar_entries",
    "xmp_text_problem",
]
