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
* Decoding runs ahead in worker processes (``decoding.py``: torch-free, they import only
  imaging), falling back to threads where processes cannot be started.
* The vision pass runs once per photo, ever: its output goes to the vision cache
  (``feature_cache.py``, on when ``options.features_dir`` is set). A later sentence (a new tag, a
  search) on that photo costs only the text side, and such photos go first, best first (in
  decreasing ITC cosine to the new sentences).

Beside it: ``inventory.py`` (content keys, the file table's refresh, path -> content),
``decoding.py`` (the decode workers), ``runner.py`` (the model calls and the out-of-memory
policy) and ``search.py`` (free-text search over what is scanned, built on ``run_work``).

This module imports neither torch nor the scorer at import time, so decode workers stay light.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from blipdesk.core import decoding
from blipdesk.core.feature_cache import DEFAULT_BUDGET, DEFAULT_FORMAT, FeatureStore, stack_rows
from blipdesk.core.files import PhotoFailure, pair_faces
from blipdesk.core.imaging import DECODE_RULE_VERSION
from blipdesk.core.inventory import in_shard, refresh_photos
from blipdesk.core.model import ModelSpec, load_model, resolve_folder, score_key
from blipdesk.core.pixel_hash import pixel_hash
from blipdesk.core.runner import Runner, Scored, score_cached, score_decoded, score_rows
from blipdesk.domain import PhotoRecord, ScoreRow
from blipdesk.store import Library

if TYPE_CHECKING:
    from blipdesk.core.model import LoadedModel
    from blipdesk.core.scorer import FirstToken, Scorer, Scores

log = logging.getLogger(__name__)

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


def auto_batch_size(device_type: str) -> int:
    """Photos per batch. A GPU needs 64 photos in flight to reach its vision throughput (1,056
    photos/s at batch 64 vs 534 eager at any size on an H200, benchmarks/results); on the CPU a few
    photos already fill the matrix units and small batches keep progress and cancel responsive."""
    return {"cuda": 64, "mps": 16}.get(device_type, 8)


def _decode_pool(options: ScanOptions, device_type: str = "cpu") -> cf.Executor:
    """The scan's decode workers, as ``options`` asks (processes niced for a background scan)."""
    workers = options.decode_workers or decoding.auto_decode_workers(device_type)
    nice = 10 if options.low_priority else 0
    return decoding.decode_pool(workers, options.use_processes, nice)


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
    listed: Sequence[str] | None = None,
) -> ScanSummary:
    """Score every photo under ``folders`` against ``sentences``, skipping what the cache holds.

    Also stores each photo's ITC image feature (for free-text search) even with no sentences.
    ``library`` must be the writer, used only from this thread. See the module docstring.
    ``listed``: the photo files under ``folders`` as the caller listed them a moment ago (the
    window's grid): not walked again (``refresh_photos``'s ``listed``)."""
    started = time.monotonic()
    folders_failed: list[PhotoFailure] = []
    found = refresh_photos(library, folders, options.recursive, folders_failed, listed)
    if options.shard is not None:
        found = [p for p in found if in_shard(p.content or p.path, *options.shard)]
    faces = pair_faces(p.path for p in found) if options.group_pairs else {}
    paired = {raw for raws in faces.values() for raw in raws}
    by_path = {p.path: p for p in found}
    photos = [p for p in found if p.path not in paired]
    failures = _known_failures(library, key, photos)
    # A pair whose picture cannot be read (no content, or a decode error under this key) is
    # scored by its RAW: the pair stays one photo, and the picture's reason stays a failure.
    back = sorted({raw for f in failures for raw in faces.get(f.path, ())})
    photos += [by_path[raw] for raw in back]
    failures += _known_failures(library, key, [by_path[raw] for raw in back])
    paired.difference_update(back)
    work = plan(library, photos, tuple(dict.fromkeys(sentences)), key)
    store = feature_store(library, key, options)
    if store is not None:  # a budget lowered since the last scan applies now, work or not
        store.enforce_budget()
    done = run_work(
        library, work, key, scorer, options, on_progress, on_batch, cancel, pause, store,
        errors_before=len(failures),
    )  # fmt: skip
    # Pictures found unreadable by this scan: their RAWs now, not at the next scan.
    faces_in_work = {w.content: w.paths for w in work if any(p in faces for p in w.paths)}
    failed_now = library.decode_errors(key.score_key, list(faces_in_work))
    late = sorted(
        raw
        for content in failed_now
        for face in faces_in_work[content]
        for raw in faces.get(face, ())
        if raw not in back
    )
    if late and not done.cancelled:
        late_photos = [by_path[raw] for raw in late]
        more = plan(library, late_photos, tuple(dict.fromkeys(sentences)), key)
        again = run_work(
            library, more, key, scorer, options, on_progress, on_batch, cancel, pause, store,
            errors_before=len(failures) + len(done.failures),
        )  # fmt: skip
        _add_done(done, again)
        photos += late_photos
        failures += _known_failures(library, key, [p for p in late_photos if p.read_error])
        paired.difference_update(late)
        work = [*work, *more]
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


