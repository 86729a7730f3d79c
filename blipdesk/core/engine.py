"""The scan pipeline: find photos -> diff against the cache -> decode ahead -> score -> write.

Qt-free: the GUI's inference worker and the CLI call the same API.

    key = model_key(ModelSpec(...), first_token)          # cheap: no torch, no weights
    with Library.open(paths.database) as library:           # the writer, owned by this thread
        summary = scan(library, folders, sentences, key,
                       scorer=lazy_scorer(spec, "auto", "auto", first_token),
                       options=ScanOptions(features_dir=paths.features_dir),
                       on_progress=..., on_batch=..., cancel=threading.Event(),
                       pause=threading.Event())

* The model is loaded only when the diff finds work: ``scorer`` is a zero-argument callable that
  is called at most once, and never when every photo+sentence is already cached. The GUI passes
  one that returns its warm ``Scorer``; tests pass one that fails if called.
* ``on_progress(ScanProgress)`` after every batch; ``on_batch(ScanBatch)`` with each batch's
  immutable results, after they are committed. Both run on the scanning thread.
* ``cancel`` (set: stop after the batch in flight) and ``pause`` (set: wait between batches) are
  checked between batches. Everything finished stays committed.
* Each batch is written in one transaction, so a crash loses at most the batch in flight.
* Decoding runs ahead in worker processes (torch-free: they import only imaging), falling back to
  threads where processes cannot be started.
* The vision pass runs once per photo, ever: its output goes to the vision cache
  (``feature_cache.py``, on when ``options.features_dir`` is set). A later sentence (a new tag, a
  search) on that photo costs only the text side, and such photos go first, best first (in
  decreasing ITC cosine to the new sentences).
* ``iter_search`` never scans: it ranks what is scanned by ITC cosine at once, then refines the
  best by ITM a step at a time, and counts what is not scanned.

This module imports neither torch nor the scorer at import time, so decode workers stay light.
"""

from __future__ import annotations

import concurrent.futures as cf
import errno
import hashlib
import itertools
import logging
import multiprocessing
import os
import signal
import stat
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

import numpy as np

from blipdesk.core.feature_cache import DEFAULT_BUDGET, DEFAULT_FORMAT, FeatureStore
from blipdesk.core.files import PhotoFailure, absolute, find_photos, is_raw, paired_raws
from blipdesk.core.imaging import DECODE_RULE_VERSION, load_for_model
from blipdesk.core.model import ModelSpec, load_model, resolve_folder, score_key
from blipdesk.core.raw import RAW_DECODE_RULE
from blipdesk.domain import PhotoRecord, ScoreRow
from blipdesk.infra.errors import ModelError, PhotoError, UserError
from blipdesk.store import Library

if TYPE_CHECKING:
    from blipdesk.core.model import LoadedModel
    from blipdesk.core.scorer import FirstToken, ImageFeatures, Scorer, Scores, Sentences

# One model call's result: the photos' image features and their scores against the sentences.
Scored: TypeAlias = "tuple[ImageFeatures, Scores]"

log = logging.getLogger(__name__)

HASH_CHUNK = 64 * 1024


# ----------------------------------------------------------------------------------- values


@dataclass(frozen=True)
class ModelKey:
    """What scores are keyed by, known before (and without) loading the model."""

    score_key: str  # model weights + first token + decoding rule
    image_key: str  # what the vision output depends on: weights + decoding rule
    source: str  # hub id, or the local folder's absolute path
    revision: str | None = None


@dataclass(frozen=True)
class ScanOptions:
    batch_size: int = 0  # 0: automatic, by device (see auto_batch_size)
    recursive: bool = True
    feature_cache: bool = True  # keep vision outputs under features_dir (see feature_cache.py)
    features_dir: Path | None = None  # None: no vision cache
    feature_format: str = DEFAULT_FORMAT  # "compact" (8-bit) or "fp16"
    feature_budget: int = DEFAULT_BUDGET  # bytes, every model's files together
    cached_only: bool = False  # only photos whose vision output is cached (the text side only)
    decode_workers: int | None = None  # None: automatic, by device (see auto_decode_workers)
    use_processes: bool = True
    shard: tuple[int, int] | None = None  # (index, count), index from 0: only this part (in_shard)
    group_pairs: bool = True  # a RAW beside its camera JPEG is not scored (the JPEG is)
    low_priority: bool = False  # a background scan: decode processes run niced (os.nice 10)


@dataclass(frozen=True)
class ScanProgress:
    done: int  # photos handled in this scan (scored or failed)
    total: int  # photos this scan has to handle
    errors: int
    photos_per_second: float
    eta_seconds: float | None  # None until a rate is known
    from_cache: int = 0  # of ``done``: checked from the vision cache (text side only)


@dataclass(frozen=True)
class ScanBatch:
    """One committed batch. ``scores`` arrays are read-only; row i belongs to ``contents[i]``,
    which every path in ``paths[i]`` holds."""

    contents: tuple[str, ...]
    paths: tuple[tuple[str, ...], ...]
    sentences: tuple[str, ...]
    scores: Scores | None
    failures: tuple[PhotoFailure, ...] = ()


