"""The vision cache: each photo's vision-tower output on disk, so the vision pass runs once ever.

A new tag or a search then costs only the text side: no decoding, no ViT. On by default.

**What is stored.** The vision tower's last hidden state (577 x D per photo: 577 x 1024 for
blip-itm-large), the only input the ITM head's cross-attention needs. Two formats:

* ``compact`` (the default): 8-bit codes with a scale per channel *and* a scale per token,
  ``x[t, c] ~ q[t, c] * s[t] * r[c]``, and the 8 widest channels kept whole in fp16. ViT
  activations carry a few outlier channels (a LayerNorm gain tens of times the others): one scale
  per token would spend the 8 bits on those few channels and round every other channel to a
  handful of levels. Dividing each channel by its own range first (``r``, over the photo's tokens)
  puts every channel on the same footing; the per-token scale (``s``) then absorbs tokens whose
  norm stands out (the ``[CLS]`` token). Even so an outlier channel's 8-bit step is tens of times
  the others' in absolute terms, and the cross-attention's key projection mixes it into every
  score, so the widest channels of each photo skip the codes (LLM.int8()'s outlier split).
  0.599 MB per photo for blip-itm-large (577 x 1016 codes, 8 fp16 channels, fp16 scales), half
  of fp16. Scores from it differ from a fresh pass by about 1e-3 in ITM probability (measured in
  ``benchmarks/bench_new_sentence.py``, bounded in ``tests/unit/test_feature_cache.py``).
* ``fp16``: the exact half-precision output (1.18 MB per photo for large).

**Layout.** One file per photo, ``<root>/<image key digest>/<hash[:2]>/<hash>.vis``: written once,
read whole, evicted by one unlink (packed files would need compaction to evict; measured in
``bench_features.py``). A file is keyed by the photo's content hash and by what the vision output
depends on (weights + decoding rule), so a changed photo never meets stale features. Written to a
temporary name and renamed, so a crash never leaves a half file under the final name; a header
with a CRC-32 of the body catches a damaged file (so files skip the fsyncs: a power cut may lose
the last ones, never pass a torn one off as whole), which is then treated as missing (recomputed by
the next pass that needs it) and deleted.

**Reading.** A batch of files is read straight into one buffer (``read_many``: ``readinto``, no
intermediate copy; measured faster than ``mmap`` for 0.6 MB files, and immune to the SIGBUS a
mapped file truncated under the reader would raise) and dequantised into one (photos, 577, D)
array, each run of narrow channels in two vectorised passes (``_dequantise``). While one batch
scores, the next is read and decoded by a background thread (``FeatureStore.read_ahead``): file
reads, the CRC and numpy's loops release the GIL.

**Budget.** The index of files, their sizes and when each was last used lives in the cache
database (``Library.*feature*``); past the budget the least recently used go first, down to 90% of
it so eviction runs in bulk rather than per photo. A file with no index row (a crash between the
rename and the commit) is unknown to the budget and rewritten by the next pass that needs it.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import shutil
import stat
import struct
import threading
import time
import zlib
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from blipdesk.infra.atomic import write_atomic

if TYPE_CHECKING:
    from blipdesk.store import Library

log = logging.getLogger(__name__)

FORMATS = ("compact", "fp16")
DEFAULT_FORMAT = "compact"
# 20 GB holds ~33,000 photos of blip-itm-large in the compact form (0.6 MB each), ~44,000 of
# blip-itm-base: most personal libraries whole. Past it the least recently used photos pay the
# vision pass again the next time a new sentence reaches them.
DEFAULT_BUDGET = 20 * 1000**3
MIN_FREE_DISK = 2 * 1024**3  # stop writing (never fail a scan) when the disk gets this full
SUFFIX = ".vis"
_MAGIC = b"BLPVIS01"
_HEADER = struct.Struct("<8sBBxxIII")  # magic, format, fp16 channels, tokens, channels, crc32
OUTLIER_CHANNELS = 8  # the compact format keeps this many of the widest channels in fp16
_FP16_MAX = 65000.0
_CODES = {"compact": 1, "fp16": 2}
_NAMES = {v: k for k, v in _CODES.items()}
_TINY = np.float32(1e-12)


# ----------------------------------------------------------------------------------- format


def encode(embeds: np.ndarray, fmt: str = DEFAULT_FORMAT) -> bytes:
    """One photo's (tokens, channels) vision output as a self-describing, checksummed blob."""
    x = np.asarray(embeds, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"expected (tokens, channels), got shape {x.shape}")
    if not np.isfinite(x).all() or np.abs(x).max(initial=0.0) > _FP16_MAX:
        raise ValueError("vision output out of half-precision range")
    tokens, channels = x.shape
    wide = 0
    if fmt == "fp16":
        body = np.ascontiguousarray(x, dtype=np.float16).tobytes()
    elif fmt == "compact":
        ranges = np.abs(x).max(axis=0)
        wide = min(OUTLIER_CHANNELS, channels - 1)
        kept = np.sort(np.argsort(-ranges, kind="stable")[:wide])  # the widest channels: fp16
        narrow = np.concatenate([x[:, a:b] for a, b in _runs(kept, channels)], axis=1)
        per_channel = np.maximum(np.abs(narrow).max(axis=0), _TINY).astype(np.float16)  # r[c]
        y = narrow / np.maximum(per_channel.astype(np.float32), _TINY)
        per_token = np.maximum(np.abs(y).max(axis=1) / 127.0, _TINY).astype(np.float16)  # s[t]
        codes = np.rint(y / np.maximum(per_token.astype(np.float32), _TINY)[:, None])
        body = b"".join(
            (
                kept.astype(np.uint16).tobytes(),
                np.ascontiguousarray(x[:, kept], dtype=np.float16).tobytes(),
                per_channel.tobytes(),
                per_token.tobytes(),
                codes.clip(-127, 127).astype(np.int8).tobytes(),
            )
        )
    else:
        raise ValueError(f"unknown feature format {fmt!r} (choose {' or '.join(FORMATS)})")
    header = _HEADER.pack(_MAGIC, _CODES[fmt], wide, tokens, channels, zlib.crc32(body))
    return header + body