def _known_failures(
    library: Library, key: ModelKey, photos: Sequence[PhotoRecord]
) -> list[PhotoFailure]:
    """The photos already known to be unreadable: their file, or their content under this key."""
    failures = [PhotoFailure(p.path, p.read_error) for p in photos if p.read_error]
    known_bad = library.decode_errors(key.score_key, [p.content for p in photos if p.content])
    return failures + [
        PhotoFailure(p.path, known_bad[p.content]) for p in photos if p.content in known_bad
    ]


def _add_done(done: _Done, more: _Done) -> None:
    done.scored += more.scored
    done.copies += more.copies
    done.from_cache += more.from_cache
    done.failures.extend(more.failures)
    done.cancelled = done.cancelled or more.cancelled
    done.model_loaded = done.model_loaded or more.model_loaded
    done.notices.extend(more.notices)


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
    runner: Runner | None = None,
    itc: Mapping[str, np.ndarray] | None = None,
) -> _Done:
    """Run planned work items through the model in batches (the second half of ``scan``).

    ``store``: the vision cache (``feature_store(library, key, options)``, made once by the
    caller), or None for none. ``errors_before``: photos already known to be unreadable, counted
    in every progress report's ``errors`` (so the last one equals the scan's failures).
    ``runner``: the scorer with the work's sentences already encoded (a search's steps share one:
    the sentence is encoded once); ``itc``: the items' ITC vectors already read (content ->
    vector), not read again.

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
    pending: deque[tuple[WorkItem, cf.Future[decoding.Decoded] | None]] = deque()
    queue = iter(cold)
    device_type = "cpu"

    def top_up() -> None:
        while len(pending) < 3 * batch_size:
            item = next(queue, None)
            if item is None:
                return
            pending.append((item, decode(item)))

    def decode(item: WorkItem) -> cf.Future[decoding.Decoded]:
        nonlocal pool
        if pool is None:
            pool = _decode_pool(options, device_type)
        return pool.submit(decoding.decode_for_model, item.paths[0], item.stamp)

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
        if runner is None or runner.scorer is not scorer:
            runner = Runner(scorer, all_sentences, done.notices)
        elif not set(all_sentences) <= set(runner.encoded):
            raise ValueError("the runner given does not hold every sentence of the work")
        start_decoding(getattr(getattr(scorer, "device", None), "type", "cpu"))
        rate = _Rate(len(warm) + len(cold))
        # The text side is cheap: warm photos go in larger batches (fewer, fuller model calls).
        warm_queue = deque(best_first(library, key, warm, runner, itc))
        warm_batch = max(batch_size, min(4 * batch_size, 64))
        if store is not None:  # the next warm batch's vision files are read while one scores
            store.read_ahead([w.content for w in warm_queue], warm_batch)

        def step(batch: list[tuple[WorkItem, cf.Future[decoding.Decoded] | None]]) -> None:
            retry = _score_batch(library, batch, key, runner, store, on_batch, done, itc)
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
    library: Library,
    key: ModelKey,
    items: Sequence[WorkItem],
    runner: Runner,
    itc: Mapping[str, np.ndarray] | None = None,
) -> list[WorkItem]:
    """Items in decreasing ITC cosine to their sentences (the best over a photo's sentences),
    from the cached ITC vectors: the likely matches are checked first. Items without a cached
    ITC vector go last, in their given order."""
    if len(items) < 2:
        return list(items)
    itc = itc_vectors(library, key, [w.content for w in items], itc)
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


def _score_batch(
    library: Library,
    batch: list[tuple[WorkItem, cf.Future[decoding.Decoded] | None]],
    key: ModelKey,
    runner: Runner,
    store: FeatureStore | None,
    on_batch: Callable[[ScanBatch], None] | None,
    done: _Done,
    itc: Mapping[str, np.ndarray] | None = None,
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
        got = decoding.result_of(future, item.paths[0], item.stamp)
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
            known = itc_vectors(library, key, contents, itc)
            embeds = stack_rows([vision[c] for c in contents])
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
        rows.extend(score_rows(contents, sentences, scores, runner.scorer.precision, cached))
        paths = tuple(m.paths for m, _ in members)
        results.append(ScanBatch(tuple(contents), paths, sentences, _frozen(scores)))
    # Vision files first, then the scores that say the photo is done: a crash between the two
    # leaves a file the next scan rewrites, never a photo marked done without its vision output.
    if store is not None and to_store:
        store.save_many(to_store)
    # The pixels decoded for the model give the perceptual hash (near duplicates): no decode more.
    library.set_pixel_hashes({i.content: pixel_hash(im) for i, im in ready if im is not None})
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


def itc_vectors(
    library: Library,
    key: ModelKey,
    contents: Sequence[str],
    known: Mapping[str, np.ndarray] | None = None,
) -> Mapping[str, np.ndarray]:
    """content -> cached ITC vector for ``contents``: from ``known`` (vectors already read) where
    it has them, the rest from the cache (no query when ``known`` has them all)."""
    if known is None:
        return library.image_features(key.score_key, list(contents))
    out = {c: known[c] for c in contents if c in known}
    rest = [c for c in contents if c not in out]
    if rest:
        out.update(library.image_features(key.score_key, rest))
    return out
