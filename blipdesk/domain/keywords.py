"""A person's own keywords: hierarchical names (``Places|Portugal|Lisbon``) with the rules that
say what a keyword may hold, how it is spelt in each XMP keyword field and which entries are
blipdesk's own rather than the person's. Pure text rules, no I/O.

One spelling is kept: levels joined by ``|`` (Lightroom's ``lr:hierarchicalSubject``), each level
stripped of surrounding white space. digiKam's ``digiKam:TagsList`` separates levels with ``/``;
``dc:subject`` holds only the leaf. Entries under ``blipdesk`` are blipdesk's tags, never a
person's keyword (``domain.names``)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from blipdesk.domain.names import DIGIKAM, LIGHTROOM, ROOT_KEYWORD, xmp_text_problem

SEPARATOR = LIGHTROOM.separator
MAX_LENGTH = 512  # characters of a whole keyword; a longer one is refused, not cut
MAX_LEVELS = 32


class KeywordError(ValueError):
    """A text that cannot be a keyword; the message says why, for a person."""


def keyword(text: str, separator: str = SEPARATOR) -> str:
    """``text`` as a keyword in the one spelling (levels joined by ``|``), or ``KeywordError``.
    ``separator``: how ``text`` separates its levels (``/`` for a digiKam entry)."""
    if not isinstance(text, str):
        raise KeywordError("a keyword is text")
    levels = [level.strip() for level in text.split(separator)]
    if separator != SEPARATOR and any(SEPARATOR in level for level in levels):
        raise KeywordError(f"a level of {text!r} holds {SEPARATOR!r}")
    if not levels or any(not level for level in levels):
        raise KeywordError(f"{text!r} has an empty level" if text.strip() else "it is empty")
    bad = xmp_text_problem(text)
    if bad or any(unicodedata.category(c) in ("Cc", "Cs") for c in text):
        raise KeywordError(f"{text!r} holds a character XMP cannot carry ({bad or 'a control'})")
    joined = SEPARATOR.join(unicodedata.normalize("NFC", level) for level in levels)
    if len(joined) > MAX_LENGTH or len(levels) > MAX_LEVELS:
        raise KeywordError(f"{text[:40]!r}... is too long for a keyword")
    return joined


def levels(name: str) -> tuple[str, ...]:
    return tuple(name.split(SEPARATOR))


def leaf(name: str) -> str:
    """The last level: what ``dc:subject`` holds and what the keyword's words are."""
    return levels(name)[-1]


def ancestors(name: str) -> tuple[str, ...]:
    """Every keyword above ``name`` in its hierarchy, the top first."""
    parts = levels(name)
    return tuple(SEPARATOR.join(parts[:i]) for i in range(1, len(parts)))


def is_blipdesk(name: str) -> bool:
    """Whether the entry is blipdesk's own (``blipdesk`` or under it), not a person's keyword."""
    return levels(name)[0] == ROOT_KEYWORD


def digikam_entry(name: str) -> str:
    """The keyword as ``digiKam:TagsList`` writes it (``/`` between levels; a ``/`` inside a
    level becomes its stand-in, as for tags)."""
    return DIGIKAM.separator.join(DIGIKAM.leaf(level) for level in levels(name))


def sentence(name: str) -> str:
    """What the keyword's own words say to BLIP: its leaf, as a caption."""
    return f"a photo of {leaf(name).lower()}"


def most_specific(names: Iterable[str]) -> list[str]:
    """The keywords of a photo without those that only name a level above another of them (a
    photo keyworded ``Places|Lisbon`` and ``Places`` carries ``Places|Lisbon``), in order."""
    names = list(dict.fromkeys(names))
    above = {a for n in names for a in ancestors(n)}
    return [n for n in names if n not in above]


def keywords_of(
    subjects: Iterable[str], hierarchical: Iterable[str], tags_list: Iterable[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A photo's keywords read from its three XMP keyword fields: (keywords, entries refused).

    The hierarchies say the most: every entry of ``lr:hierarchicalSubject`` and of
    ``digiKam:TagsList`` is a keyword (a level above another entry is dropped as implied by it);
    a ``dc:subject`` word that no hierarchy names at any level is a flat keyword of its own.
    blipdesk's own entries are left out, and so is its ``blipdesk`` subject."""
    found: list[str] = []
    refused: list[str] = []
    for entries, separator in ((hierarchical, SEPARATOR), (tags_list, DIGIKAM.separator)):
        for entry in entries:
            try:
                name = keyword(entry, separator)
            except KeywordError:
                refused.append(entry)
                continue
            if not is_blipdesk(name):
                found.append(name)
    named = {level for name in found for level in levels(name)}
    for subject in subjects:
        try:
            name = keyword(LIGHTROOM.leaf(subject))  # a subject is one level, whatever it holds
        except KeywordError:
            refused.append(subject)
            continue
        if name not in named and name != ROOT_KEYWORD:
            found.append(name)
    return tuple(most_specific(found)), tuple(refused)


__all__ = [
    "KeywordError",
    "ancestors",
    "digikam_entry",
    "is_blipdesk",
    "keyword",
    "keywords_of",
    "leaf",
    "levels",
    "most_specific",
    "sentence",
]
