"""What is on disk and what the cache knows of it: content keys, the file table's refresh, and
the one answer to "which content is this path?".

* ``content_hash``: the cheap content key (size, first and last 64 KiB) every score is keyed by.
* ``refresh_photos``: the scan's walk, re-hashing only files whose size or mtime changed.
* ``resolve_contents``: path -> content key by the same rule, for everything that names photos
  by path outside a scan (ratings, labels, "Try", explain, the CLI's teach commands).

Qt-free and torch-free (decode workers import nothing heavier than this).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from blipdesk.core import raw
from blipdesk.core.files import PhotoFailure, absolute, find_photos, is_raw
from blipdesk.domain import PhotoRecord
from blipdesk.store import Library

HASH_CHUNK = 64 * 1024
# A RAW file's identity is salted (never equal to a picture's key) with the RAW decoding rule
# of the day identities were split from image keys: frozen, so the identity never moves.
RAW_IDENTITY_SALT = "raw-1:preview-min-384,half-demosaic,flip-unless-upright"


def image_key(identity: str, path: str | os.PathLike[str]) -> str:
    """The key a file's scores and vision output are kept by: its content identity plus how it
    is decoded. A RAW's decoding rule (``raw.RAW_DECODE_RULE``) is folded in, so a new rule
    recomputes its scores while its labels and ratings (kept by identity) stay; under the rule
    identities were made with, the key is the identity itself (existing caches keep both)."""
    if not is_raw(path) or raw.RAW_DECODE_RULE == RAW_IDENTITY_SALT:
        return identity
    return hashlib.sha256(f"{identity}\0{raw.RAW_DECODE_RULE}".encode()).hexdigest()


def content_hash(path: str | os.PathLike[str], size: int | None = None) -> str:
    """A cheap content key: sha256 of the size, the first and the last 64 KiB.

    Reads at most 128 KiB, so hashing a library is dominated by directory walking; a rename or
    move keeps the key and an edit changes it (an edit that keeps size, head and tail, e.g. a
    same-size pixel change in the middle of an uncompressed TIFF, goes unseen; the mtime check
    makes the engine re-hash, not re-score). This is the file's content identity (labels,
    ratings, duplicates); scores are kept by ``image_key``, which adds a RAW's decoding rule."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # swapped for a FIFO or device since it was listed
            raise OSError(errno.EINVAL, "not a regular file (a pipe, socket or device)", path)
        if size is None:
            size = st.st_size
        digest = hashlib.sha256(str(size).encode() + b"\0")
        if is_raw(path):  # a RAW is never the same content as a picture
            digest.update(RAW_IDENTITY_SALT.encode() + b"\0")
        digest.update(fh.read(HASH_CHUNK))
        if size > HASH_CHUNK:
            fh.seek(max(HASH_CHUNK, size - HASH_CHUNK))
            digest.update(fh.read(HASH_CHUNK))
    return digest.hexdigest()


def in_shard(content: str, index: int, count: int) -> bool:
    """Whether a photo belongs to shard ``index`` (from 0) of ``count``: by its content hash, so
    every machine splits an archive the same way whatever its paths, and copies of one photo land
    in one shard. (A file that could not be read has no hash: its path decides.)"""
    digest = (
        content
        if _is_hash(content)
        else hashlib.sha256(content.encode("utf-8", "surrogateescape")).hexdigest()
    )
    return int(digest, 16) % count == index