@dataclass(frozen=True)
class ScanSummary:
    photos: int  # photo files found
    scored: int  # photos that went through the model in this scan
    failures: tuple[PhotoFailure, ...]
    cancelled: bool
    model_loaded: bool
    seconds: float
    notices: tuple[str, ...] = ()  # things the person should know (e.g. fell back to the CPU)
    unreadable_folders: tuple[PhotoFailure, ...] = ()  # not listed: their photos were kept
    from_cache: int = 0  # of ``scored``: from the vision cache (no decoding, no vision pass)
    cached: int = 0  # photo files with nothing to do: every sentence scored before this scan
    copies: int = 0  # photo files scored in this scan as a copy of another (same content)
    paired: int = 0  # RAW files beside their JPEG (grouped pairs): the JPEG is scored

    @property
    def not_reached(self) -> int:
        """Photo files a stopped scan left for the next one (0 when it finished):
        photos = scored + copies + cached + unreadable + paired + not_reached."""
        rest = self.photos - self.scored - self.copies - self.cached - len(self.failures)
        return max(0, rest - self.paired)

    def tally(self) -> str:
        """The photos found, split so the numbers add up (the CLI's last line and the window's
        status): ``7 photos: 4 scored (1 from the vision cache), 1 duplicate, 1 already scored,
        1 unreadable``; a duplicate holds the same bytes as a photo scored with it. A RAW + JPEG
        pair is one photo, as the grid counts it: its RAW is not counted again."""
        parts = [
            f"{self.scored} scored"
            + (f" ({self.from_cache} from the vision cache)" if self.from_cache else "")
        ]
        if self.copies:
            parts.append(f"{self.copies} duplicate{'' if self.copies == 1 else 's'}")
        if self.cached:
            parts.append(f"{self.cached} already scored")
        parts.append(f"{len(self.failures)} unreadable")
        if self.not_reached:
            parts.append(f"{self.not_reached} left for the next scan")
        photos = self.photos - self.paired
        pairs = f" ({self.paired} with a RAW file)" if self.paired else ""
        return f"{photos} photo{'' if photos == 1 else 's'}{pairs}: {', '.join(parts)}"


@dataclass(frozen=True)
class WorkItem:
    content: str
    paths: tuple[str, ...]
    sentences: tuple[str, ...]  # not yet scored
    needs_features: bool  # no ITC image feature cached yet
    stamp: tuple[int, int] | None = None  # paths[0]'s (size, mtime_ns) when it was hashed


@dataclass(frozen=True)
class SearchHit:
    path: str
    cosine: float
    itm: float | None  # None outside the ITM-reranked candidates


# ----------------------------------------------------------------------------------- keys


def model_key(spec: ModelSpec, first_token: str = "cls") -> ModelKey:
    """The keys for ``spec`` without torch (raises ``ModelError`` when the model is unavailable)."""
    _folder, identity = resolve_folder(spec)
    return ModelKey(
        score_key(identity, first_token),
        f"{identity.key}|decode={DECODE_RULE_VERSION}",
        identity.source,
        identity.revision,
    )


def load_scorer(
    spec: ModelSpec,
    device: str = "auto",
    precision: str = "auto",
    first_token: FirstToken = "cls",
    loader: Callable[..., LoadedModel] = load_model,
) -> Scorer:
    """Load the model and wrap it, ready to score: torch threads set to the physical cores and,
    on a GPU, one tiny batch run so its one-time costs are not paid by the first photos."""
    from blipdesk.core.device import configure_threads, resolve_placement
    from blipdesk.core.model import check_first_token
    from blipdesk.core.scorer import Scorer

    configure_threads()
    loaded = loader(spec, resolve_placement(device, precision))
    check_first_token(loaded, first_token)
    scorer = Scorer(loaded, first_token)
    if scorer.device.type != "cpu":
        scorer.warm_up()
    return scorer


def planned_device_type(device: str = "auto", precision: str = "auto") -> str:
    """Where a model would run (``cpu``, ``cuda``, ``mps``), without loading it. ``run_work``
    reads it from a scorer factory's ``device_type`` to start decoding while the model loads."""
    from blipdesk.core.device import resolve_placement

    return resolve_placement(device, precision).device.type


def lazy_scorer(
    spec: ModelSpec,
    device: str = "auto",
    precision: str = "auto",
    first_token: FirstToken = "cls",
    loader: Callable[..., LoadedModel] = load_model,
) -> Callable[[], Scorer]:
    """A scorer factory that loads the model on first call and returns the same scorer after."""
    made: list[Scorer] = []
    lock = threading.Lock()

    def get() -> Scorer:
        with lock:
            if not made:
                made.append(load_scorer(spec, device, precision, first_token, loader))
            return made[0]

    def device_type() -> str:
        return str(made[0].device.type) if made else planned_device_type(device, precision)

    get.device_type = device_type  # type: ignore[attr-defined]
    return get


# ----------------------------------------------------------------------------------- files