Blob = bytes | bytearray | memoryview | np.ndarray
_Results = dict[str, np.ndarray | OSError | ValueError]


def decode(blob: Blob) -> np.ndarray:
    """The (tokens, channels) float32 array back; ``ValueError`` for anything damaged."""
    fmt, wide, tokens, channels, body = _parse(blob)
    out = np.empty((tokens, channels), np.float32)
    _dequantise(body, fmt, wide, out)
    return out


def decode_many(blobs: Sequence[Blob]) -> tuple[np.ndarray, list[ValueError | None]]:
    """Many photos' files into one (photos, tokens, channels) float32 array, and per photo None
    or why its row is not to be used (damaged; or another shape than the first good file's)."""
    parsed: list[tuple[str, int, int, int, memoryview] | None] = []
    errors: list[ValueError | None] = []
    for blob in blobs:
        try:
            parsed.append(_parse(blob))
            errors.append(None)
        except ValueError as exc:
            parsed.append(None)
            errors.append(exc)
    shape = next(((p[2], p[3]) for p in parsed if p is not None), (0, 0))
    out = np.empty((len(parsed), *shape), np.float32)
    for i, got in enumerate(parsed):
        if got is None:
            continue
        fmt, wide, tokens, channels, body = got
        try:
            if (tokens, channels) != shape:
                raise ValueError(f"shape {tokens} x {channels}, the batch's is {shape}")
            _dequantise(body, fmt, wide, out[i])
        except ValueError as exc:
            errors[i] = exc
    return out, errors


def _parse(blob: Blob) -> tuple[str, int, int, int, memoryview]:
    """(format, fp16 channels, tokens, channels, body) of a whole, checksummed file."""
    view = (blob.data if isinstance(blob, np.ndarray) else memoryview(blob)).cast("B")
    if len(view) < _HEADER.size:
        raise ValueError("truncated header")
    magic, code, wide, tokens, channels, crc = _HEADER.unpack_from(view)
    body = view[_HEADER.size :]
    if magic != _MAGIC or code not in _NAMES:
        raise ValueError("not a blipdesk vision file")
    if zlib.crc32(body) != crc:
        raise ValueError("checksum mismatch")
    if len(body) != _body_bytes(tokens, channels, _NAMES[code], wide):
        raise ValueError("wrong size")
    return _NAMES[code], wide, tokens, channels, body


