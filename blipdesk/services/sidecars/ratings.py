"""Star ratings, pick flags and colour labels in a sidecar (:class:`SidecarRating`): read, and
planned into the tags' sidecar, merged the same way (every other property and keyword is
kept)."""

from __future__ import annotations

import functools
import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from blipdesk.infra.display import display_path
from blipdesk.services.sidecars.edit import _Editor, _fragment
from blipdesk.services.sidecars.keywords import _state
from blipdesk.services.sidecars.names import SidecarNaming, sidecar_path
from blipdesk.services.sidecars.plan import SidecarPlan, _edited, _open_document, per_item
from blipdesk.services.sidecars.read import _descriptions, _parse, _read_file, _write_target
from blipdesk.services.sidecars.xmp import (
    COLOR_LABEL,
    LABEL,
    PICK_LABEL,
    RATING,
    XMPDM_GOOD,
    XMPDM_PICK,
    SidecarError,
)

# A colour label as each program writes it: Lightroom's ``xmp:Label`` holds the label's name (its
# default set), digiKam's ``digiKam:ColorLabel`` a number (0 none, 1 red, 2 orange, 3 yellow,
# 4 green, 5 blue, 6 magenta, 7 grey, 8 black, 9 white). Purple is digiKam's magenta.
LIGHTROOM_LABELS = {c: c.capitalize() for c in ("red", "yellow", "green", "blue", "purple")}
DIGIKAM_LABELS = {"red": "1", "yellow": "3", "green": "4", "blue": "5", "purple": "6"}
# What a person's label is when read (case and spaces ignored); a name or number not here
# (a custom Lightroom label set, digiKam's orange) is no colour blipdesk knows, and is kept.
_KNOWN = {
    LABEL: {v.lower(): c for c, v in LIGHTROOM_LABELS.items()},
    COLOR_LABEL: {v: c for c, v in DIGIKAM_LABELS.items()},
}


@dataclass(frozen=True)
class SidecarRating:
    """A photo's star rating (0-5) and pick flag (1 picked, -1 rejected, 0 neither) as XMP holds
    them, the way Adobe Bridge, Lightroom, darktable and digiKam read them:

    * ``xmp:Rating``: the stars, 1-5 (0 or absent: none); ``-1`` marks a rejected photo (Bridge's
      and darktable's reject);
    * ``xmpDM:pick`` (1 picked, -1 rejected) and ``xmpDM:good`` (True, False): Lightroom
      Classic's flag in XMP (written by it since 13.2);
    * ``digiKam:PickLabel``: digiKam's pick label, 3 accepted (picked), 1 rejected, 2 pending
      (read as no flag), absent: none.

    All are written together; reading takes the first flag found in that order: ``xmpDM:pick``,
    ``digiKam:PickLabel``, ``xmpDM:good``, a negative ``xmp:Rating``.

    A rejected photo is written with ``xmp:Rating`` -1, so its stars do not travel in XMP (as in
    Bridge); they stay in blipdesk's library.

    The colour label (``Rating.colour``: "red"... or "") is written as both ``xmp:Label``
    (Lightroom: "Red", "Yellow", "Green", "Blue", "Purple") and ``digiKam:ColorLabel`` (its
    numbers); reading takes ``xmp:Label`` first. A label blipdesk does not know (a custom
    Lightroom label, digiKam's orange) reads as none and is never removed."""

    stars: int = 0
    flag: int = 0
    colour: str = ""

    def xmp_values(self) -> dict[str, str | None]:
        """Property -> value to write (None: remove the property)."""
        rating = "-1" if self.flag < 0 else (str(self.stars) if self.stars > 0 else None)
        return {
            RATING: rating,
            XMPDM_PICK: {1: "1", -1: "-1"}.get(self.flag),
            XMPDM_GOOD: {1: "True", -1: "False"}.get(self.flag),
            PICK_LABEL: {1: "3", -1: "1"}.get(self.flag),
            LABEL: LIGHTROOM_LABELS.get(self.colour),
            COLOR_LABEL: DIGIKAM_LABELS.get(self.colour),
        }


def _known(name: str, text: str) -> bool:
    """Whether blipdesk may remove this value when the photo has no colour label: every value
    of the rating's own properties, and of the label properties the colours it knows (a new
    colour replaces any label)."""
    return name not in _KNOWN or text.strip().lower() in _KNOWN[name]


def _scalars(root: ET.Element, name: str) -> list[tuple[ET.Element, ET.Element | None, str]]:
    """Every occurrence of a simple property: (description, element or None for the attribute
    form, text)."""
    out: list[tuple[ET.Element, ET.Element | None, str]] = []
    for desc in _descriptions(root):
        if name in desc.attrib:
            out.append((desc, None, desc.attrib[name]))
        for el in desc.findall(name):
            if any(isinstance(c.tag, str) for c in el) or el.attrib:
                raise SidecarError(
                    f"its {el.tag.rsplit('}', 1)[1]} has a form blipdesk cannot edit"
                )
            out.append((desc, el, el.text or ""))
    return out


