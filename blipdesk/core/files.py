"""What a photo is and where they are: the one place for both, for the engine, the CLI and the window.

A photo is a file whose suffix is in ``PHOTO_SUFFIXES`` and whose name is not hidden; ``walk``
visits a folder (and, when recursive, its subfolders, hidden ones skipped, symbolic links to
folders not followed) and reports the folders it cannot list. The scan (``engine.find_photos``),
the grid (``list_photos``) and the sidebar's counts (``count_tree``) all go through it, so the grid
shows exactly what a scan scans and the sidebar counts exactly what the grid shows.

Qt-free and torch-free; Pillow only for ``exif_taken`` (through ``core/exif.py``), imported when
called.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

log = logging.getLogger(__name__)

PHOTO_SUFFIXES = frozenset(
    ".jpg .jpeg .jpe .jfif .png .webp .gif .bmp .tif .tiff .heic .heif .mpo".split()
)


@dataclass(frozen=True)
class PhotoFailure:
    """A photo (or a folder) that could not be read, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class Photo:
    """One photo file as listed from disk (no pixels)."""

    path: str
    name: str
    size: int
    mtime: float
    taken: float | None = None  # EXIF DateTimeOriginal as a timestamp, when known

    @property
    def date(self) -> float:
        """What "sort by date" uses: the date taken, else the file's modification time."""
        return self.taken if self.taken is not None else self.mtime


@dataclass(frozen=True)
class FolderCounts:
    """A library folder's subfolders (relative paths) with the photos directly inside each."""

    root: str
    counts: tuple[tuple[str, int], ...]


def is_hidden(name: str) -> bool:
    return name.startswith(".")


def is_photo(name: str) -> bool:
    """Whether a file of this name is a photo blipdesk lists and scans."""
    return not is_hidden(name) and os.path.splitext(name)[1].lower() in PHOTO_SUFFIXES


def walk(
    root: str | os.PathLike[str],
    recursive: bool = True,
    unreadable: list[PhotoFailure] | None = None,
) -> Iterator[tuple[str, list[str]]]:
    """``(folder, photo names in it)`` for ``root`` and, when ``recursive``, the folders below it
    (hidden ones skipped), in sorted order. Folders that cannot be listed (permission denied, an
    I/O error) are added to ``unreadable``; a folder that is gone is not unreadable (whether gone
    means forgotten is the caller's to judge)."""

    def failed(exc: OSError) -> None:
        if unreadable is not None and not isinstance(exc, FileNotFoundError | NotADirectoryError):
            where = os.fsdecode(exc.filename) if exc.filename is not None else "?"
            unreadable.append(PhotoFailure(where, folder_reason(exc)))
        else:
            log.info("cannot list %s", exc.filename)

    for dirpath, dirnames, filenames in os.walk(os.fspath(root), onerror=failed):
        dirnames[:] = sorted(d for d in dirnames if not is_hidden(d))
        yield dirpath, sorted(n for n in filenames if is_photo(n))
        if not recursive:
            break


def folder_reason(exc: OSError) -> str:
    return (
        f"cannot read this folder ({exc.strerror or exc}); its photos keep their cached "
        "scores until it can be read again"
    )


def absolute(folder: str | os.PathLike[str]) -> str:
    return os.path.abspath(os.path.expanduser(os.fspath(folder)))


def find_photos(
    folders: Iterable[str | os.PathLike[str]],
    recursive: bool = True,
    unreadable: list[PhotoFailure] | None = None,
) -> list[str]:
    """Absolute paths of the photos under ``folders``, sorted (see ``walk``)."""
    found: set[str] = set()
    for folder in folders:
        for dirpath, names in walk(absolute(folder), recursive, unreadable):
            found.update(os.path.join(dirpath, name) for name in names)
    return sorted(found)


def list_photos(
    folder: str, recursive: bool, unreadable: list[PhotoFailure] | None = None
) -> list[Photo]:
    """The photos a scan of ``folder`` scans, with their size and modification time, sorted by
    path. A file that cannot be stat'ed is listed with size and time 0 (a scan reports why)."""
    out: list[Photo] = []
    for path in find_photos([folder], recursive, unreadable):
        try:
            st = os.stat(path)
            size, mtime = st.st_size, st.st_mtime
        except OSError:
            size, mtime = 0, 0.0
        out.append(Photo(path, os.path.basename(path), size, mtime))
    return out


def count_tree(root: str) -> FolderCounts:
    """Every folder under ``root`` (hidden ones skipped) with the photos directly inside it."""
    counts = tuple((os.path.relpath(d, root), len(names)) for d, names in walk(root))
    return FolderCounts(root, counts)


def exif_taken(path: str) -> float | None:
    """EXIF DateTimeOriginal (else DateTime) as a local timestamp; None when absent or unreadable.
    Read by ``core/exif.py`` (the one EXIF reader: non-blocking, regular files only)."""
    from blipdesk.core.exif import taken

    when = taken(path)
    return None if when is None else when.timestamp()