def _dequantise(body: memoryview, fmt: str, wide: int, out: np.ndarray) -> None:
    """Write one photo's values into ``out`` (tokens, channels), float32."""
    tokens, channels = out.shape
    if fmt == "fp16":
        out[...] = np.frombuffer(body, np.float16).reshape(tokens, channels)
        return
    narrow = channels - wide
    at = 0

    def take(dtype: type[np.generic], count: int) -> np.ndarray:
        nonlocal at
        got = np.frombuffer(body, dtype, count, at)
        at += got.nbytes
        return got

    kept = take(np.uint16, wide).astype(np.intp)
    exact = take(np.float16, tokens * wide).reshape(tokens, wide)
    per_channel = take(np.float16, narrow).astype(np.float32)
    per_token = take(np.float16, tokens).astype(np.float32)[:, None]
    codes = take(np.int8, tokens * narrow).reshape(tokens, narrow)
    if kept.size and (kept.max() >= channels or np.unique(kept).size != kept.size):
        raise ValueError("bad channel index")
    # The narrow channels lie in at most wide + 1 runs between the kept ones: each run is
    # dequantised straight into its place, codes x per-token scale x per-channel scale (a fancy-
    # indexed column scatter is ten times slower).
    src = 0
    for start, stop in _runs(kept, channels):
        width = stop - start
        dst = out[:, start:stop]
        np.multiply(codes[:, src : src + width], per_token, out=dst)
        dst *= per_channel[src : src + width]
        src += width
    out[:, kept] = exact


def stack_rows(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """``np.stack(arrays)``, without copying when they are consecutive rows of one array (as
    ``FeatureStore.load_many`` hands out a batch read together)."""
    if arrays:
        base = arrays[0].base
        if isinstance(base, np.ndarray) and base.flags.c_contiguous and base.ndim == 3:
            row = base.strides[0]
            first = _address(arrays[0]) - _address(base)
            if (
                first % row == 0
                and all(a.base is base and a.shape == base.shape[1:] for a in arrays)
                and all(_address(a) == _address(arrays[0]) + j * row for j, a in enumerate(arrays))
            ):
                start = first // row
                return base[start : start + len(arrays)]
    return np.stack(arrays)


def _address(a: np.ndarray) -> int:
    return int(a.__array_interface__["data"][0])


def read_many(paths: Sequence[Path]) -> list[np.ndarray | OSError | ValueError]:
    """Each file's (tokens, channels) float32 array (rows of one array, in order), or why not.

    The files are read into one buffer, ``readinto`` straight from the page cache; only regular
    files of sane size are read (opened non-blocking, checked with ``fstat`` on the open
    descriptor), as ``infra.atomic.read_regular`` does for one file."""
    out: list[np.ndarray | OSError | ValueError] = []
    opened: list[tuple[int, int, int]] = []  # (index, descriptor, size)
    try:
        for i, path in enumerate(paths):
            try:
                fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
            except OSError as exc:
                out.append(exc)
                continue
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                out.append(OSError(errno.EINVAL, "not a regular file", str(path)))
                os.close(fd)
            elif st.st_size > _MAX_FILE:
                out.append(OSError(errno.EFBIG, f"too large ({st.st_size} bytes)", str(path)))
                os.close(fd)
            else:
                out.append(OSError(errno.EIO, "not read", str(path)))
                opened.append((i, fd, st.st_size))
        buffer = np.empty(sum(size for _, _, size in opened), np.uint8)
        blobs: list[np.ndarray] = []
        rows: list[int] = []
        at = 0
        for i, fd, size in opened:
            blob = buffer[at : at + size]
            at += size
            with os.fdopen(fd, "rb", buffering=0, closefd=False) as fh:
                got = fh.readinto(blob.data)
            if got != size:
                out[i] = OSError(errno.EIO, "changed while being read", str(paths[i]))
                continue
            blobs.append(blob)
            rows.append(i)
    finally:
        for _, fd, _ in opened:
            os.close(fd)
    values, errors = decode_many(blobs)
    for j, (i, error) in enumerate(zip(rows, errors, strict=True)):
        out[i] = values[j] if error is None else error
    return out


def _runs(kept: np.ndarray, channels: int) -> list[tuple[int, int]]:
    """The [start, stop) ranges of channels not in ``kept`` (sorted)."""
    runs, start = [], 0
    for k in (*kept.tolist(), channels):
        if k > start:
            runs.append((start, k))
        start = k + 1
    return runs


def _body_bytes(tokens: int, channels: int, fmt: str, wide: int) -> int:
    if fmt == "fp16":
        return 2 * tokens * channels
    narrow = channels - wide
    return 2 * wide + 2 * tokens * wide + 2 * narrow + 2 * tokens + tokens * narrow


def file_bytes(tokens: int, channels: int, fmt: str = DEFAULT_FORMAT) -> int:
    """Bytes on disk for one photo (before file-system rounding)."""
    wide = 0 if fmt == "fp16" else min(OUTLIER_CHANNELS, channels - 1)
    return _HEADER.size + _body_bytes(tokens, channels, fmt, wide)


def parse_size(text: str) -> int:
    """``20G``, ``500MB``, ``1.5GiB``, ``0`` (off) -> bytes. Decimal units, as disks are sold;
    ``GiB``/``MiB`` for binary ones."""
    cleaned = text.strip().replace(" ", "")
    units = {
        "": 1, "b": 1, "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3,
        "gb": 1000**3, "t": 1000**4, "tb": 1000**4, "kib": 1024, "mib": 1024**2,
        "gib": 1024**3, "tib": 1024**4,
    }  # fmt: skip
    number = cleaned.rstrip("bBkKmMgGtTiI")
    unit = cleaned[len(number) :].lower()
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"{text!r} is not a size (e.g. 20G, 500M, 0)") from None
    if unit not in units or not value >= 0 or value == float("inf"):
        raise ValueError(f"{text!r} is not a size (e.g. 20G, 500M, 0)")
    return int(value * units[unit])


