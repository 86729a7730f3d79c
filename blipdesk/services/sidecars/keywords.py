"""The keyword fields of a parsed sidecar (``dc:subject`` and the two hierarchies) and the rule
that says which of their keywords are blipdesk's (the package docstring), read from the sidecar
itself."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field

from blipdesk.domain.names import ROOT_KEYWORD
from blipdesk.services.sidecars.names import _PREFIX_OF, _SEPARATOR_OF, _entry
from blipdesk.services.sidecars.read import _descriptions
from blipdesk.services.sidecars.xmp import (
    ADDED_SUBJECT,
    HIERARCHICAL,
    RDF_CONTAINERS,
    RDF_DESCRIPTION,
    RDF_LI,
    RDF_VALUE,
    SUBJECT,
    TAGSLIST,
    SidecarError,
)


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


def _values(items: Iterable[_Item]) -> list[str]:
    return [i.value for i in items if i.value is not None]
