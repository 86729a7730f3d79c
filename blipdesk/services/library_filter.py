"""The one filter (``photo_filter``) applied to the library: which photos under some folders a
filter keeps, read from the cache as the window reads it (tags by the store's rule, ratings and
labels by content, duplicates by content), so the command line's ``--filter`` and the window's
grid keep the same photos. Qt-free and torch-free; the caller opens the library.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from blipdesk.core.exif import NO_FACTS, ShotFacts, shot_facts
from blipdesk.core.files import Photo, exif_taken
from blipdesk.domain import Rating, Tag, duplicate_groups
from blipdesk.services.photo_filter import FilterContext, FilterState, compile_filter
from blipdesk.store import Library


def matching_paths(
    library: Library,
    score_key: str,
    folders: Iterable[str | os.PathLike[str]],
    recursive: bool,
    state: FilterState,
) -> set[str]:
    """The paths of the photos the cache knows under ``folders`` that ``state`` keeps. Only what
    the filter asks for is read (the EXIF date only with a date range, the camera, lens, ISO,
    focal length and aperture only when a metadata column is set)."""
    folders = list(folders)
    records = library.photos_under(folders, recursive)
    if not state.active:
        return {r.path for r in records}
    content = {r.path: r.content for r in records if r.content}
    tags = {t.name: t for t in library.tags()}
    derived: dict[str, Mapping[str, tuple[float, bool]]] = {}
    if state.chips or state.min_score > 0:
        for result in library.photo_results(score_key, folders, recursive, list(tags.values())):
            derived[result.path] = {n: (ts.score, ts.match) for n, ts in result.tags.items()}
    ratings: dict[str, Rating] = {}
    if state.rating.active:
        ratings = library.ratings(list(content.values()))
    labels: dict[str, dict[str, bool]] = {}
    if state.labels is not None:
        labels = library.labels(list(content.values()))
    copies = duplicate_groups(records) if state.duplicates else {}
    dated = state.date_from is not None or state.date_to is not None
    shot = state.shot_active
    facts: dict[str, ShotFacts] = {}

    def score(path: str, tag: Tag) -> float | None:
        found = derived.get(path, {}).get(tag.name)
        return None if found is None else found[0]

    def carries(path: str, tag: Tag) -> bool:
        found = derived.get(path, {}).get(tag.name)
        return found is not None and found[1]

    ctx = FilterContext(
        tags,
        score,
        carries,
        rating=lambda p: ratings.get(content.get(p, "")),
        labels=lambda p: labels.get(content.get(p, ""), {}),
        copies=lambda p: copies.get(p, 0),
        facts=lambda p: facts.get(p, NO_FACTS),
    )
    keep = compile_filter(state, ctx)
    out = set()
    for r in records:
        if shot:  # one header read gives the date too
            facts[r.path] = shot_facts(r.path)
            taken = facts[r.path].taken
        else:
            taken = exif_taken(r.path) if dated else None
        photo = Photo(r.path, os.path.basename(r.path), r.size, r.mtime_ns / 1e9, taken)
        if keep(photo):
            out.add(r.path)
    return out
