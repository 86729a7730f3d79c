"""blipdesk's tags in sidecars: reading the keyword fields, and planning the edit that makes
blipdesk's tags a given set (adding, replacing, removing), one sidecar or a folder's worth."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from blipdesk.domain.names import ROOT_KEYWORD
from blipdesk.infra.display import display_path
from blipdesk.services.sidecars.edit import _Editor
from blipdesk.services.sidecars.keywords import _collect, _Item, _Property, _State, _state, _values
from blipdesk.services.sidecars.names import (
    _PREFIX_OF,
    _SEPARATOR_OF,
    _STAND_IN_OF,
    SidecarNaming,
    _entry,
    _leaf,
    _normalize,
    sidecar_path,
)
from blipdesk.services.sidecars.plan import SidecarPlan, _edited, _open_document, per_item
from blipdesk.services.sidecars.ratings import SidecarRating, _read_rating
from blipdesk.services.sidecars.read import _parse, _read_file, _write_target
from blipdesk.services.sidecars.xmp import _RECORD_OF, HIERARCHICAL, SUBJECT, SidecarError


@dataclass(frozen=True)
class SidecarKeywords:
    """The keyword fields of one sidecar, and which tags in it are blipdesk's."""

    subjects: tuple[str, ...] = ()
    hierarchical: tuple[str, ...] = ()
    tags_list: tuple[str, ...] = ()
    blipdesk_tags: tuple[str, ...] = ()
    user_subjects: tuple[str, ...] = ()  # the dc:subject keywords that are not blipdesk's
    rating: SidecarRating | None = None  # stars and pick/reject flag; None: the sidecar has none


def read_sidecar(path: str | os.PathLike[str]) -> SidecarKeywords:
    """The keyword fields of a sidecar (empty when there is none)."""
    path = Path(path)
    found = _read_file(path)
    if found is None:
        return SidecarKeywords()
    return read_packet(found.data, path)


def read_packet(data: bytes, path: str | os.PathLike[str]) -> SidecarKeywords:
    """The keyword fields of an XMP document: a sidecar's bytes, or the packet embedded in a
    photo at ``path`` (named in errors), parsed as warily as a sidecar."""
    path = Path(path)
    root = _parse(data, path).root  # its errors name the sidecar
    try:
        state, rating = _state(root), _read_rating(root)
    except SidecarError as exc:
        raise SidecarError(f"{display_path(path)}: {exc}") from None
    return SidecarKeywords(
        subjects=tuple(state.subjects.values()),
        hierarchical=tuple(state.hierarchical.values()),
        tags_list=tuple(state.tags_list.values()),
        blipdesk_tags=tuple(state.current_tags()),
        user_subjects=tuple(k for k in state.subjects.values() if k not in state.owned_subjects()),
        rating=rating,
    )


def _plan_document(editor: _Editor, tags: Sequence[str]) -> tuple[list[str], list[str], bool]:
    """Collect in ``editor`` the edits that make blipdesk's tags ``tags``. Returns (current tags,
    mirrored entries, changed)."""
    root = editor.doc.root
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
        editor.rewrite(state, state.subjects, wanted)
        changed = True
    # A new keyword that is also a level of a user's hierarchy would pass for the user's.
    changed |= _update_record(
        editor,
        state,
        state.added_subjects,
        set(tags) & set(present),
        [t for t in new if t in others],
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
            editor.rewrite(state, prop, wanted)
            changed = True
        changed |= _update_record(
            editor, state, record, set(_values(wanted)) if tags else set(), extra
        )
    return current, mirrored, changed


def _update_record(
    editor: _Editor, state: _State, record: _Property, still: set[str], new: list[str]
) -> bool:
    """Keep blipdesk's record of what it added (entries still in ``still``) plus ``new``."""
    wanted = [i for i in record.items if i.value in still] + [_Item(v) for v in new]
    if _values(wanted) == record.values():
        return False
    editor.rewrite(state, record, wanted)
    return True


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
        else (Path(photo),)
    )
    if not any(os.path.exists(p) for p in photos):
        raise SidecarError(
            f"{display_path(photos[0])}: the photo is not there; its sidecar is left alone"
        )
    return plan_sidecar_file(sidecar_path(photos[0], naming), tags, photos)


def plan_sidecar_file(
    path: str | os.PathLike[str], tags: Iterable[str], photos: Sequence[Path] = ()
) -> SidecarPlan:
    """:func:`plan_sidecar` for a sidecar named directly (removal from every sidecar in a folder
    needs no photo and no naming)."""
    path, photos = Path(path), tuple(photos)
    tags, notes = _normalize(tags)
    target = _write_target(path)
    found = _read_file(target, path if target != path else None)
    if found is None and not tags:
        return SidecarPlan(path, photos, (), (), (), creates_file=False, notes=notes)
    doc, base = _open_document(found, path)
    editor = _Editor(doc)
    try:
        current, mirrored, changed = _plan_document(editor, tags)
    except SidecarError as exc:
        raise SidecarError(f"{display_path(path)}: {exc}") from None
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
        creates_file=found is None,
        mirrored=tuple(mirrored),
        notes=notes,
        base=base,
        target=target,
    )
    if not changed and found is not None:
        return SidecarPlan(**plan)  # type: ignore[arg-type]
    return _edited(SidecarPlan(**plan), doc, editor, found)  # type: ignore[arg-type]


def plan_removal(
    photo: str | os.PathLike[str], naming: str | SidecarNaming = SidecarNaming.APPEND
) -> SidecarPlan:
    """Undo blipdesk: remove exactly its keywords, and the sidecar itself if blipdesk created it
    and nothing else is left in it."""
    return plan_sidecar(photo, (), naming)


# A mapping is invariant in its keys: photos keyed by str, by Path, or by either.
_PathT = TypeVar("_PathT", bound="str | os.PathLike[str]")


def plan_sidecars(
    photo_tags: Mapping[_PathT, Iterable[str]],
    naming: str | SidecarNaming = SidecarNaming.APPEND,
    remove: bool = False,
) -> list[SidecarPlan | SidecarError]:
    """One plan a sidecar, for many photos (a preview, a dry run). Photos that share a sidecar
    share a plan with the union of their tags. A sidecar that cannot be planned comes back as
    its :class:`SidecarError` in the list, so one bad file does not stop the rest."""
    groups: dict[Path, tuple[list[Path], dict[str, None]]] = {}
    errors: list[SidecarPlan | SidecarError] = []
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
    out = errors
    for path, (photos, names) in groups.items():
        out.append(per_item(path, functools.partial(plan_sidecar, photos, names, naming)))
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
    return [
        per_item(path, functools.partial(plan_sidecar_file, path, ()))
        for path in sidecars_under(folders, recursive)
    ]
