"""What a photo is and where they are: the one place for both, for the engine, the CLI and the window.

A photo is a file whose suffix is in ``PHOTO_SUFFIXES`` and whose name is not hidden; ``walk``
visits a folder (and, when recursive, its subfolders, hidden ones skipped, symbolic links to
folders not followed) and reports the folders it cannot list. The scan (``inventory.refresh_photos``),
the grid (``list_photos``) and the sidebar's counts (``count_tree``) all go through it, so the grid
shows exactly what a scan scans and the sidebar counts exactly what the grid shows.

Qt-free and torch-free; Pillow only for ``exif_taken`` (through ``core/exif.py``), imported when
called.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset(
    ".jpg .jpeg .jpe .jfif .png .webp .gif .bmp .tif .tiff .heic .heif .mpo".split()
)
# Camera RAW files, decoded by LibRaw (rawpy) from their embedded preview (see core/raw.py).
RAW_SUFFIXES = frozenset(
    ".cr2 .cr3 .crw .nef .nrw .arw .srf .sr2 .raf .orf .rw2 .pef .dng .srw .3fr .iiq .x3f".split()
)
PHOTO_SUFFIXES = IMAGE_SUFFIXES | RAW_SUFFIXES
# What a camera writes next to its RAW file (RAW + JPEG): the pair is one photo when grouped.
PAIR_SUFFIXES = frozenset(".jpg .jpeg .jpe .heic .heif".split())


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
    companions: tuple[str, ...] = ()  # RAW files of this photo (RAW + JPEG pairs, grouped)

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


def is_raw(name: str | os.PathLike[str]) -> bool:
    """Whether a file of this name is a camera RAW file (decoded by LibRaw, not Pillow)."""
    return os.path.splitext(os.fspath(name))[1].lower() in RAW_SUFFIXES


def raw_partners(names: Iterable[str]) -> dict[str, list[str]]:
    """Within one folder: a camera picture's name -> the RAW names of the same stem
    (``IMG_0001.JPG`` + ``IMG_0001.CR3``; stems compared case-insensitively). The picture is the
    pair's face: shown, scored; the RAW rides along (its sidecar, if chosen, gets the tags)."""
    by_stem: dict[str, list[str]] = {}
    for name in names:
        by_stem.setdefault(os.path.splitext(name)[0].lower(), []).append(name)
    out: dict[str, list[str]] = {}
    for group in by_stem.values():
        raws = sorted(n for n in group if is_raw(n))
        pictures = sorted(n for n in group if os.path.splitext(n)[1].lower() in PAIR_SUFFIXES)
        if raws and pictures:
            out[pictures[0]] = raws
    return out


def paired_raws(paths: Iterable[str]) -> set[str]:
    """The RAW files among ``paths`` that have a camera picture beside them (see
    ``raw_partners``): not scored on their own when pairs are grouped."""
    return {raw for raws in pair_faces(paths).values() for raw in raws}


def pair_faces(paths: Iterable[str]) -> dict[str, list[str]]:
    """A pair's picture path -> its RAW paths, among ``paths`` (``raw_partners`` per folder).
    The picture is scored for the pair; when it cannot be read, its RAW is (``scored_face``)."""
    by_folder: dict[str, list[str]] = {}
    for path in paths:
        folder, name = os.path.split(path)
        by_folder.setdefault(folder, []).append(name)
    return {
        os.path.join(folder, face): [os.path.join(folder, raw) for raw in raws]
        for folder, names in by_folder.items()
        for face, raws in raw_partners(names).items()
    }


def sidecar_targets(
    photos: Iterable[Photo], tags: Mapping[str, list[str]], to: str = "raw"
) -> dict[str, list[str]]:
    """Where a grouped pair's tags go: its RAW file(s) (``to="raw"``, what Lightroom and
    darktable read for RAW) or its picture (``"jpeg"``). Other photos keep their own path."""
    out: dict[str, list[str]] = {}
    for photo in photos:
        if photo.path not in tags:
            continue
        if photo.companions and to == "raw":
            for raw in photo.companions:
                out[raw] = tags[photo.path]
        else:
            out[photo.path] = tags[photo.path]
    return out


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


def subfolders(root: str | os.PathLike[str]) -> list[str]:
    """The folders directly under ``root`` that ``walk`` descends into (hidden ones and links
    skipped, as ``os.walk`` does), sorted: how a listing is split into parts that can be walked
    in parallel (the cluster scan). [] when ``root`` cannot be listed (``walk`` reports that)."""
    try:
        with os.scandir(root) as entries:
            return sorted(
                e.path for e in entries if not is_hidden(e.name) and e.is_dir(follow_symlinks=False)
            )
    except OSError:
        return []


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
    folder: str,
    recursive: bool,
    unreadable: list[PhotoFailure] | None = None,
    group_pairs: bool = False,
) -> list[Photo]:
    """The photos a scan of ``folder`` scans, with their size and modification time, sorted by
    path. A file that cannot be stat'ed is listed with size and time 0 (a scan reports why).
    ``group_pairs``: a RAW file beside its camera picture is listed as that photo's companion."""
    found = find_photos([folder], recursive, unreadable)
    paired = paired_raws(found) if group_pairs else set()
    companions: dict[str, list[str]] = {}
    if paired:
        for raw in paired:
            folder_of, name = os.path.split(raw)
            companions.setdefault(folder_of, []).append(name)
    out: list[Photo] = []
    for path in found:
        if path in paired:
            continue
        try:
            st = os.stat(path)
            size, mtime = st.st_size, st.st_mtime
        except OSError:
            size, mtime = 0, 0.0
        mine: tuple[str, ...] = ()
        if paired:
            where, name = os.path.split(path)
            partners = raw_partners([name, *companions.get(where, ())]).get(name, [])
            mine = tuple(os.path.join(where, n) for n in partners)
        out.append(Photo(path, os.path.basename(path), size, mtime, companions=mine))
    return out


def count_tree(root: str, group_pairs: bool = False) -> FolderCounts:
    """Every folder under ``root`` (hidden ones skipped) with the photos directly inside it (a
    RAW + JPEG pair once, when ``group_pairs``)."""

    def count(names: list[str]) -> int:
        return len(names) - (sum(map(len, raw_partners(names).values())) if group_pairs else 0)

    counts = tuple((os.path.relpath(d, root), count(names)) for d, names in walk(root))
    return FolderCounts(root, counts)


def exif_taken(path: str) -> float | None:
    """EXIF DateTimeOriginal (else DateTime) as a local timestamp; None when absent or unreadable.
    Read by ``core/exif.py`` (the one EXIF reader: non-blocking, regular files only)."""
    from blipdesk.core.exif import taken

    when = taken(path)
    return None if when is None else when.timestamp()
