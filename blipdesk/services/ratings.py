"""Star ratings (0-5), pick/reject flags and colour labels: kept by photo content in the library
(a renamed or moved photo keeps its rating), read from and written to XMP sidecars
(``sidecars.SidecarRating``: ``xmp:Rating``, Lightroom's ``xmpDM:pick``/``xmpDM:good`` and
``xmp:Label``, digiKam's ``PickLabel`` and ``ColorLabel``), and a filter rule the grid's filter
can use.

Qt-free and torch-free; the window runs the functions that touch the disk in background tasks
(each opens its own library connection), never on the GUI thread.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from blipdesk.domain import COLOURS, Rating
from blipdesk.store import Library

__all__ = [
    "COLOURS",
    "Rating",
    "RatingFilter",
    "load_ratings",
    "read_sidecar_ratings",
    "save_ratings",
]

# What the keys mean, as Lightroom and digiKam use them: 0-5 stars, P pick, X reject, U unflag;
# 6-9 colour labels as in Lightroom (purple has no key there: it is in the menu).
STAR_KEYS = "012345"
FLAG_KEYS = {"P": 1, "X": -1, "U": 0}
COLOUR_KEYS = {"red": "6", "yellow": "7", "green": "8", "blue": "9"}
FLAGS = {"picked": 1, "rejected": -1, "unflagged": 0}  # what a filter asks -> Rating.flag
NO_COLOUR = "none"  # what a filter asks for photos with no colour label


@dataclass(frozen=True)
class RatingFilter:
    """Which ratings a filter keeps: at least ``min_stars`` stars, the flag when one is asked
    ("picked", "rejected", "unflagged"; None: any), and one of ``colours`` when some are asked
    (colour names of ``COLOURS``, or ``NO_COLOUR`` for no label; as Lightroom's filter, any of
    them). ``any`` when it keeps everything."""

    min_stars: int = 0
    flag: str | None = None
    colours: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if any(c not in (*COLOURS, NO_COLOUR) for c in self.colours):
            raise ValueError(f"not colour labels: {self.colours}")

    @property
    def active(self) -> bool:
        return self.min_stars > 0 or self.flag is not None or bool(self.colours)

    def accepts(self, rating: Rating | None) -> bool:
        rating = rating or Rating()
        if rating.stars < self.min_stars:
            return False
        if self.colours and (rating.colour or NO_COLOUR) not in self.colours:
            return False
        wanted = FLAGS.get(self.flag or "")
        return wanted is None or rating.flag == wanted

    def describe(self) -> str:
        parts = [f"≥ {'★' * self.min_stars}"] if self.min_stars else []
        if self.flag:
            parts.append(self.flag)
        if self.colours:
            names = [c if c != NO_COLOUR else "no colour" for c in self.colours]
            parts.append(" or ".join(names) + (" label" if NO_COLOUR not in self.colours else ""))
        return ", ".join(parts) or "any rating"


def stars_text(rating: Rating | None) -> str:
    """``★★★☆☆``, the flag and the colour label, for tooltips and the info panel."""
    rating = rating or Rating()
    flag = {1: " · picked", -1: " · rejected"}.get(rating.flag, "")
    colour = f" · {rating.colour} label" if rating.colour else ""
    return "★" * rating.stars + "☆" * (5 - rating.stars) + flag + colour


def _contents(lib: Library, paths: Sequence[str]) -> dict[str, str]:
    """path -> the file's content identity (ratings are kept by it, not by how the file is
    decoded), by the scan's rule (``inventory.resolve_contents``). Unreadable files are left
    out."""
    from blipdesk.core.inventory import resolve_contents

    return resolve_contents(lib, paths).identities


def load_ratings(database: str, paths: Sequence[str]) -> dict[str, Rating]:
    """path -> rating for the photos that have one."""
    if not os.path.isfile(database):
        return {}
    with Library.open(database) as lib:  # a writer: migrates a cache older than ratings
        contents = _contents(lib, paths)
        by_content = lib.ratings(list(contents.values()))
    return {p: by_content[c] for p, c in contents.items() if c in by_content}


def save_ratings(database: str, ratings: Mapping[str, Rating]) -> dict[str, Rating]:
    """Store path -> rating (by content); returns what was stored, by path."""
    with Library.open(database) as lib:
        contents = _contents(lib, list(ratings))
        lib.set_ratings({contents[p]: r for p, r in ratings.items() if p in contents}, time.time())
    return {p: r for p, r in ratings.items() if p in contents}


def sidecar_naming(photo: str) -> str:
    """The naming of the photo's sidecar: ``photo.jpg.xmp`` (darktable, digiKam), unless only a
    ``photo.xmp`` (Lightroom, Capture One) is there."""
    from blipdesk.services import sidecars

    append = sidecars.sidecar_path(photo, sidecars.SidecarNaming.APPEND)
    replace = sidecars.sidecar_path(photo, sidecars.SidecarNaming.REPLACE)
    if not os.path.lexists(append) and os.path.lexists(replace):
        return sidecars.SidecarNaming.REPLACE.value
    return sidecars.SidecarNaming.APPEND.value


def read_sidecar_ratings(paths: Sequence[str]) -> tuple[dict[str, Rating], list[str]]:
    """path -> the rating its sidecar holds (photos whose sidecar has none are left out), and
    the errors (one line per bad sidecar: it never stops the others, as in a tag run)."""
    from blipdesk.services import sidecars

    def read(photo: str) -> sidecars.SidecarRating | None:
        return sidecars.read_sidecar_rating(sidecars.sidecar_path(photo, sidecar_naming(photo)))

    found: dict[str, Rating] = {}
    errors: list[str] = []
    for path in paths:
        got = sidecars.per_item(path, functools.partial(read, path))
        if isinstance(got, sidecars.SidecarError):
            errors.append(str(got))
        elif got is not None:
            found[path] = Rating(got.stars, got.flag, got.colour)
    return found, errors


def write_sidecar_ratings(ratings: Mapping[str, Rating]) -> tuple[int, list[str]]:
    """Write each photo's rating into its sidecar (the tags' sidecar, merged: see
    ``sidecars.plan_rating``); returns (sidecars changed, errors)."""
    from blipdesk.services import sidecars

    plans: list[sidecars.SidecarPlan | sidecars.SidecarError] = []
    for path, r in ratings.items():
        wanted = {path: sidecars.SidecarRating(r.stars, r.flag, r.colour)}
        plans += sidecars.plan_ratings(wanted, sidecar_naming(path))
    run = sidecars.apply_plans(plans)
    return len(run.changed), [str(e) for e in run.failed]