def human_bytes(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


# ----------------------------------------------------------------------------------- store


def set_folder(image_key: str) -> str:
    """The folder name of one image key's files (weights + decoding rule)."""
    return hashlib.sha256(image_key.encode()).hexdigest()[:16]


class FeatureStore:
    """The vision cache for one image key, with its index and budget in ``library``.

    Used from the thread that owns ``library`` (the writer). ``budget`` in bytes covers every
    model's files together (0: keep nothing new, evict everything on the next write)."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        image_key: str,
        library: Library,
        fmt: str = DEFAULT_FORMAT,
        budget: int = DEFAULT_BUDGET,
    ) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown feature format {fmt!r} (choose {' or '.join(FORMATS)})")
        self.root = Path(root)
        self.folder = set_folder(image_key)
        self.library = library
        self.fmt = fmt
        self.budget = budget
        # A read-only cache (a read-only data folder) is read, never written or touched.
        self.set_id = (
            library.find_feature_set(image_key)
            if library.readonly
            else library.feature_set(image_key, self.folder)
        )
        self.writable = True  # False after a write failed (disk full, read-only): scans go on
        # Read-ahead (``read_ahead``): contents still to come, how many per batch, the batch being
        # read in the background.
        self._queue: deque[str] = deque()
        self._batch = 1
        self._ahead: tuple[list[str], Future[_Results]] | None = None

    def path(self, content: str, folder: str | None = None) -> Path:
        return self.root / (folder or self.folder) / content[:2] / f"{content}{SUFFIX}"

    def cached(self, contents: Iterable[str]) -> set[str]:
        """Which of ``contents`` have a file in the index."""
        if self.set_id is None:
            return set()
        return self.library.features_present(self.set_id, list(contents))

    def load(self, content: str) -> np.ndarray | None:
        """The photo's (577, D) float32 vision output, or None when absent or damaged (a damaged
        file is deleted and forgotten, so the next pass recomputes and replaces it)."""
        return self._settle(self._read([content])).get(content)

    def load_many(self, contents: Iterable[str]) -> dict[str, np.ndarray]:
        """Those of ``contents`` that load; marks them used (least-recently-used order). The
        arrays are consecutive rows of one array where read together (``stack_rows``)."""
        wanted = list(dict.fromkeys(contents))
        results = self._take_ahead(wanted)
        rest = [c for c in wanted if c not in results]
        if rest:
            results.update(self._read(rest))
        self._start_ahead()  # the next batch reads while this one scores
        out = self._settle({c: results[c] for c in wanted})
        if out and self.set_id is not None and not self.library.readonly:
            self.library.touch_features(self.set_id, list(out), time.time())
        return out

    def read_ahead(self, contents: Iterable[str], batch: int) -> None:
        """Say in what order ``load_many`` will be asked for ``contents``, ``batch`` at a time: from
        now on, the next batch's files are read and decoded in a background thread while the
        caller works on the last one. A request that does not match the expected batch is read
        on the spot (same results, no overlap)."""
        self._queue = deque(contents)
        self._batch = max(1, batch)
        self._ahead = None
        self._start_ahead()

    def _read(self, contents: Sequence[str]) -> _Results:
        """Read and decode (any thread: files only, never the library)."""
        return dict(zip(contents, read_many([self.path(c) for c in contents]), strict=True))

    def _start_ahead(self) -> None:
        queue = self._queue
        if not queue or self._ahead is not None:
            return
        take = [queue.popleft() for _ in range(min(self._batch, len(queue)))]
        future: Future[_Results] = Future()

        def work() -> None:
            try:
                future.set_result(self._read(take))
            except BaseException as exc:  # handed to the owning thread
                future.set_exception(exc)

        threading.Thread(target=work, name="vision-read-ahead", daemon=True).start()
        self._ahead = (take, future)

    def _take_ahead(self, contents: Sequence[str]) -> _Results:
        ahead = self._ahead
        if ahead is None or not set(ahead[0]) & set(contents):
            return {}
        self._ahead = None
        got = ahead[1].result()
        return {c: got[c] for c in contents if c in got}

    def _settle(
        self, results: Mapping[str, np.ndarray | OSError | ValueError]
    ) -> dict[str, np.ndarray]:
        """The arrays; a damaged file is deleted and forgotten (on the library's thread)."""
        out: dict[str, np.ndarray] = {}
        for content, got in results.items():
            if isinstance(got, np.ndarray):
                out[content] = got
                continue
            path = self.path(content)
            if isinstance(got, FileNotFoundError):
                reason = "missing"
            else:
                reason = str(got)
                log.warning(
                    "vision cache file %s is damaged (%s); it will be recomputed", path, got
                )
                if not self.library.readonly:
                    with contextlib.suppress(OSError):
                        path.unlink()
            if self.set_id is not None and not self.library.readonly:
                self.library.forget_features(self.set_id, [content])
            log.debug("vision cache miss for %s: %s", content, reason)
        return out

    def save_many(self, embeds: Mapping[str, np.ndarray]) -> int:
        """Store photos' vision outputs (skipped, with one warning, when the budget is 0, the disk
        is nearly full or a write fails: a scan never fails for its cache). Returns files written."""
        if not embeds or self.set_id is None or not self.writable or self.budget <= 0:
            return 0
        if self.library.readonly:  # a read-only data folder: read, never written
            return 0
        if _free_bytes(self.root) < MIN_FREE_DISK:
            self._stop_writing("the disk is nearly full")
            return 0
        sizes: dict[str, int] = {}
        for content, x in embeds.items():
            try:
                sizes[content] = _write_atomic(self.path(content), encode(x, self.fmt))
            except OSError as exc:
                self._stop_writing(str(exc))
                break
        if sizes:
            self.library.record_features(self.set_id, sizes, time.time())
            self.enforce_budget()
        return len(sizes)

    def enforce_budget(self) -> int:
        """Evict least recently used files until the total is within 90% of the budget; returns
        bytes freed (nothing on a read-only cache)."""
        if self.library.readonly:
            return 0
        total = self.library.features_total()
        if total <= self.budget:
            return 0
        goal = int(self.budget * 0.9)
        freed = 0
        while total - freed > goal:
            oldest = self.library.oldest_features(256)
            if not oldest:
                break
            gone: dict[int, list[str]] = {}
            for set_id, folder, content, size in oldest:
                with contextlib.suppress(FileNotFoundError):
                    self.path(content, folder).unlink()
                gone.setdefault(set_id, []).append(content)
                freed += size
                if total - freed <= goal:
                    break
            for set_id, contents in gone.items():  # one transaction per set and round
                self.library.forget_features(set_id, contents)
        log.info("vision cache over budget: evicted %s", human_bytes(freed))
        return freed

    def _stop_writing(self, why: str) -> None:
        if self.writable:
            log.warning("vision cache: not storing more features in this run (%s)", why)
        self.writable = False


def clear(root: str | os.PathLike[str], library: Library) -> None:
    """Delete every vision file and forget the index (Settings > Clear, ``--feature-budget 0``)."""
    library.forget_all_features()
    shutil.rmtree(root, ignore_errors=True)


def _free_bytes(root: Path) -> int:
    probe = root
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return shutil.disk_usage(probe).free
    except OSError:
        return MIN_FREE_DISK  # cannot tell: let the write itself decide


_MAX_FILE = 64 * 1024**2  # no vision file is this big (large: 0.6 MB compact, 1.2 MB fp16)


def _write_atomic(target: Path, data: bytes) -> int:
    """Replace the file itself: whatever stands at a cache path that is not a regular file (a
    symlink planted there, to a photo or to /dev/zero; a FIFO) is removed, never followed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISREG(os.lstat(target).st_mode):
            target.unlink()
    write_atomic(target, data, durable=False)
    return len(data)
