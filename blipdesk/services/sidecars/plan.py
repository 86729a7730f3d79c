"""A plan: what writing one sidecar would do, computed without touching the disk (the new bytes,
or deleting a file blipdesk alone made), and how a run turns each item's failure into that item's
error. Planning tags is :mod:`.tags`, ratings :mod:`.ratings`; :mod:`.write` carries plans out."""

from __future__ import annotations

import os
import stat
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from blipdesk.domain.names import ROOT_KEYWORD
from blipdesk.infra.atomic import Expected
from blipdesk.infra.display import display_path
from blipdesk.services.sidecars.edit import _NEW_DOCUMENT, _Editor
from blipdesk.services.sidecars.read import _Doc, _File, _os_reason, _parse, _rdf
from blipdesk.services.sidecars.xmp import (
    RDF_ABOUT,
    RDF_DESCRIPTION,
    RDF_RDF,
    X_XMPTK,
    SidecarError,
)


@dataclass(frozen=True)
class SidecarPlan:
    """What writing one sidecar would do, computed without touching the disk; :func:`apply` does
    it. ``added``/``removed``/``unchanged`` are blipdesk tag names; ``mirrored`` lists user
    keywords copied into a hierarchical field (see the module docstring); ``content`` is the new
    file (``None`` when the file is deleted or nothing changes)."""

    path: Path
    photos: tuple[Path, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: tuple[str, ...]
    creates_file: bool
    deletes_file: bool = False
    mirrored: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # tags left out, and why
    content: bytes | None = field(default=None, repr=False)
    base: Expected = field(default=Expected(None), repr=False)  # what was read: no file
    target: Path | None = field(default=None, repr=False)  # where a symlinked sidecar leads

    @property
    def changes(self) -> bool:
        return self.content is not None or self.deletes_file

    @property
    def file(self) -> Path:
        """The file whose bytes are the sidecar: :attr:`path`, or its symbolic link's target."""
        return self.target or self.path


def _is_empty_blipdesk_file(root: ET.Element) -> bool:
    if not root.get(X_XMPTK, "").startswith(ROOT_KEYWORD + " "):
        return False
    rdf = _rdf(root)
    if rdf is None or any(isinstance(c.tag, str) and c.tag != RDF_RDF for c in root):
        return False
    for child in rdf:
        if child.tag != RDF_DESCRIPTION:
            return False
        if any(isinstance(c.tag, str) for c in child):
            return False
        if set(child.attrib) - {RDF_ABOUT}:
            return False
    return True


def _open_document(found: _File | None, path: Path) -> tuple[_Doc, Expected]:
    """The sidecar to edit (a new empty document where there is none) and what it must still be
    when :func:`~.write.apply` writes it."""
    if found is None:
        return _parse(_NEW_DOCUMENT.encode("utf-8"), path), Expected.of(None)
    return _parse(found.data, path), Expected.of(found.data)


def _edited(plan: SidecarPlan, doc: _Doc, editor: _Editor, found: _File | None) -> SidecarPlan:
    """``plan`` with the edited sidecar's bytes, or deleting a file left holding nothing but
    blipdesk's empty shell; refused for a read-only sidecar, and never anything that does not
    read back."""
    path, target = plan.path, plan.target
    if found is not None and not found.mode & stat.S_IWUSR:
        raise SidecarError(f"{display_path(path)}: read-only; left alone")
    content = doc.encode(editor.result())
    try:
        edited = _parse(content, path).root
    except SidecarError as exc:  # a bug: never write what could not be read back
        raise SidecarError(f"{exc} after editing; nothing was written") from None
    if found is not None and target == path and _is_empty_blipdesk_file(edited):
        return replace(plan, deletes_file=True)
    return replace(plan, content=content)


_T = TypeVar("_T")


def per_item(path: str | os.PathLike[str], work: Callable[[], _T]) -> _T | SidecarError:
    """One item of a run (a plan, a rating read): its result, or why it has none, so one bad
    item never stops the rest."""
    try:
        return work()
    except SidecarError as exc:
        return exc
    except OSError as exc:
        return SidecarError(f"{display_path(path)}: {_os_reason(exc, 'cannot be read')}")
    except (RecursionError, ValueError, ArithmeticError) as exc:
        return SidecarError(f"{display_path(path)}: not a sidecar blipdesk can edit ({exc})")


def describe(plan: SidecarPlan) -> str:
    """One line for a preview or a log: ``path: +added -removed`` and what happens to the file.
    The path is shown with :func:`~blipdesk.infra.display.display_path`, so the line stays one line."""
    changes = [f"+{t}" for t in plan.added] + [f"-{t}" for t in plan.removed]
    if plan.deletes_file:
        changes.append("(sidecar deleted)")
    elif plan.creates_file and plan.changes:
        changes.append("(new sidecar)")
    if plan.mirrored:
        changes.append(f"(user keywords mirrored: {len(plan.mirrored)})")
    if plan.changes and not changes:
        changes.append("(keyword fields tidied: duplicate or scattered entries merged)")
    changes += [f"({note})" for note in plan.notes]
    return f"{display_path(plan.path)}: {' '.join(changes) if changes else 'unchanged'}"
