"""Qt-free file jobs the window runs off the GUI thread (``qt/workers/tasks.BackgroundTasks``):
sidecar plans and writes, clearing caches. Each takes frozen snapshots (paths, tag names, settings
values) and opens what it needs in the thread that runs it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any


def plan_write(photo_tags: Mapping[str, Sequence[str]], naming: str) -> list[Any]:
    """Plans (or their errors) for writing each photo's matched tags into its sidecar."""
    from blipdesk.services import sidecars

    return sidecars.plan_sidecars(dict(photo_tags), naming)


def plan_remove(folders: Sequence[str], recursive: bool) -> list[Any]:
    """Plans for taking blipdesk's keywords out of every sidecar under ``folders``."""
    from blipdesk.services import sidecars

    return sidecars.plan_removal_under(folders, recursive)


def apply_sidecar_plans(
    plans: Iterable[Any],
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> Any:
    """Carry the previewed plans out; a sidecar changed since the preview is refused, not
    overwritten (see ``blipdesk.services.sidecars.apply``). ``progress``/``cancel``: the background
    task's (a bar in the window; quitting stops between two sidecars)."""
    from blipdesk.services import sidecars

    return sidecars.apply_plans(list(plans), cancel=cancel, progress=progress)


def clear_scores(database: str) -> int:
    """Forget the cached scores, image features and decode errors (``Library.clear_scores``);
    returns the bytes the cache gave back. Opens its own writer for the moment it runs: the
    window starts it only while no scan runs and holds scans back until it answers."""
    from pathlib import Path

    from blipdesk.store import Library, database_bytes

    if not Path(database).is_file():
        return 0
    before = database_bytes(database)
    with Library.open(database) as lib:
        lib.clear_scores()
    return max(0, before - database_bytes(database))


def remove_folder(folder: str) -> str:
    """Delete a cache folder (thumbnails; never on the GUI thread)."""
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    return folder


def clear_vision_cache(folder: str, database: str) -> str:
    """Delete the vision cache (gigabytes: never on the GUI thread) and forget its index. Opens
    its own writer for the moment it runs; the window starts it only while no scan runs."""
    from pathlib import Path

    from blipdesk.core.feature_cache import clear
    from blipdesk.store import Library

    if Path(database).is_file():
        with Library.open(database) as lib:
            clear(folder, lib)
    else:
        remove_folder(folder)
    return folder