def content_hash(path: str | os.PathLike[str], size: int | None = None) -> str:
    """A cheap content key: sha256 of the size, the first and the last 64 KiB.

    Reads at most 128 KiB, so hashing a library is dominated by directory walking; a rename or
    move keeps the key and an edit changes it (an edit that keeps size, head and tail, e.g. a
    same-size pixel change in the middle of an uncompressed TIFF, goes unseen; the mtime check
    makes the engine re-hash, not re-score). A RAW file's key also holds the RAW decoding rule
    (``raw.RAW_DECODE_RULE``): its features come from LibRaw's preview, and must never be taken
    for (or from) the same bytes decoded another way."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # swapped for a FIFO or device since it was listed
            raise OSError(errno.EINVAL, "not a regular file (a pipe, socket or device)", path)
        if size is None:
            size = st.st_size
        digest = hashlib.sha256(str(size).encode() + b"\0")
        if is_raw(path):  # decoded by another rule (core/raw.py): its own key, never mixed
            digest.update(RAW_DECODE_RULE.encode() + b"\0")
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
        return PhotoRecord(path, st.st_size, st.st_mtime_ns, content_hash(path, st.st_size))
    except OSError as exc:
        reason = f"cannot read file ({exc.strerror or exc})"
        return PhotoRecord(path, st.st_size, st.st_mtime_ns, None, reason)


def refresh_photos(
    library: Library,
    folders: Sequence[str | os.PathLike[str]],
    recursive: bool = True,
    unreadable: list[PhotoFailure] | None = None,
) -> list[PhotoRecord]:
    """Walk ``folders`` and bring the cache's file table up to date: re-hash only files whose size
    or mtime changed, forget files that are gone. Returns the current records (sorted by path).

    A folder that cannot be listed is added to ``unreadable``, and the photos the cache knows
    under it are kept (records and scores): unreadable is not gone."""
    roots = _roots(folders)
    known = {p.path: p for p in library.photos_under(roots, recursive)}
    current: list[PhotoRecord] = []
    changed: list[PhotoRecord] = []
    blocked: list[PhotoFailure] = []
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
            and (old.size, old.mtime_ns) == (st.st_size, st.st_mtime_ns)
        ):
            current.append(old)
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


def plan(
    library: Library, photos: Sequence[PhotoRecord], sentences: Sequence[str], key: ModelKey
) -> list[WorkItem]:
    """What the model still has to do: one item per distinct content, in path order."""
    by_content: dict[str, list[PhotoRecord]] = {}
    for p in photos:
        if p.content is not None:
            by_content.setdefault(p.content, []).append(p)
    missing = library.missing_work(key.score_key, list(by_content), sentences)
    return [
        WorkItem(
            content,
            tuple(r.path for r in records),
            *missing[content],
            (records[0].size, records[0].mtime_ns),
        )
        for content, records in by_content.items()
        if content in missing
    ]


# ----------------------------------------------------------------------------------- decoding


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _decode_worker_init(parent: int, nice: int = 0) -> None:
    """Runs first in every decode process: Ctrl-C is the parent's to handle, and the worker dies
    with its parent, however the parent ends (kill -9 included), so no decoder (and no
    multiprocessing resource tracker, which lives while a worker holds its pipe) outlives it.
    Linux: the kernel sends SIGKILL when the parent dies (prctl PR_SET_PDEATHSIG). Everywhere
    (macOS has no such call): a watchdog thread exits when the parent PID changes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if nice and hasattr(os, "nice"):  # a background scan leaves the cores to the person
        try:
            os.nice(nice)
        except OSError as exc:
            log.debug("cannot lower the decode process's priority: %s", exc)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError) as exc:  # no prctl: the watchdog still works
            log.debug("prctl(PR_SET_PDEATHSIG) unavailable: %s", exc)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()


def _exit_when_orphaned(parent: int, every: float = 0.5) -> None:
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(1)


@dataclass(frozen=True)
class Decoded:
    """A decode worker's answer: the photo as uint8 (384, 384, 3), or why it failed. A
    ``transient`` failure is the file's or the moment's, not its content's (moved, deleted or
    rewritten during the scan; not enough memory to decode it then): it is recorded against the
    path and retried by the next scan, never cached against
    the content hash (which would mark good bytes as unreadable for every copy of them)."""

    image: np.ndarray | None
    reason: str | None = None
    transient: bool = False


def decode_for_model(path: str, stamp: tuple[int, int] | None = None) -> Decoded:
    """Runs in a decode worker. ``stamp``: the (size, mtime_ns) the file had when it was hashed;
    if it differs now, the pixels may not belong to the content hash, so they are not used."""
    try:
        image, reason, transient = load_for_model(path), None, False
    except PhotoError as exc:
        image, reason, transient = None, exc.reason, exc.transient
    if stamp is not None:
        try:
            st = os.stat(path)
        except OSError:
            return Decoded(None, "moved or deleted during the scan; scan again", True)
        if (st.st_size, st.st_mtime_ns) != stamp:
            return Decoded(None, "changed during the scan; scan again", True)
    return Decoded(image, reason, transient)


def auto_batch_size(device_type: str) -> int:
    """Photos per batch. A GPU needs 64 photos in flight to reach its vision throughput (1,056
    photos/s at batch 64 vs 534 eager at any size on an H200, benchmarks/results); on the CPU a few
    photos already fill the matrix units and small batches keep progress and cancel responsive."""
    return {"cuda": 64, "mps": 16}.get(device_type, 8)


