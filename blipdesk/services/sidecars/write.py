"""Carrying out plans: each sidecar written with blipdesk's one atomic writer
(``blipdesk.infra.atomic.write_atomic``), only if it is still exactly what was read when the plan
was made, and a run over many plans that reports per sidecar and can stop between two."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from blipdesk.infra.atomic import Expected, TargetChanged, remove_stale_temporaries, write_atomic
from blipdesk.infra.display import display_path
from blipdesk.services.sidecars.names import SidecarNaming
from blipdesk.services.sidecars.plan import SidecarPlan
from blipdesk.services.sidecars.read import _os_reason, _read_file, _write_target
from blipdesk.services.sidecars.tags import plan_removal, plan_sidecar
from blipdesk.services.sidecars.xmp import SidecarChangedError, SidecarError


@dataclass(frozen=True)
class SidecarRun:
    """What :func:`apply_plans` did (or, in a dry run, would do). ``stopped``: cancelled before
    the end (the sidecars not reached are in no list); ``cleaned``: stale temporary files of an
    interrupted earlier run, removed."""

    changed: tuple[SidecarPlan, ...]
    unchanged: tuple[SidecarPlan, ...]
    failed: tuple[SidecarError, ...]
    stopped: bool = False
    cleaned: tuple[Path, ...] = ()


def apply_plans(
    plans: Iterable[SidecarPlan | SidecarError],
    *,
    dry_run: bool = False,
    cancel: threading.Event | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SidecarRun:
    """Apply each plan that changes something; a sidecar that cannot be written is reported in
    ``failed`` and the rest go on. ``cancel`` (set from a signal handler, say) stops between two
    sidecars, never in the middle of one. Before writing, blipdesk's own temporary files that an
    interrupted run left next to these sidecars are removed (``infra.atomic.remove_stale_temporaries``).
    ``progress(done, total)`` is called after each plan (a window shows a bar)."""
    plans = list(plans)
    cleaned: list[Path] = []
    if not dry_run:
        folders = {p.file.parent for p in plans if isinstance(p, SidecarPlan) and p.changes}
        for folder in sorted(folders):
            cleaned += remove_stale_temporaries(folder)
    changed, unchanged, failed = [], [], []
    stopped = False
    for done, plan in enumerate(plans):
        if progress is not None and (done % 25 == 0 or done == len(plans) - 1):
            progress(done, len(plans))
        if cancel is not None and cancel.is_set():
            stopped = True
            break
        if isinstance(plan, SidecarError):
            failed.append(plan)
            continue
        if not plan.changes:
            unchanged.append(plan)
            continue
        if not dry_run:
            try:
                apply(plan)
            except SidecarError as exc:
                failed.append(exc)
                continue
            except OSError as exc:
                where = display_path(plan.path)
                failed.append(SidecarError(f"{where}: {_os_reason(exc, 'cannot be written')}"))
                continue
        changed.append(plan)
    return SidecarRun(tuple(changed), tuple(unchanged), tuple(failed), stopped, tuple(cleaned))


def apply(plan: SidecarPlan) -> None:
    """Carry out a plan: write the sidecar atomically, or delete it. Refuses with
    :class:`SidecarChangedError` if the sidecar is no longer what the plan was made from."""
    if not plan.changes:
        return
    path, target = plan.path, plan.file
    if _write_target(path) != target:
        raise SidecarChangedError(
            f"{display_path(path)}: its symbolic link changed since it was read; nothing was written"
        )
    found = _read_file(target)
    if Expected.of(None if found is None else found.data) != plan.base:
        raise SidecarChangedError(
            f"{display_path(path)}: changed since it was read; nothing was written"
        )
    if found is not None and not found.mode & stat.S_IWUSR:
        raise SidecarError(f"{display_path(path)}: read-only; left alone")
    if plan.deletes_file:
        path.unlink()
        return
    assert plan.content is not None
    try:  # checked again just before the file is replaced
        write_atomic(target, plan.content, expect=plan.base)
    except TargetChanged as exc:
        raise SidecarChangedError(
            f"{display_path(path)}: {exc.reason}; nothing was written"
        ) from None


def write_tags(
    photo: str | os.PathLike[str],
    tags: Iterable[str],
    naming: str | SidecarNaming = SidecarNaming.APPEND,
) -> SidecarPlan:
    """Plan and apply in one go; returns the plan that was carried out."""
    plan = plan_sidecar(photo, tags, naming)
    apply(plan)
    return plan


def remove_tags(
    photo: str | os.PathLike[str], naming: str | SidecarNaming = SidecarNaming.APPEND
) -> SidecarPlan:
    plan = plan_removal(photo, naming)
    apply(plan)
    return plan
