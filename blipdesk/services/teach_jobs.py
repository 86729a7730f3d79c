"""Teaching tags from the window (issue 13): the work its background tasks run. Qt-free.

Each function opens its own ``Library`` (the store's threading rule) and takes plain values: the
database path, the model choice (the score key is the one its scans write, as the grid reads:
``options.read_key``),
tag names and photo paths. Labels go in by content: a photo the cache does not know yet is
hashed (``inventory.resolve_contents``, the scan's rule: at most 128 KiB read).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from blipdesk.domain import Calibration, Tag
from blipdesk.infra.errors import UserError
from blipdesk.services.options import ModelChoice, read_key
from blipdesk.store import Library


def _key(lib: Library, model: ModelChoice) -> str:
    key = read_key(lib, model)
    if key is None:
        raise UserError("Nothing is scored yet with this model: scan the folder first.")
    return key


def _contents(lib: Library, paths: Sequence[str]) -> dict[str, str]:
    """path -> content key, by the scan's rule (``inventory.resolve_contents``); a ``UserError``
    names the first photo that has none (a label must not silently miss a photo)."""
    from blipdesk.core.inventory import resolve_contents

    got = resolve_contents(lib, paths)
    for path in paths:
        if path in got.failed:
            raise UserError(f"{path}: {got.failed[path]}.")
    return got.found


@dataclass(frozen=True)
class LabelChange:
    tag: str
    paths: tuple[str, ...]
    value: bool | None
    previous: Mapping[str, bool | None]  # content -> the label before: the undo
    contents: tuple[str, ...] = ()  # each path's content

    def before(self) -> dict[str, bool | None]:
        """path -> its label before the change."""
        return {p: self.previous.get(c) for p, c in zip(self.paths, self.contents, strict=True)}


def label_photos(database: str, tag: str, paths: Sequence[str], value: bool | None) -> LabelChange:
    with Library.open(database) as lib:
        contents = _contents(lib, paths)
        previous = lib.put_labels(tag, {contents[p]: value for p in paths})
    return LabelChange(tag, tuple(paths), value, previous, tuple(contents[p] for p in paths))


def restore_labels(database: str, change: LabelChange) -> LabelChange:
    """Undo: each content back to its label before ``change``."""
    with Library.open(database) as lib:
        lib.put_labels(change.tag, dict(change.previous))
    return change


def create_example_tag(database: str, name: str, paths: Sequence[str]) -> Tag:
    """A tag from examples alone (no sentence), the photos given labelled yes."""
    tag = Tag(name, (), 0.5)
    with Library.open(database) as lib:
        if lib.tag(name) is not None:
            raise UserError(f"There is already a tag called {name!r}.")
        lib.put_tag(tag, from_examples=True)
        contents = _contents(lib, paths)
        lib.put_labels(name, {contents[p]: True for p in paths})
    return tag


@dataclass(frozen=True)
class TeachData:
    """What the review queue and the calibration need for one tag over the folder shown."""

    tag: Tag
    data: object  # core.calibration.TagData
    paths: Mapping[str, tuple[str, ...]]  # content -> paths in the folder
    current: Calibration | None


def teach_data(
    database: str, model: ModelChoice, tag_name: str, folder: str, recursive: bool
) -> TeachData:
    from blipdesk.core.calibration import tag_data

    if not Path(database).is_file():
        raise UserError("Nothing is scored yet: scan the folder first.")
    with Library.open(database, readonly=True) as lib:
        tag = lib.tag(tag_name)
        if tag is None:
            raise UserError(f"There is no tag called {tag_name!r}.")
        key = _key(lib, model)
        records = lib.photos_under([folder], recursive)
        paths: dict[str, list[str]] = {}
        for r in records:
            if r.content:
                paths.setdefault(r.content, []).append(r.path)
        data = tag_data(lib, key, tag, list(paths))
        current = lib.calibrations(key).get(tag.name)
    return TeachData(tag, data, {c: tuple(p) for c, p in paths.items()}, current)


def apply_calibration(
    database: str, model: ModelChoice, tag: str, calibration: Calibration | None
) -> str:
    with Library.open(database) as lib:
        lib.set_calibration(tag, _key(lib, model), calibration)
    return tag


@dataclass(frozen=True)
class LikeThis:
    chosen: tuple[str, ...]
    ranked: tuple[tuple[str, float], ...]
    exact: tuple[tuple[str, str], ...]
    near: tuple[tuple[str, str, float], ...]

    def order(self) -> dict[str, float]:
        """path -> rank score for the grid's search ranking: the chosen photos, their exact then
        near duplicates, then the rest by likeness."""
        out: dict[str, float] = {p: 4.0 for p in self.chosen}
        for _, p in self.exact:
            out[p] = 3.0
        for _, p, s in self.near:
            out.setdefault(p, 2.0 + s)
        for p, s in self.ranked:
            out.setdefault(p, s)
        return out


def more_like_this(
    database: str, model: ModelChoice, chosen: Sequence[str], folder: str, recursive: bool, top: int
) -> LikeThis:
    from blipdesk.services.near import similar_photos

    with Library.open(database, readonly=True) as lib:
        key = _key(lib, model)
        candidates, vectors = lib.folder_features(key, [folder], recursive)
        picked = {p: candidates[p] for p in chosen if p in candidates}
    if not any(c in vectors for c in picked.values()):
        raise UserError("The chosen photos are not scanned yet: scan the folder first.")
    found = similar_photos(database, picked, candidates, vectors, top)
    return LikeThis(tuple(picked), found.ranked, found.exact, found.near)
