"""A person's own keywords into a sidecar (issue 26), under their own hierarchy, not blipdesk's:
the leaf in ``dc:subject``, the path in ``lr:hierarchicalSubject`` (``Places|Lisbon``) and in
``digiKam:TagsList`` with ``/`` (``Places/Lisbon``). Only added, merged with what is there by the
same byte edits as blipdesk's tags (nothing else of the file changes); a hierarchical field the
sidecar lacks is created seeded with the keywords the file already holds, as for tags (the package
docstring), so darktable and digiKam keep reading them. These are the person's keywords: the
ownership rule never counts them as blipdesk's (they are not under ``blipdesk``)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from blipdesk.domain.keywords import digikam_entry, leaf
from blipdesk.infra.display import display_path
from blipdesk.services.sidecars.edit import _Editor
from blipdesk.services.sidecars.keywords import _Item, _state
from blipdesk.services.sidecars.names import SidecarNaming, sidecar_path
from blipdesk.services.sidecars.plan import SidecarPlan, _edited, _open_document
from blipdesk.services.sidecars.read import _read_file, _write_target
from blipdesk.services.sidecars.tags import _mirrors
from blipdesk.services.sidecars.xmp import SidecarError


def plan_keywords(
    photo: str | os.PathLike[str],
    keywords: Iterable[str],
    naming: str | SidecarNaming = SidecarNaming.APPEND,
) -> SidecarPlan:
    """What adding ``keywords`` (in the one spelling, ``domain.keywords.keyword``) to the sidecar
    of ``photo`` would change; ``added`` lists those that were missing from any field."""
    photo = Path(photo)
    if not os.path.exists(photo):
        raise SidecarError(f"{display_path(photo)}: the photo is not there; left alone")
    names = list(dict.fromkeys(keywords))
    path = sidecar_path(photo, naming)
    target = _write_target(path)
    found = _read_file(target, path if target != path else None)
    doc, base = _open_document(found, path)
    editor = _Editor(doc)
    state = _state(doc.root)
    user_subjects = [k for k in state.subjects.values() if k not in state.owned_subjects()]
    others = state.other_components()
    missing: set[str] = set()
    fields = (
        (state.subjects, [leaf(n) for n in names]),
        (state.hierarchical, names),
        (state.tags_list, [digikam_entry(n) for n in names]),
    )
    try:
        for prop, entries in fields:
            present = set(prop.values())
            seeds = (
                []
                if prop is state.subjects
                else _mirrors(state, prop, names, user_subjects, others)
            )
            new = [e for e in dict.fromkeys([*seeds, *entries]) if e not in present]
            missing |= {n for n, e in zip(names, entries, strict=True) if e in new}
            if new:
                editor.rewrite(state, prop, [*prop.items, *(_Item(e) for e in new)])
    except SidecarError as exc:
        raise SidecarError(f"{display_path(path)}: {exc}") from None
    added = tuple(n for n in names if n in missing)
    plan = SidecarPlan(
        path,
        (photo,),
        added,
        (),
        tuple(n for n in names if n not in missing),
        creates_file=found is None,
        base=base,
        target=target,
    )
    if not added:
        return plan
    return _edited(plan, doc, editor, found)