def auto_decode_workers(device_type: str) -> int:
    """Decode processes. With a GPU doing the model, decoding is the bottleneck (a 12-MP JPEG
    takes ~40 ms even with draft decoding): use every core but one. On the CPU the model needs
    the cores, so decoding gets at most a quarter of them (at least one)."""
    cpus = os.cpu_count() or 2
    if device_type in ("cuda", "mps"):
        return max(1, cpus - 1)
    return max(1, min(4, cpus // 4))


def _decode_pool(options: ScanOptions, device_type: str = "cpu") -> cf.Executor:
    workers = options.decode_workers or auto_decode_workers(device_type)
    if options.use_processes:
        try:
            return cf.ProcessPoolExecutor(
                workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_decode_worker_init,
                initargs=(os.getpid(), 10 if options.low_priority else 0),
            )
        except (OSError, NotImplementedError, ImportError, PermissionError) as exc:
            log.warning("decode processes unavailable (%s); decoding in threads", exc)
    return cf.ThreadPoolExecutor(workers, thread_name_prefix="decode")


def _decoded(future: cf.Future[Decoded], item: WorkItem) -> Decoded:
    try:
        return future.result()
    except BrokenProcessPool:
        if is_raw(item.paths[0]):
            # LibRaw is C: a RAW file that kills a worker would kill this process too.
            log.warning("a decode worker died; %s is left to the next scan", item.paths[0])
            return Decoded(None, "a decode worker died reading it; tried again next scan", True)
        log.warning("a decode worker died; decoding %s in this thread", item.paths[0])
        return decode_for_model(item.paths[0], item.stamp)


# ----------------------------------------------------------------------------------- scoring


def score_pixels(scorer: Scorer, images: np.ndarray, sentences: Sentences) -> Scored:
    """The unit of work, a pure function (photos, sentences, model) -> (image features, scores)."""
    features = scorer.encode_images(scorer.pixels(images))
    return features, scorer.score_features(features, sentences)


def score_cached(
    scorer: Scorer, embeds: np.ndarray, itc: np.ndarray | None, sentences: Sentences
) -> Scored:
    """``score_pixels`` for photos whose vision output is cached: no decoding, no vision pass.
    ``itc``: the photos' cached ITC features, or None to derive them from ``embeds``."""
    from blipdesk.core.scorer import ImageFeatures

    features = scorer.image_features_from(embeds)
    if itc is not None:
        import torch

        features = ImageFeatures(
            features.embeds, torch.from_numpy(itc).to(scorer.device, torch.float32)
        )
    return features, scorer.score_features(features, sentences)


def score_decoded(runner: _Runner, sentences: tuple[str, ...], images: np.ndarray) -> Scored:
    """The per-batch scoring function of every scan (the desktop's, a shard's, a Ray actor's):
    photos decoded by ``decode_for_model`` (uint8, (P, 384, 384, 3)) against ``sentences`` (a
    subset of the runner's), one vision pass each, in chunks that fit in memory, NaN refused."""

    def pixels_call(scorer: Scorer, a: int, b: int) -> Scored:
        return score_pixels(scorer, images[a:b], runner.subset(sentences))

    return runner.run(len(images), pixels_call)


def score_rows(contents: Sequence[str], sentences: Sequence[str], scores: Scores) -> list[ScoreRow]:
    """One ``ScoreRow`` per (photo, sentence) of a scored batch, as the cache stores them."""
    rows = []
    for i, content in enumerate(contents):
        for j, sentence in enumerate(sentences):
            logits = scores.itm_logits[i, j]
            rows.append(
                ScoreRow(
                    content,
                    sentence,
                    float(scores.itm[i, j]),
                    float(logits[0]),
                    float(logits[1]),
                    float(scores.cosine[i, j]),
                )
            )
    return rows


def new_runner(scorer: Scorer, sentences: Sequence[str]) -> _Runner:
    """A runner for ``score_decoded`` outside ``run_work`` (a Ray actor): the sentences encoded
    once, the same out-of-memory policy; its ``notices`` say what the person should know."""
    return _Runner(scorer, tuple(dict.fromkeys(sentences)), _Done())


def _frozen(scores: Scores) -> Scores:
    for array in (scores.itm, scores.cosine, scores.itm_logits):
        array.flags.writeable = False
    return scores


class _Rate:
    def __init__(self, total: int) -> None:
        self.total, self.done, self.errors, self.from_cache = total, 0, 0, 0
        self.start = time.monotonic()

    def progress(self) -> ScanProgress:
        elapsed = time.monotonic() - self.start
        rate = self.done / elapsed if elapsed > 0 and self.done else 0.0
        eta = (self.total - self.done) / rate if rate else None
        return ScanProgress(self.done, self.total, self.errors, rate, eta, self.from_cache)


def scan(
    library: Library,
    folders: Sequence[str | os.PathLike[str]],
    sentences: Sequence[str],
    key: ModelKey,
    scorer: Callable[[], Scorer],
    options: ScanOptions = ScanOptions(),
    on_progress: Callable[[ScanProgress], None] | None = None,
    on_batch: Callable[[ScanBatch], None] | None = None,
    cancel: threading.Event | None = None,
    pause: threading.Event | None = None,
) -> ScanSummary:
    """Score every photo under ``folders`` against ``sentences``, skipping what the cache holds.

    Also stores each photo's ITC image feature (for free-text search) even with no sentences.
    ``library`` must be the writer, used only from this thread. See the module docstring."""
    started = time.monotonic()
    folders_failed: list[PhotoFailure] = []
    found = refresh_photos(library, folders, options.recursive, folders_failed)
    if options.shard is not None:
        found = [p for p in found if in_shard(p.content or p.path, *options.shard)]
    paired = paired_raws(p.path for p in found) if options.group_pairs else set()
    photos = [p for p in found if p.path not in paired]
    failures = [PhotoFailure(p.path, p.read_error) for p in photos if p.read_error]
    known_bad = library.decode_errors(key.score_key, [p.content for p in photos if p.content])
    failures += [
        PhotoFailure(p.path, known_bad[p.content]) for p in photos if p.content in known_bad
    ]
    work = plan(library, photos, tuple(dict.fromkeys(sentences)), key)
    store = feature_store(library, key, options)
    if store is not None:  # a budget lowered since the last scan applies now, work or not
        store.enforce_budget()
    done = run_work(
        library, work, key, scorer, options, on_progress, on_batch, cancel, pause, store,
        errors_before=len(failures),
    )  # fmt: skip
    in_work = {w.content for w in work}
    bad = {f.path for f in failures}
    return ScanSummary(
        photos=len(found),
        paired=len(paired),
        scored=done.scored,
        failures=(*failures, *done.failures),
        cancelled=done.cancelled,
        model_loaded=done.model_loaded,
        seconds=time.monotonic() - started,
        notices=tuple(done.notices),
        unreadable_folders=tuple(folders_failed),
        from_cache=done.from_cache,
        cached=sum(1 for p in photos if p.path not in bad and p.content not in in_work),
        copies=done.copies,
    )


@dataclass
class _Done:
    scored: int = 0
    copies: int = 0  # more paths of the scored contents
    from_cache: int = 0
    failures: list[PhotoFailure] = field(default_factory=list)
    cancelled: bool = False
    model_loaded: bool = False
    notices: list[str] = field(default_factory=list)


def run_work(
    library: Library,
    work: Sequence[WorkItem],
    key: ModelKey,
    scorer_factory: Callable[[], Scorer],
    options: ScanOptions = ScanOptions(),
    on_progress: Callable[[ScanProgress], None] | None = None,
    on_batch: Callable[[ScanBatch], None] | None = None,
    cancel: threading.Event | None = None,
    pause: threading.Event | None = None,
    store: FeatureStore | None = None,
    errors_before: int = 0,
) -> _Done:
    """Run planned work items through the model in batches (the second half of ``scan``).

    ``store``: the vision cache (``feature_store(library, key, options)``, made once by the
    caller), or None for none. ``errors_before``: photos already known to be unreadable, counted
    in every progress report's ``errors`` (so the last one equals the scan's failures).

    Photos whose vision output is in the vision cache ("warm") go first, best first: in
    decreasing ITC cosine to their new sentences, known at once from the cached ITC vectors, so
    likely matches arrive first. They cost only the text side (no decoding, no vision pass).
    The others ("cold") are decoded ahead in worker processes, from before the model loads."""
    done = _Done()
    cancel = cancel or threading.Event()
    if not work or cancel.is_set():
        done.cancelled = cancel.is_set()
        return done
    library.ensure_model(key.score_key, key.source, key.revision)
    in_store = store.cached(w.content for w in work) if store is not None else set()
    warm = [w for w in work if w.content in in_store]
    cold = [] if options.cached_only else [w for w in work if w.content not in in_store]
    if not warm and not cold:
        return done
    pool: cf.Executor | None = None
    batch_size = 1
    pending: deque[tuple[WorkItem, cf.Future[Decoded] | None]] = deque()
    queue = iter(cold)
    device_type = "cpu"

    def top_up() -> None:
        while len(pending) < 3 * batch_size:
            item = next(queue, None)
            if item is None:
                return
            pending.append((item, decode(item)))

    def decode(item: WorkItem) -> cf.Future[Decoded]:
        nonlocal pool
        if pool is None:
            pool = _decode_pool(options, device_type)
        return pool.submit(decode_for_model, item.paths[0], item.stamp)

    def start_decoding(kind: str) -> None:
        nonlocal batch_size, device_type
        device_type = kind
        batch_size = options.batch_size if options.batch_size > 0 else auto_batch_size(kind)
        top_up()

    try:
        # Decoding starts before the model loads when the factory can tell the device without
        # loading (``lazy_scorer`` can): decoder start-up and the first decodes overlap the load.
        planned = getattr(scorer_factory, "device_type", None)
        if callable(planned) and cold:
            start_decoding(planned())
        scorer = scorer_factory()
        done.model_loaded = True
        if scorer.score_key != key.score_key:
            raise RuntimeError(
                f"scorer is keyed {scorer.score_key!r}, scan expected {key.score_key!r}"
            )
        all_sentences = tuple(dict.fromkeys(s for w in work for s in w.sentences))
        runner = _Runner(scorer, all_sentences, done)
        start_decoding(getattr(getattr(scorer, "device", None), "type", "cpu"))
        rate = _Rate(len(warm) + len(cold))
        # The text side is cheap: warm photos go in larger batches (fewer, fuller model calls).
        warm_queue = deque(best_first(library, key, warm, runner))
        warm_batch = max(batch_size, min(4 * batch_size, 64))

        def step(batch: list[tuple[WorkItem, cf.Future[Decoded] | None]]) -> None:
            retry = _score_batch(library, batch, key, runner, store, on_batch, done)
            for item in retry:  # the vision file was missing or damaged: decode after all
                pending.append((item, decode(item)))
            rate.done += len(batch) - len(retry)
            warm_done = sum(1 for _, f in batch if f is None) - len(retry)
            rate.from_cache += warm_done
            done.from_cache += warm_done
            rate.errors = errors_before + len(done.failures)
            if on_progress is not None:
                on_progress(rate.progress())

        while warm_queue or pending:
            while pause is not None and pause.is_set() and not cancel.is_set():
                cancel.wait(0.1)
            if cancel.is_set():
                done.cancelled = True
                break
            if warm_queue:
                n = min(warm_batch, len(warm_queue))
                step([(warm_queue.popleft(), None) for _ in range(n)])
            else:
                batch = [pending.popleft() for _ in range(min(batch_size, len(pending)))]
                top_up()
                step(batch)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return done


def feature_store(library: Library, key: ModelKey, options: ScanOptions) -> FeatureStore | None:
    """The vision cache for this model, or None when it is switched off (read-only on a
    read-only ``library``)."""
    if not options.feature_cache or options.features_dir is None:
        return None
    return FeatureStore(
        options.features_dir, key.image_key, library, options.feature_format, options.feature_budget
    )


def best_first(
    library: Library, key: ModelKey, items: Sequence[WorkItem], runner: _Runner
) -> list[WorkItem]:
    """Items in decreasing ITC cosine to their sentences (the best over a photo's sentences),
    from the cached ITC vectors: the likely matches are checked first. Items without a cached
    ITC vector go last, in their given order."""
    if len(items) < 2:
        return list(items)
    itc = library.image_features(key.score_key, [w.content for w in items])
    text = runner.text.itc.float().cpu().numpy()  # (S, D)
    known = [w for w in items if w.content in itc]
    if not known:
        return list(items)
    cosine = np.stack([itc[w.content] for w in known]) @ text.T  # (n, S)
    best = np.array(
        [max(cosine[i, runner.encoded[s]] for s in w.sentences) for i, w in enumerate(known)]
    )
    order = np.argsort(-best, kind="stable")
    return [known[i] for i in order] + [w for w in items if w.content not in itc]


def _is_out_of_memory(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, torch.cuda.OutOfMemoryError | MemoryError):
        return True
    # MPS and cuBLAS say "out of memory"; the CPU's DefaultCPUAllocator "can't allocate memory".
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate" in text)


class _Runner:
    """The scorer in use, its encoded sentences, and what to do when the GPU runs out of memory:
    halve the photos per model call (and keep the smaller size for the rest of the scan), and when
    even one photo does not fit, move the model to the CPU (fp32) and go on there, with a notice.

    Scores keep their key: it names the weights, first token and decoding rule, not the device."""

    def __init__(self, scorer: Scorer, sentences: tuple[str, ...], done: _Done) -> None:
        self.scorer = scorer
        self.sentences = sentences
        self.encoded = {s: i for i, s in enumerate(sentences)}
        self.text = scorer.encode_sentences(sentences)
        self.done = done
        for sentence, cut in zip(sentences, self.text.truncated, strict=True):
            if cut:
                done.notices.append(
                    f"the sentence {shorten(sentence)} is longer than the model reads "
                    f"({scorer.max_text_tokens} tokens); only its beginning is scored"
                )
        self.limit: int | None = None  # photos per model call after an out-of-memory error

    def subset(self, sentences: tuple[str, ...]) -> Sentences:
        return self.text.select([self.encoded[s] for s in sentences])

    def run(self, n: int, call: Callable[[Scorer, int, int], Scored]) -> Scored:
        """``call(scorer, start, stop)`` over photos [0, n) in chunks that fit in memory."""
        while True:
            try:
                return check_finite(self._chunked(n, call), self.scorer)
            except Exception as exc:
                if not _is_out_of_memory(exc):
                    raise
                self._free()
                size = self.limit or n
                if size > 1:
                    self.limit = size // 2
                    log.warning(
                        "out of memory with %d photos per call; retrying %d", size, size // 2
                    )
                elif self.scorer.device.type != "cpu":
                    self._to_cpu(exc)
                else:
                    raise UserError(
                        f"Not enough memory to run the model even on one photo ({exc}); close "
                        "other programs and scan again: finished batches are kept."
                    ) from None

    def _chunked(self, n: int, call: Callable[[Scorer, int, int], Scored]) -> Scored:
        step = self.limit or n
        parts = [call(self.scorer, start, min(n, start + step)) for start in range(0, n, step)]
        return parts[0] if len(parts) == 1 else _merge(parts)

    def _free(self) -> None:
        import gc

        import torch

        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _to_cpu(self, exc: BaseException) -> None:
        import torch

        from blipdesk.core.device import Placement
        from blipdesk.core.model import LoadedModel
        from blipdesk.core.scorer import Scorer

        old = self.scorer
        loaded = old.loaded
        model = loaded.model.to("cpu").float()
        placement = Placement(torch.device("cpu"), torch.float32)
        self.scorer = Scorer(
            LoadedModel(model, loaded.tokenizer, loaded.image, placement, loaded.identity,
                        loaded.folder),
            old.first_token,
        )  # fmt: skip
        self.text = self.scorer.encode_sentences(self.sentences)
        self.limit = None
        self._free()
        notice = (
            f"{old.device} ran out of memory even for one photo at a time ({exc}); "
            "the rest of this scan runs on the CPU (slower). Close other programs using the GPU, "
            "or choose --device cpu."
        )
        log.warning(notice)
        self.done.notices.append(notice)


def check_finite(result: Scored, scorer: Scorer) -> Scored:
    """``result`` ((features, scores) of a model call) if every score is a number; a model with
    broken weights or image settings gives NaN, which must never reach the cache."""
    scores = result[1]
    if all(np.isfinite(a).all() for a in (scores.itm, scores.itm_logits, scores.cosine)):
        return result
    identity = getattr(getattr(scorer, "loaded", None), "identity", None)
    raise ModelError(
        f"The model {getattr(identity, 'source', '')} is broken: it produced NaN scores (its "
        "weights or image settings hold invalid numbers); nothing of this batch was stored."
    )


def shorten(text: str, width: int = 60) -> str:
    """A sentence quoted for a one-line message: repr, cut to ``width`` characters."""
    return (
        repr(text)
        if len(text) <= width
        else repr(text[: width - 1] + "…") + f" ({len(text)} characters)"
    )


def _merge(parts: list[Scored]) -> Scored:
    """Join per-chunk (features, scores) results along the photo axis."""
    import torch

    from blipdesk.core.scorer import ImageFeatures, Scores

    features = ImageFeatures(
        torch.cat([f.embeds for f, _ in parts]), torch.cat([f.itc for f, _ in parts])
    )
    scores = Scores(
        np.concatenate([s.itm_logits for _, s in parts]),
        np.concatenate([s.itm for _, s in parts]),
        np.concatenate([s.cosine for _, s in parts]),
    )
    return features, scores


def _score_batch(
    library: Library,
    batch: list[tuple[WorkItem, cf.Future[Decoded] | None]],
    key: ModelKey,
    runner: _Runner,
    store: FeatureStore | None,
    on_batch: Callable[[ScanBatch], None] | None,
    done: _Done,
) -> list[WorkItem]:
    """Decode results (or cached vision outputs) in, scores out, one transaction, then hand the
    batch on. Returns the items whose cached vision output could not be read: decode them."""
    failures: list[PhotoFailure] = []
    errors: dict[str, str] = {}
    moved: list[PhotoRecord] = []  # transient failures: recorded against the path, retried
    ready: list[tuple[WorkItem, np.ndarray | None]] = []  # image, or None when cached on disk
    warm = [item for item, future in batch if future is None]
    vision = store.load_many(w.content for w in warm) if store is not None and warm else {}
    retry = [w for w in warm if w.content not in vision]
    ready.extend((w, None) for w in warm if w.content in vision)
    for item, future in batch:
        if future is None:
            continue
        got = _decoded(future, item)
        reason = got.reason or "unknown error"
        if got.transient:
            size, mtime = item.stamp or (0, 0)
            moved.append(PhotoRecord(item.paths[0], size, mtime, None, reason))
            failures.append(PhotoFailure(item.paths[0], reason))
            if len(item.paths) > 1:  # its copies still hold the content: next scan does them
                failures.extend(
                    PhotoFailure(p, "not scanned (a copy changed)") for p in item.paths[1:]
                )
        elif got.image is None:
            errors[item.content] = reason
            failures.extend(PhotoFailure(p, reason) for p in item.paths)
        else:
            ready.append((item, got.image))
    if moved:
        library.record_photos(moved)
    groups: dict[tuple[tuple[str, ...], bool], list[tuple[WorkItem, np.ndarray | None]]] = {}
    for item, image in ready:
        groups.setdefault((item.sentences, image is None), []).append((item, image))
    rows: list[ScoreRow] = []
    itc_rows: dict[str, np.ndarray] = {}
    to_store: dict[str, np.ndarray] = {}
    results: list[ScanBatch] = []
    for (sentences, cached), members in groups.items():
        contents = [m.content for m, _ in members]
        if cached:
            known = library.image_features(key.score_key, contents)
            embeds = np.stack([vision[c] for c in contents])
            itcs = np.stack([known[c] for c in contents]) if len(known) == len(contents) else None

            def cached_call(
                scorer: Scorer,
                a: int,
                b: int,
                s: tuple[str, ...] = sentences,
                e: np.ndarray = embeds,
                i: np.ndarray | None = itcs,
            ) -> Scored:
                return score_cached(scorer, e[a:b], None if i is None else i[a:b], runner.subset(s))

            features, scores = runner.run(len(contents), cached_call)
            if itcs is None:  # scores were cleared: the ITC vectors come back from the cache
                itc_rows.update(zip(contents, features.itc.float().cpu().numpy(), strict=True))
        else:
            images = np.stack([im for _, im in members if im is not None])
            features, scores = score_decoded(runner, sentences, images)
            itc_np = features.itc.float().cpu().numpy()
            itc_rows.update(zip(contents, itc_np, strict=True))
            if store is not None:
                to_store.update(zip(contents, features.embeds.float().cpu().numpy(), strict=True))
        rows.extend(score_rows(contents, sentences, scores))
        paths = tuple(m.paths for m, _ in members)
        results.append(ScanBatch(tuple(contents), paths, sentences, _frozen(scores)))
    # Vision files first, then the scores that say the photo is done: a crash between the two
    # leaves a file the next scan rewrites, never a photo marked done without its vision output.
    if store is not None and to_store:
        store.save_many(to_store)
    library.write_batch(key.score_key, rows, itc_rows, errors)
    done.scored += len(ready)
    done.copies += sum(len(item.paths) - 1 for item, _ in ready)
    done.failures.extend(failures)
    if on_batch is not None:
        if failures:
            results.append(ScanBatch((), (), (), None, tuple(failures)))
        for result in results:
            on_batch(result)
    return retry


# ----------------------------------------------------------------------------------- search


@dataclass(frozen=True)
class SearchUpdate:
    """Where a search stands: the cosine ranking at once, then refined by ITM step by step."""

    sentence: str
    hits: tuple[SearchHit, ...]  # the ITM-checked candidates (best ITM first), then by cosine
    refined: int  # candidates checked by ITM so far
    candidates: int  # candidates that will be checked
    ranked: int  # scanned photos ranked by cosine
    unscanned: int  # photos under the folders not scanned yet: not in the ranking
    done: bool


def iter_search(
    library: Library,
    folders: Sequence[str | os.PathLike[str]],
    sentence: str,
    key: ModelKey,
    scorer: Callable[[], Scorer],
    top: int = 10,
    candidates: int | None = None,
    options: ScanOptions = ScanOptions(),
    cancel: threading.Event | None = None,
    step: int = 16,
) -> Iterator[SearchUpdate]:
    """BLIP's retrieval recipe over what is scanned, best first, never scanning.

    The first update ranks every scanned photo under ``folders`` by ITC cosine (cached image
    vectors: only the sentence goes through the text encoder). Each later update has checked
    ``step`` more of the best ``candidates`` by ITM, from the vision cache (no decoding, no
    vision pass; a candidate whose vision output is not cached is decoded once and cached), and
    re-orders them. ITM scores are stored, so asking again is free. Photos not scanned yet are
    counted (``unscanned``), never scanned here."""
    cancel = cancel or threading.Event()
    the_scorer = scorer()
    roots = _roots(folders)
    # Only files as they were scanned: one changed or deleted since would answer for bytes it
    # no longer holds (a stat each: ~20 ms for 10,000 files, no hashing, no decoding).
    records = [p for p in library.photos_under(roots, options.recursive) if _unchanged(p)]
    ranked = cosine_ranking(library, records, sentence, key, the_scorer)
    # Not scanned: on disk, but neither ranked nor known to be unreadable.
    bad = library.decode_errors(key.score_key, [p.content for p in records if p.content])
    seen = {p.path for p, _ in ranked}
    seen.update(p.path for p in records if p.read_error or p.content in bad)
    unscanned = sum(1 for p in find_photos(roots, options.recursive) if p not in seen)
    k = min(len(ranked), candidates or max(top, 32))
    best = [photo for photo, _ in ranked[:k]]
    itm: dict[str, float] = {}

    def update(done: bool) -> SearchUpdate:
        checked = sorted(
            (SearchHit(p.path, c, itm[str(p.content)]) for p, c in ranked[:k] if p.content in itm),
            key=lambda h: -(h.itm or 0.0),
        )
        rest = (SearchHit(p.path, c, None) for p, c in ranked if p.content not in itm)
        hits = tuple(itertools.islice(itertools.chain(checked, rest), top))
        return SearchUpdate(sentence, hits, len(checked), k, len(ranked), unscanned, done)

    def collect(contents: Sequence[str]) -> None:
        scores = library.sentence_scores(key.score_key, list(contents), (sentence,))
        itm.update((c, got[sentence].itm) for c, got in scores.items() if sentence in got)

    collect([str(p.content) for p in best])  # asked before: known at once
    work = plan(library, best, (sentence,), key)  # the rest, in cosine order
    yield update(not work)
    # Decoding, when a candidate's vision output is not cached, in threads: a process pool's
    # start-up would cost more than a step.
    threads = replace(options, use_processes=False)
    store = feature_store(library, key, options)  # one for every step
    for start in range(0, len(work), step):
        if cancel.is_set():
            return
        chunk = work[start : start + step]
        if library.readonly:  # a read-only data folder: from the vision cache, kept in memory
            itm.update(_match_in_memory(library, key, store, the_scorer, sentence, chunk))
        else:
            run_work(library, chunk, key, lambda: the_scorer, threads, cancel=cancel, store=store)
            collect([w.content for w in chunk])
        yield update(start + step >= len(work))


def _unchanged(record: PhotoRecord) -> bool:
    try:
        st = os.stat(record.path)
    except OSError:
        return False
    return (st.st_size, st.st_mtime_ns) == (record.size, record.mtime_ns)


def _match_in_memory(
    library: Library,
    key: ModelKey,
    store: FeatureStore | None,
    scorer: Scorer,
    sentence: str,
    items: Sequence[WorkItem],
) -> dict[str, float]:
    """ITM of ``sentence`` for the items whose vision output is cached, written nowhere (the
    cache cannot be written). Items without one stay ranked by cosine alone."""
    vision = store.load_many(w.content for w in items) if store is not None else {}
    itc = library.image_features(key.score_key, list(vision))
    contents = [c for c in vision if c in itc]
    if not contents:
        return {}
    _, scores = score_cached(
        scorer,
        np.stack([vision[c] for c in contents]),
        np.stack([itc[c] for c in contents]),
        scorer.encode_sentences([sentence]),
    )
    return {c: float(scores.itm[i, 0]) for i, c in enumerate(contents)}


def search(
    library: Library,
    folders: Sequence[str | os.PathLike[str]],
    sentence: str,
    key: ModelKey,
    scorer: Callable[[], Scorer],
    top: int = 10,
    candidates: int | None = None,
    options: ScanOptions = ScanOptions(),
    on_update: Callable[[SearchUpdate], None] | None = None,
    cancel: threading.Event | None = None,
) -> SearchUpdate:
    """``iter_search`` run to its end (or until ``cancel``); returns the last update."""
    last = None
    for last in iter_search(
        library, folders, sentence, key, scorer, top, candidates, options, cancel
    ):
        if on_update is not None:
            on_update(last)
    assert last is not None  # iter_search always yields its ranking first
    return last


def cosine_ranking(
    library: Library,
    records: Sequence[PhotoRecord],
    sentence: str,
    key: ModelKey,
    scorer: Scorer,
) -> list[tuple[PhotoRecord, float]]:
    """``records`` with cached image features, best ITC cosine first. Instant: only the sentence
    goes through the (text) encoder; photos without features are left out."""
    itc = library.image_features(key.score_key, [p.content for p in records if p.content])
    photos = [p for p in records if p.content in itc]
    if not photos:
        return []
    text = scorer.encode_sentences([sentence])
    cosine = np.stack([itc[str(p.content)] for p in photos]) @ text.itc.float().cpu().numpy()[0]
    order = np.argsort(-cosine, kind="stable")
    return [(photos[i], float(cosine[i])) for i in order]


def _roots(folders: Sequence[str | os.PathLike[str]]) -> list[str]:
    return [absolute(f) for f in folders]
