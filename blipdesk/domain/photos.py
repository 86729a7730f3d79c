"""A photo file as the cache knows it, and as the person sees it (its tags or its error)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from blipdesk.domain.scores import TagScore


@dataclass(frozen=True)
class PhotoRecord:
    """What the cache knows about one file: where it is and which content it holds."""

    path: str
    size: int
    mtime_ns: int
    content: str | None  # the image key scores are kept by; None when the file could not be read
    read_error: str | None = None
    # the file's content identity (its bytes; labels, ratings): the image key is this plus how
    # the file is decoded (a RAW's decoding rule, core/inventory.image_key). None: the same.
    identity: str | None = None


@dataclass(frozen=True)
class PhotoResult:
    """One photo as the person sees it: its error, or its tags derived from cached scores."""

    path: str
    error: str | None
    tags: Mapping[str, TagScore] = field(default_factory=dict)


def duplicate_groups(records: Iterable[PhotoRecord]) -> dict[str, int]:
    """path -> how many of ``records`` hold its content, for contents held by two or more: the
    same photo twice (a copy, a backup folder). Scores are per content, so they are scored once."""
    by_content: dict[str, list[str]] = {}
    for r in records:
        if r.content is not None:
            by_content.setdefault(r.content, []).append(r.path)
    return {p: len(group) for group in by_content.values() if len(group) > 1 for p in group}