def _number(text: str) -> int | None:
    """The whole number ``text`` holds, rounded half up (``2.5`` is 3 stars, as people round;
    Python's ``round`` would make it 2); None for no number, or none that is finite
    (``inf``, ``1e400``)."""
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return math.floor(value + 0.5) if math.isfinite(value) else None


def _read_rating(root: ET.Element) -> SidecarRating | None:
    """The sidecar's rating and pick flag (:class:`SidecarRating`); None when it has neither."""

    def first(name: str) -> int | None:
        found = (_number(t) for _d, _e, t in _scalars(root, name))
        return next((n for n in found if n is not None), None)

    rating, pick, label = first(RATING), first(XMPDM_PICK), first(PICK_LABEL)
    colours = [
        _KNOWN[name].get(t.strip().lower())
        for name in (LABEL, COLOR_LABEL)
        for _d, _e, t in _scalars(root, name)
    ]
    colour = next((c for c in colours if c), "")
    goods = [t.strip().lower() for _d, _e, t in _scalars(root, XMPDM_GOOD)]
    good = next((g for g in goods if g in ("true", "false")), None)
    if pick in (1, -1):
        flag = pick
    elif label in (1, 3):
        flag = 1 if label == 3 else -1
    elif good is not None:
        flag = 1 if good == "true" else -1
    else:
        flag = -1 if rating is not None and rating < 0 else 0
    if rating is None and flag == 0 and pick is None and label is None and not colour:
        return None
    stars = max(0, min(5, rating)) if rating is not None else 0
    return SidecarRating(stars, flag, colour)


def read_sidecar_rating(path: str | os.PathLike[str]) -> SidecarRating | None:
    """Only the rating of a sidecar (None when there is no sidecar or no rating in it)."""
    path = Path(path)
    found = _read_file(path)
    if found is None:
        return None
    root = _parse(found.data, path).root  # its errors name the sidecar
    try:
        return _read_rating(root)
    except SidecarError as exc:
        raise SidecarError(f"{display_path(path)}: {exc}") from None


def _plan_rating(editor: _Editor, rating: SidecarRating) -> bool:
    """Collect in ``editor`` the edits that make the sidecar hold ``rating``; True if any. Each
    property is edited in the form it has (attribute or element); a missing one is added as an
    element next to the keywords."""
    root = editor.doc.root
    changed = False
    for name, value in rating.xmp_values().items():
        found = _scalars(root, name)
        if (
            value is None
        ):  # removing: another program's own label (one blipdesk does not know) stays
            found = [f for f in found if _known(name, f[2])]
        if not found:
            if value is not None:
                new = ET.Element(name)
                new.text = value
                editor._add_property(_state(root), new)
                changed = True
            continue
        for n, (desc, el, text) in enumerate(found):
            if value is not None and n == 0:
                if text.strip() == value:
                    continue
                if el is None:
                    editor.set_attribute(desc, name, value)
                else:
                    span = editor.doc.span(el)
                    new = ET.Element(name)
                    new.text = value
                    editor.edits.append(
                        (span.start, span.end, _fragment(new, editor.doc.scopes[id(desc)], ""))
                    )
            elif el is None:
                editor._remove_attribute(desc, name)
            else:
                editor._remove(desc, el)
            changed = True
    return changed


def plan_rating(
    photo: str | os.PathLike[str],
    rating: SidecarRating,
    naming: str | SidecarNaming = SidecarNaming.APPEND,
) -> SidecarPlan:
    """What writing ``rating`` into the sidecar of ``photo`` would change (the tags' sidecar,
    merged the same way: every other property and keyword is kept). Nothing is written; pass
    the plan to :func:`apply`. No rating and no sidecar: nothing to do."""
    photo = Path(photo)
    if not os.path.exists(photo):
        raise SidecarError(
            f"{display_path(photo)}: the photo is not there; its sidecar is left alone"
        )
    path = sidecar_path(photo, naming)
    target = _write_target(path)
    found = _read_file(target, path if target != path else None)
    empty = rating == SidecarRating()
    if found is None and empty:
        return SidecarPlan(path, (photo,), (), (), (), creates_file=False)
    doc, base = _open_document(found, path)
    editor = _Editor(doc)
    try:
        changed = _plan_rating(editor, rating)
    except SidecarError as exc:
        raise SidecarError(f"{display_path(path)}: {exc}") from None
    plan = SidecarPlan(
        path, (photo,), (), (), (), creates_file=found is None, base=base, target=target
    )
    if not changed:
        return plan
    return _edited(plan, doc, editor, found)


def plan_ratings(
    ratings: Mapping[str, SidecarRating], naming: str | SidecarNaming = SidecarNaming.APPEND
) -> list[SidecarPlan | SidecarError]:
    """One rating plan (or its error) per photo: one bad sidecar never stops the rest."""
    return [
        per_item(photo, functools.partial(plan_rating, photo, rating, naming))
        for photo, rating in ratings.items()
    ]
