"""More like this with near-duplicates told apart, for both shells: the embedding ranks photos
by likeness; burst frames and re-exports are found by their pixels' perceptual hashes and
capture times (``domain.near``'s rule; ``core.similar`` applies it).

The scan keeps every photo's hash (``core/pixel_hash.py``, from the pixels it decoded anyway). A
photo scanned before hashes were kept has none: the chosen photos and the ``ON_DEMAND`` most
alike to them (a near-duplicate is always among the most alike) are hashed here, decoded as
the scan decodes, and the hashes kept for next time.

The grid's stacks are the bursts among the photos listed (``load_bursts``): frames taken within
a second or two of each other whose hashes are near-identical.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Mapping, Sequence

import numpy as np

from blipdesk.core.similar import Similar
from blipdesk.store import Library

log = logging.getLogger(__name__)

ON_DEMAND = 200


def similar_photos(
    database: str | os.PathLike[str],
    chosen: Mapping[str, str],
    candidates: Mapping[str, str],
    vectors: Mapping[str, np.ndarray],
    top: int,
) -> Similar:
    """``core.similar.similar`` with the hashes from the library (and those missing, made) and
    the capture times from the photos' EXIF."""
    from blipdesk.core.files import exif_taken
    from blipdesk.core.similar import similar

    hashes = pixel_hashes(database, chosen, candidates, vectors)
    return similar(chosen, candidates, vectors, top, hashes, exif_taken)


def pixel_hashes(
    database: str | os.PathLike[str],
    chosen: Mapping[str, str],
    candidates: Mapping[str, str],
    vectors: Mapping[str, np.ndarray],
) -> dict[str, bytes]:
    """content -> hash for the chosen photos and the candidates that have one (see the module
    docstring for those that had none)."""
    from blipdesk.core.pixel_hash import photo_hash
    from blipdesk.infra.errors import UserError

    wanted = {**candidates, **chosen}
    with Library.open(database, readonly=True) as lib:
        hashes = lib.pixel_hashes(list(set(wanted.values())))
    missing = [p for p in _most_alike(chosen, candidates, vectors) if wanted[p] not in hashes]
    missing = [p for p in chosen if chosen[p] not in hashes] + missing
    made: dict[str, bytes] = {}
    for path in missing:
        content = wanted[path]
        if content in hashes or content in made:
            continue
        try:
            made[content] = photo_hash(path)
        except (UserError, OSError) as exc:  # unreadable now: no near-duplicate, no stop
            log.info("no pixel hash for %s: %s", path, exc)
    if made:
        try:
            with Library.open(database) as lib:
                lib.set_pixel_hashes(made)
        except (OSError, sqlite3.Error, UserError, RuntimeError) as exc:  # a read-only place
            # the hashes serve this answer only
            log.info("pixel hashes not kept: %s", exc)
    return {**hashes, **made}


def _most_alike(
    chosen: Mapping[str, str], candidates: Mapping[str, str], vectors: Mapping[str, np.ndarray]
) -> list[str]:
    """The ``ON_DEMAND`` candidates most alike to a chosen photo (cosine), best first."""
    queries = [vectors[c] for c in chosen.values() if c in vectors]
    paths = [p for p, c in candidates.items() if c in vectors and p not in chosen]
    if not queries or not paths:
        return []
    best = (np.stack([vectors[candidates[p]] for p in paths]) @ np.stack(queries).T).max(1)
    order = np.argsort(-best, kind="stable")[:ON_DEMAND]
    return [paths[i] for i in order]


def load_bursts(
    database: str | os.PathLike[str], photos: Sequence[tuple[str, float | None]]
) -> list[tuple[str, ...]]:
    """The bursts among ``photos`` (path, capture time or None: read from the EXIF):
    ``domain.near.bursts`` over the hashes the scans kept (a photo the library does not know, or
    has not decoded, is in none)."""
    from blipdesk.domain.near import bursts

    if not os.path.isfile(database):
        return []
    stats = []
    for path, _taken in photos:
        try:
            st = os.stat(path)
        except OSError:
            continue
        stats.append((path, st.st_size, st.st_mtime_ns))
    with Library.open(database, readonly=True) as lib:
        contents = lib.contents_of(stats)
        hashes = lib.pixel_hashes(list(set(contents.values())))
    from blipdesk.core.files import exif_taken

    frames = []
    for path, taken in photos:
        bits = hashes.get(contents.get(path, ""))
        if bits is not None:  # the listing's date may not be read yet: the EXIF's
            frames.append((path, bits, taken if taken is not None else exif_taken(path)))
    return bursts(frames)
