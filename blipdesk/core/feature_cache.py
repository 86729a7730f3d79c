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

**Budget.** The index of files, their sizes and when each was last used lives in the cache
database (``Library.*feature*``); past the budget the least recently used go first, down to 90% of
it so eviction runs in bulk rather than per photo. A file with no index row (a crash between the
rename and the commit) is unknown to the budget and rewritten by the next pass that needs it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import stat
import struct
import time
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from blipdesk.infra.atomic import read_regular, write_atomic

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


def decode(blob: bytes) -> np.ndarray:
    """The (tokens, channels) float32 array back; ``ValueError`` for anything damaged."""
    if len(blob) < _HEADER.size:
        raise ValueError("truncated header")
    magic, code, wide, tokens, channels, crc = _HEADER.unpack_from(blob)
    body = memoryview(blob)[_HEADER.size :]
    if magic != _MAGIC or code not in _NAMES:
        raise ValueError("not a blipdesk vision file")
    if zlib.crc32(body) != crc:
        raise ValueError("checksum mismatch")
    if len(body) != _body_bytes(tokens, channels, _NAMES[code], wide):
        raise ValueError("wrong size")
    n = tokens * channels
    if _NAMES[code] == "fp16":
        return np.frombuffer(body, np.float16).astype(np.float32).reshape(tokens, channels)
    narrow = channels - wide
    at = 0

    def take(dtype: type[np.generic], count: int) -> np.ndarray:
        nonlocal at
        out = np.frombuffer(body, dtype, count, at)
        at += out.nbytes
        return out

    kept = take(np.uint16, wide).astype(np.intp)
    exact = take(np.float16, tokens * wide).reshape(tokens, wide)
    per_channel = take(np.float16, narrow).astype(np.float32)
    per_token = take(np.float16, tokens).astype(np.float32)
    codes = take(np.int8, tokens * narrow).reshape(tokens, narrow)
    if kept.size and (kept.max() >= channels or np.unique(kept).size != kept.size):
        raise ValueError("bad channel index")
    del n
    narrow_part = codes.astype(np.float32)
    narrow_part *= per_token[:, None]
    narrow_part *= per_channel[None, :]
    out = np.empty((tokens, channels), np.float32)
    # The narrow channels lie in at most wide + 1 runs between the kept ones: copy slices (a
    # fancy-indexed column scatter is ten times slower).
    src = 0
    for start, stop in _runs(kept, channels):
        out[:, start:stop] = narrow_part[:, src : src + stop - start]
        src += stop - start
    out[:, kept] = exact
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
        path = self.path(content)
        try:
            return decode(_read_regular(path))
        except FileNotFoundError:
            reason = "missing"
        except (OSError, ValueError) as exc:
            reason = str(exc)
            log.warning("vision cache file %s is damaged (%s); it will be recomputed", path, exc)
            if not self.library.readonly:
                with contextlib.suppress(OSError):
                    path.unlink()
        if self.set_id is not None and not self.library.readonly:
            self.library.forget_features(self.set_id, [content])
        log.debug("vision cache miss for %s: %s", content, reason)
        return None

    def load_many(self, contents: Iterable[str]) -> dict[str, np.ndarray]:
        """Those of ``contents`` that load; marks them used (least-recently-used order)."""
        out = {}
        for content in contents:
            got = self.load(content)
            if got is not None:
                out[content] = got
        if out and self.set_id is not None and not self.library.readonly:
            self.library.touch_features(self.set_id, list(out), time.time())
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


def _read_regular(path: Path) -> bytes:
    """A cache file, only if it is a regular file of sane size: a FIFO, device or symlink to
    /dev/zero planted under the cache folder must neither block nor fill memory."""
    return read_regular(path, _MAX_FILE)


def _write_atomic(target: Path, data: bytes) -> int:
    """Replace the file itself: whatever stands at a cache path that is not a regular file (a
    symlink planted there, to a photo or to /dev/zero; a FIFO) is removed, never followed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISREG(os.lstat(target).st_mode):
            target.unlink()
    write_atomic(target, data, durable=False)
    return len(data)