def _is_hash(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def hashed_record(path: str, st: os.stat_result) -> PhotoRecord:
    """A file's record from its ``stat``: its content hash, or why it has none. The one rule for
    ``refresh_photos`` and the cluster's hashing tasks."""
    if not stat.S_ISREG(st.st_mode):
        # A pipe or device named like a photo: opening it could block the scan forever.
        reason = "not a regular file (a pipe, socket or device)"
        return PhotoRecord(path, st.st_size, st.st_mtime_ns, None, reason)
    try:
        identity = content_hash(path, st.st_size)
        key = image_key(identity, path)
        return PhotoRecord(
            path, st.st_size, st.st_mtime_ns, key, None, None if key == identity else identity
        )
    except OSError as exc:
        reason = f"cannot read file ({exc.strerror or exc})"
        return PhotoRecord(path, st.st_size, st.st_mtime_ns, None, reason)


def refresh_photos(
    library: Library,
    folders: Sequence[str | os.PathLike[str]],
    recursive: bool = True,
    unreadable: list[PhotoFailure] | None = None,
    listed: Sequence[str] | None = None,
) -> list[PhotoRecord]:
    """Walk ``folders`` and bring the cache's file table up to date: re-hash only files whose size
    or mtime changed, forget files that are gone. Returns the current records (sorted by path).

    A folder that cannot be listed is added to ``unreadable``, and the photos the cache knows
    under it are kept (records and scores): unreadable is not gone.

    ``listed``: the photos under ``folders`` as the caller has just listed them (the window's
    grid, with its RAW companions): not walked again, and nothing is forgotten (only a walk
    knows what is gone)."""
    roots = [absolute(f) for f in folders]
    known = {p.path: p for p in library.photos_under(roots, recursive)}
    current: list[PhotoRecord] = []
    changed: list[PhotoRecord] = []
    blocked: list[PhotoFailure] = []
    if listed is not None:
        found = sorted({absolute(p) for p in listed})
        known = {p: known[p] for p in found if p in known}
    else:
        found = find_photos(roots, recursive, blocked)
    if unreadable is not None:
        unreadable.extend(blocked)
    for folder in {b.path for b in blocked}:
        for path in [p for p in known if p.startswith(folder.rstrip(os.sep) + os.sep)]:
            del known[path]  # neither current (it cannot be read now) nor forgotten
    for path in found:
        old = known.pop(path, None)
        reason = ""
        try:
            st: os.stat_result | None = os.stat(path)
        except OSError as exc:
            st, reason = None, f"cannot read file ({exc.strerror or exc})"
        if (
            st is not None
            and stat.S_ISREG(st.st_mode)
            and old is not None
            and old.read_error is None
            and old.content is not None
            and (old.size, old.mtime_ns) == (st.st_size, st.st_mtime_ns)
        ):
            rekeyed = _rekeyed(old)  # a new decoding rule: a new image key, nothing read
            current.append(rekeyed)
            if rekeyed is not old:
                changed.append(rekeyed)
            continue
        rec = PhotoRecord(path, 0, 0, None, reason) if st is None else hashed_record(path, st)
        current.append(rec)
        if rec != old:
            changed.append(rec)
    if changed:
        library.record_photos(changed)
    # A folder that is not there (an unplugged drive) forgets nothing: its photos come back as
    # they were when it does. Scores are keyed by content and survive either way.
    gone = [p for p in known if any(p.startswith(r + os.sep) and os.path.isdir(r) for r in roots)]
    if gone:
        library.forget_photos(sorted(gone))
    return current


def _rekeyed(record: PhotoRecord) -> PhotoRecord:
    """The record with its image key under today's decoding rule (itself when unchanged)."""
    identity = record.identity or record.content
    assert identity is not None
    key = image_key(identity, record.path)
    if key == record.content:
        return record
    return PhotoRecord(record.path, record.size, record.mtime_ns, key, None, identity)


def unchanged(record: PhotoRecord) -> bool:
    """Whether the file still has the size and mtime it had when ``record`` was made (a stat:
    no hashing), so the record's content key still names its bytes."""
    try:
        st = os.stat(record.path)
    except OSError:
        return False
    return (st.st_size, st.st_mtime_ns) == (record.size, record.mtime_ns)


@dataclass(frozen=True)
class Contents:
    """``resolve_contents``'s answer, keyed by the paths as they were given."""

    found: dict[str, str]  # path -> its content key
    failed: dict[str, str]  # path -> why it has none (gone, unreadable, not a regular file)
    # path -> the (size, mtime_ns) the file had when its content key was found: what a decode
    # checks afterwards (``decoding.decode_for_model``'s stamp), so changed pixels never get
    # stored under the old bytes' key
    stamps: dict[str, tuple[int, int]] = field(default_factory=dict)
    # path -> the file's content identity (labels, ratings: ``PhotoRecord.identity``), which a
    # RAW's image key adds its decoding rule to
    identities: dict[str, str] = field(default_factory=dict)


def resolve_contents(
    library: Library | None,
    paths: Iterable[str | os.PathLike[str]],
    record: bool = False,
) -> Contents:
    """Each path's content key, by the scan's rule (``refresh_photos``), so every caller that
    names photos by path finds the same content as the scan did:

    * the path is taken as the scan records it (``files.absolute``: ``~`` expanded, made
      absolute, links not resolved), and the cache's record is used when the file is unchanged
      since (same size and mtime: a stat, nothing read);
    * otherwise (never scanned, moved or renamed, changed since) the file is hashed now
      (``hashed_record``: regular files only, at most 128 KiB read): a moved file finds its old
      content (and its scores), a changed file its new content (never the old bytes' scores);
    * a file that cannot be stat'ed or read, or is not a regular file, has no content: why is in
      ``failed``;
    * a RAW file beside its JPEG is its own content (a RAW's key holds the RAW decoding rule): a
      grouped pair is scored by its JPEG, and the caller, which knows the grouping, names the
      JPEG's path for the pair, as the window's grid does.

    ``record``: store what was hashed now (``library`` must be the writer), as a scan's refresh
    would, so the next look-up of the same file reads nothing."""
    given = [os.fspath(p) for p in paths]
    where = {p: absolute(p) for p in given}
    stats: dict[str, os.stat_result] = {}
    failed: dict[str, str] = {}
    for path in given:
        try:
            stats[path] = os.stat(where[path])
        except OSError as exc:
            failed[path] = f"cannot read file ({exc.strerror or exc})"
    regular = [(where[p], st.st_size, st.st_mtime_ns) for p, st in stats.items()]
    records = library.records_of(regular) if library is not None else {}
    known = {path: _rekeyed(rec) for path, rec in records.items()}
    found: dict[str, str] = {}
    identities: dict[str, str] = {}
    stamps: dict[str, tuple[int, int]] = {}
    hashed: list[PhotoRecord] = []
    for path, st in stats.items():
        rec = known.get(where[path]) if stat.S_ISREG(st.st_mode) else None
        if rec is None:
            rec = hashed_record(where[path], st)
            if rec.content is None:
                failed[path] = rec.read_error or "cannot read file"
                continue
            hashed.append(rec)
        assert rec.content is not None
        found[path] = rec.content
        identities[path] = rec.identity or rec.content
        stamps[path] = (st.st_size, st.st_mtime_ns)
    if record and hashed and library is not None and not library.readonly:
        library.record_photos(list({r.path: r for r in hashed}.values()))
    return Contents(found, failed, stamps, identities)
