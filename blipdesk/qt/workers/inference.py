"""The inference worker: one long-lived QThread that owns the model, and its GUI-side controller.

Jobs go in as frozen snapshots and results come back as immutable batches through signals; the
worker never touches a Qt model, view or widget. Cancel and pause are ``threading.Event`` flags
that the GUI thread sets directly (a queued slot would wait behind the running job), and every
signal carries its job's id so the controller drops a superseded job's late results.

Jobs wait in a thread-safe queue rather than as queued slot calls, so that a short interactive job
("Try on this photo", a search) submitted during a long scan runs between two of the scan's
batches instead of after the whole scan.
"""

from __future__ import annotations

import collections
import itertools
import logging
import threading
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from blipdesk.core.engine import ScanOptions
from blipdesk.infra.errors import ModelError, PhotoError, UserError
from blipdesk.qt.common.values import PRESS_SCAN, PhotoScores, SentenceScore
from blipdesk.services.options import ModelChoice, write_key
from blipdesk.store.write_lock import Waiting, WriteCancelled

__all__ = ["ModelChoice"]  # built by services.options.model_choice; jobs carry it

if TYPE_CHECKING:  # torch loads in this thread, when a job first needs the model
    from blipdesk.core.scorer import Scorer
    from blipdesk.store import Library

log = logging.getLogger(__name__)

_ids = itertools.count(1)


def next_job_id() -> int:
    return next(_ids)


@dataclass(frozen=True)
class Job:
    job_id: int
    model: ModelChoice
    cancel: threading.Event = field(default_factory=threading.Event, compare=False)
    pause: threading.Event = field(default_factory=threading.Event, compare=False)
    interactive = False


@dataclass(frozen=True)
class ScanJob(Job):
    """Score every photo under ``folders`` against ``sentences`` and write the cache."""

    folders: tuple[str, ...] = ()
    sentences: tuple[str, ...] = ()
    database: str = ""
    # services.options.scan_options: the settings', with the window's cached_only (a new tag:
    # check the photos whose vision output is cached), low_priority (started by the folder
    # watcher) and use_processes (tests decode in threads: faster start)
    options: ScanOptions = field(default_factory=ScanOptions)
    listed: tuple[str, ...] | None = None  # the photo files the window lists: not walked again


@dataclass(frozen=True)
class TryJob(Job):
    """Score one photo against typed sentences (the tag editor's "Try on this photo")."""

    path: str = ""
    sentences: tuple[str, ...] = ()
    database: str = ""  # set: the scores are kept in the cache, as a scan's would be
    interactive = True


@dataclass(frozen=True)
class SearchJob(Job):
    """Rank photos for a free-text sentence: cosine over what is scanned at once, then the best
    refined by ITM from the vision cache, a step at a time (between a running scan's batches).
    Never scans."""

    query: str = ""
    folders: tuple[str, ...] = ()
    database: str = ""
    options: ScanOptions = field(
        default_factory=ScanOptions
    )  # services.options.scan_options: recursion, vision cache
    top: int = 200
    rerank: int = 64
    interactive = True


@dataclass(frozen=True)
class ExplainJob(Job):
    """Why a sentence matches a photo: BLIP's Grad-CAM over the patch grid (core/explain.py), from
    the photo's cached vision output when there is one (no decoding, no vision pass)."""

    path: str = ""
    sentence: str = ""
    database: str = ""
    options: ScanOptions = field(
        default_factory=ScanOptions
    )  # services.options.scan_options: the vision cache
    interactive = True


@dataclass(frozen=True)
class Explained:
    path: str
    sentence: str
    cam: Any  # (grid, grid) float32 numpy array, >= 0: where the match came from
    itm: float
    from_cache: bool
    words: tuple[tuple[str, Any], ...] = ()  # (word, its (grid, grid) map), whole words in order


@dataclass(frozen=True)
class DownloadJob(Job):
    """Fetch the model's files from the hub (first use)."""


@dataclass(frozen=True)
class DevicesJob(Job):
    """List the devices torch can run on (Settings). Here, not on the GUI thread: importing torch
    takes seconds and would freeze the window."""

    interactive = True


@dataclass(frozen=True)
class Device:
    value: str  # what Settings.device takes: "cuda:0", "mps"
    label: str  # what a person reads: "GPU 0: NVIDIA H100 80GB HBM3"


def list_devices() -> tuple[Device, ...]:
    """Every CUDA device by index and name, and Apple's GPU when present; empty: only the CPU."""
    import torch

    out = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            try:
                name = torch.cuda.get_device_name(i)
            except Exception:  # a device that cannot be queried is still selectable
                name = "CUDA device"
            out.append(Device(f"cuda:{i}", f"GPU {i}: {name}  (cuda:{i})"))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append(Device("mps", "Apple GPU  (mps)"))
    return tuple(out)


@dataclass(frozen=True)
class SearchResult:
    """One step of a search: the ranking so far, best first."""

    query: str
    order: dict[str, float]  # path -> sort key, higher first: refined (ITM) above cosine-only
    itm: dict[str, float]  # path -> ITM probability, for the candidates refined so far
    cosine: dict[str, float]  # path -> ITC cosine
    refined: int
    candidates: int
    unscanned: int  # photos under the folder not scanned yet: not searched
    done: bool

    @classmethod
    def from_update(cls, query: str, update) -> SearchResult:
        itm = {h.path: h.itm for h in update.hits if h.itm is not None}
        order = {h.path: (2.0 + h.itm if h.itm is not None else h.cosine) for h in update.hits}
        return cls(
            query, order, itm, {h.path: h.cosine for h in update.hits}, update.refined,
            update.candidates, update.unscanned, update.done,
        )  # fmt: skip

    def message(self) -> str:
        """The status line: how far the refinement got, and what was not searched."""
        shown = len(self.order)
        if not shown:
            text = f"“{self.query}”: nothing scanned here yet"
        elif self.done:
            text = f"“{self.query}”: {shown} photos by similarity; best {self.refined} checked by match"
        else:
            text = (
                f"“{self.query}”: {shown} photos by similarity; checking the best by match "
                f"({self.refined} of {self.candidates})…"
            )
        if self.unscanned:
            text += f" · {self.unscanned} photos not scanned yet (not searched: {PRESS_SCAN})"
        return text


def sentence_scores(scores, row: int, sentences: Sequence[str]) -> dict[str, SentenceScore]:
    """Row ``row`` of the scorer's arrays (one photo) as sentence -> ``SentenceScore``."""
    return {
        s: SentenceScore(
            float(scores.itm[row, j]),
            float(scores.cosine[row, j]),
            float(scores.itm_logits[row, j, 0]),
            float(scores.itm_logits[row, j, 1]),
        )
        for j, s in enumerate(sentences)
    }


class _Deferred(Exception):
    """A job that goes on in steps (a search): ``finished`` comes with its last step."""


class ModelMissing(ModelError):
    """The model is not on this computer; ``downloadable``: offering the download makes sense."""

    def __init__(self, message: str, downloadable: bool) -> None:
        super().__init__(message)
        self.downloadable = downloadable


class Cancelled(Exception):
    pass


class InferenceWorker(QObject):
    """Lives on the inference thread. Owns the model; never touches widgets or Qt models."""

    started = Signal(int, str)  # job id, what (e.g. "Loading model")
    status = Signal(int, str)
    waiting = Signal(int, str)  # a scan waits for another process's write: the line saying so
    progress = Signal(int, object)  # engine.ScanProgress
    results = Signal(int, object)  # tuple[PhotoScores, ...]
    tried = Signal(int, object)  # dict sentence -> SentenceScore
    searched = Signal(int, object)  # SearchResult
    explained = Signal(int, object)  # Explained
    devices = Signal(int, object)  # tuple[Device, ...]
    downloadProgress = Signal(int, object, object)  # done bytes, total bytes or None
    modelMissing = Signal(int, str, bool)  # job id, message, downloadable
    finished = Signal(int, str, object)  # job id, "done" | "cancelled" | "failed", a scan's summary
    failed = Signal(int, str, bool, str)  # job id, message, is a UserError, details

    _wake = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._queue: collections.deque[Job] = collections.deque()
        self._lock = threading.Lock()
        self._scorer: Scorer | None = None
        self._scorer_for: ModelChoice | None = None
        self._wake.connect(self._drain)
        self._library: Library | None = None
        self._steps: collections.deque = collections.deque()  # (job, generator): searches
        self.model_loads = 0  # for tests: cached results must not load the model

    # -------------------------------------------------------------- any thread

    def enqueue(self, job: Job) -> None:
        with self._lock:
            if job.interactive:
                self._queue.appendleft(job)
            else:
                self._queue.append(job)
        self._wake.emit()  # queued: the worker lives on its own thread

    # -------------------------------------------------------------- worker thread

    def _take(self, interactive_only: bool = False) -> Job | None:
        with self._lock:
            if not self._queue:
                return None
            if interactive_only and not self._queue[0].interactive:
                return None
            return self._queue.popleft()

    @Slot()
    def _drain(self) -> None:
        while True:
            job = self._take()
            if job is not None:
                self._run(job)
            elif self._steps:
                self._step()
            else:
                return

    def _step(self) -> None:
        """One step of the oldest running search (a chunk of its ITM refinement)."""
        job, steps = self._steps[0]
        try:
            if job.cancel.is_set():
                steps.close()
                raise Cancelled
            update = next(steps, None)
            if update is not None:
                self.searched.emit(job.job_id, SearchResult.from_update(job.query, update))
            if update is None or update.done:
                self._steps.popleft()
                self.finished.emit(job.job_id, "done", None)
        except BaseException as exc:
            self._steps.popleft()
            self._report(job, exc)

    def _run(self, job: Job) -> None:
        if job.cancel.is_set():
            self.finished.emit(job.job_id, "cancelled", None)
            return
        summary = None
        try:
            if isinstance(job, ScanJob):
                summary = self._scan(job)
            elif isinstance(job, TryJob):
                self._try(job)
            elif isinstance(job, SearchJob):
                self._search(job)
            elif isinstance(job, ExplainJob):
                self._explain(job)
            elif isinstance(job, DownloadJob):
                self._download(job)
            elif isinstance(job, DevicesJob):
                self.devices.emit(job.job_id, list_devices())
        except _Deferred:
            return
        except BaseException as exc:
            self._report(job, exc)
            return
        self.finished.emit(job.job_id, "cancelled" if job.cancel.is_set() else "done", summary)

    def _report(self, job: Job, exc: BaseException) -> None:
        """A job ended by an exception: say how, then ``finished``."""
        if isinstance(exc, (Cancelled, WriteCancelled)):
            self.finished.emit(job.job_id, "cancelled", None)
            return
        if isinstance(exc, ModelMissing):
            self.modelMissing.emit(job.job_id, str(exc), exc.downloadable)
        elif isinstance(exc, UserError):
            self.failed.emit(job.job_id, str(exc), True, "")
        elif isinstance(exc, Exception):
            log.error("job %s failed", job, exc_info=exc)
            details = "".join(traceback.format_exception(exc))
            self.failed.emit(job.job_id, f"{type(exc).__name__}: {exc}", False, details)
        else:
            raise exc
        self.finished.emit(job.job_id, "failed", None)

    def scorer(self, job: Job) -> Scorer:
        """The warm model for this job's choice; loaded (once) inside this thread."""
        if self._scorer is not None and self._scorer_for == job.model:
            return self._scorer
        self._scorer = None
        self.status.emit(job.job_id, "Loading the model…")
        from blipdesk.core.engine import load_scorer

        scorer = self._scorer = load_scorer(
            job.model.spec,
            job.model.device,
            job.model.precision,
            job.model.first_token,
        )
        self.model_loads += 1
        self._scorer_for = job.model
        self.status.emit(job.job_id, f"Model ready on {scorer.loaded.placement.describe()}")
        return scorer

    def _try(self, job: TryJob) -> None:
        from blipdesk.core.decoding import decode_for_model

        scorer = self.scorer(job)
        sentences = tuple(dict.fromkeys(s for s in job.sentences if s.strip()))
        if not sentences:
            raise UserError("Type at least one sentence to try.")
        # The scan's rule: the content is found first, and the decode checks afterwards that
        # the file still has the size and mtime it had then, so changed pixels are never kept
        # under the old bytes' key (decoding.decode_for_model's stamp).
        content, stamp = self._tried_content(job) if job.database else (None, None)
        got = decode_for_model(job.path, stamp)
        if got.image is None:
            raise PhotoError(job.path, got.reason or "cannot read it", got.transient)
        scores = scorer.score(got.image[None], scorer.encode_sentences(sentences))
        result = sentence_scores(scores, 0, sentences)
        if job.database and content is not None:
            self._keep_tried(job, scorer, content, result)
        self.tried.emit(job.job_id, result)

    def _tried_content(self, job: TryJob) -> tuple[str | None, tuple[int, int] | None]:
        """The content key "Try" keeps its scores under, and the file's (size, mtime) then."""
        from blipdesk.core.inventory import resolve_contents

        # A file hashed now gets its record (as a scan's refresh writes it), which ties the
        # path to the scores kept.
        found = resolve_contents(self.library(job.database), [job.path], record=True)
        return found.found.get(job.path), found.stamps.get(job.path)

    def _keep_tried(
        self, job: TryJob, scorer: Scorer, content: str, result: dict[str, SentenceScore]
    ) -> None:
        """Store "Try"'s scores as a scan would (same decoding, same model key), with the photo's
        record, so the photo keeps them after the tag is saved and after a restart."""
        from blipdesk.domain import ScoreRow

        key = self.model_key(job)
        if scorer.score_key != key.score_key:
            return  # another model or first token than the cache's: shown, not kept
        library = self.library(job.database)
        library.ensure_model(key.score_key, key.source, key.revision)
        rows = [
            ScoreRow(content, s, v.itm, v.logit_no, v.logit_yes, v.cosine, scorer.precision)
            for s, v in result.items()
        ]
        library.write_batch(key.score_key, rows, {}, {})

    def _explain(self, job: ExplainJob) -> None:
        from blipdesk.core.engine import feature_store
        from blipdesk.core.explain import explain, photo_vision, whole_words

        key = self.model_key(job)
        scorer = self.scorer(job)
        store = None
        if job.options.feature_cache and job.options.features_dir is not None:
            store = feature_store(self.library(job.database), key, job.options)
        embeds, cached = photo_vision(scorer, job.path, store)
        result = explain(scorer, embeds, job.sentence)
        self.explained.emit(
            job.job_id,
            Explained(
                job.path, job.sentence, result.sentence_map, result.itm, cached,
                whole_words(result.words),
            ),
        )  # fmt: skip

    def model_key(self, job: Job):
        """The cache keys for the job's model (``services.options.write_key``), without loading
        it; ``ModelMissing`` when absent."""
        from blipdesk.core.hub import model_on_disk, no_connection_message, offline, reachable

        spec = job.model.spec
        if not spec.is_local and not model_on_disk(spec.source, spec.revision):
            if offline():
                raise ModelMissing(
                    f"The model {spec.source} is not on this computer and blipdesk is offline. "
                    "Connect once to download it (about 1.8 GB), or choose a local model folder "
                    "in File > Settings… > Model.",
                    downloadable=False,
                )
            if not reachable():  # no network is a normal condition: no download to offer
                raise ModelMissing(no_connection_message(spec.source), downloadable=False)
            raise ModelMissing(f"The model {spec.source} is not downloaded yet.", downloadable=True)
        try:
            return write_key(job.model)
        except ModelError as exc:
            raise ModelMissing(str(exc), downloadable=False) from None

    def library(self, database: str) -> Library:
        """The cache's one writer connection, opened in (and owned by) this thread."""
        from blipdesk.store import Library

        if self._library is None or str(self._library.path) != database:
            if self._library is not None:
                self._library.close()
            Path(database).parent.mkdir(parents=True, exist_ok=True)
            self._library = Library.open(database)
        return self._library

    @Slot()
    def close(self) -> None:
        if self._library is not None:
            self._library.close()
            self._library = None

    def _search(self, job: SearchJob) -> None:
        """The cosine ranking now; the ITM refinement as steps, run between a scan's batches (or
        back to back when nothing else runs). A newer search cancels this one."""
        from blipdesk.core.search import iter_search

        query = job.query.strip()
        if not query:
            raise UserError("Type a sentence to search for.")
        key = self.model_key(job)
        self.status.emit(job.job_id, f"Searching for “{query}”…")
        steps = iter_search(
            self.library(job.database),
            job.folders,
            query,
            key,
            lambda: self.scorer(job),
            top=job.top,
            candidates=job.rerank,
            options=job.options,
            cancel=job.cancel,
        )
        first = next(steps)
        self.searched.emit(job.job_id, SearchResult.from_update(query, first))
        if first.done:
            return
        self._steps.append((job, steps))
        raise _Deferred

    def _scan(self, job: ScanJob):
        from blipdesk.core.engine import scan

        key = self.model_key(job)
        self.status.emit(job.job_id, "Looking for new photos…")

        def on_progress(p) -> None:
            self.progress.emit(job.job_id, p)
            while (urgent := self._take(interactive_only=True)) is not None:
                self._run(urgent)
            if self._steps:  # one step of a search per batch: neither waits for the other
                self._step()

        def on_batch(batch) -> None:
            out: list[PhotoScores] = []
            for i, content in enumerate(batch.contents):
                if batch.scores is None:
                    continue
                scores = sentence_scores(batch.scores, i, batch.sentences)
                out.extend(PhotoScores(path, scores) for path in batch.paths[i])
                del content
            out.extend(PhotoScores(f.path, {}, f.reason) for f in batch.failures)
            self.results.emit(job.job_id, tuple(out))

        def scorer():
            return self.scorer(job)

        def device_type() -> str:  # lets the engine start decoding while the model loads
            if self._scorer is not None and self._scorer_for == job.model:
                return str(self._scorer.device.type)
            from blipdesk.core.engine import planned_device_type

            return planned_device_type(job.model.device, job.model.precision)

        scorer.device_type = device_type  # type: ignore[attr-defined]
        library = self.library(job.database)
        # Another blipdesk process writing: the scan waits (its batch in flight lands after),
        # the status line says so, and Cancel ends the wait.
        library.waiting = Waiting(job.cancel, lambda text: self.waiting.emit(job.job_id, text))
        try:
            summary = scan(
                library,
                job.folders,
                job.sentences,
                key,
                scorer,
                job.options,
                on_progress,
                on_batch,
                job.cancel,
                job.pause,
                job.listed,
            )
        finally:
            library.waiting = Waiting()
        if summary.failures:
            self.results.emit(
                job.job_id, tuple(PhotoScores(f.path, {}, f.reason) for f in summary.failures)
            )
        return summary

    def _download(self, job: DownloadJob) -> None:
        from blipdesk.core.hub import download_model

        def report(done: int, total: int | None) -> None:
            if job.cancel.is_set():
                raise Cancelled
            self.downloadProgress.emit(job.job_id, done, total)

        try:
            download_model(job.model.source, job.model.revision, report)
        except ModelError as exc:  # the network went: said in words, with the folder choice
            raise ModelMissing(str(exc), downloadable=False) from None


class _Forward(QObject):
    """Re-emits ``signal`` with a worker signal's payload when ``current(job_id)`` holds, on the
    thread this object lives on (see ``InferenceController._forward``)."""

    def __init__(self, parent: QObject, current, signal) -> None:
        super().__init__(parent)
        self.current, self.signal = current, signal

    def fire(self, job_id: int, *args) -> None:
        if self.current(job_id):
            self.signal.emit(*args)


class InferenceController(QObject):
    """GUI side: owns the thread, submits jobs, forwards only the current job's signals."""

    progress = Signal(object)  # engine.ScanProgress
    results = Signal(object)  # tuple[PhotoScores, ...]
    status = Signal(str)
    waiting = Signal(str)  # the scan waits for another blipdesk process (the line saying so)
    scanFinished = Signal(str, object)  # outcome, the engine's ScanSummary (None unless done)
    tried = Signal(object)
    searched = Signal(object)
    explained = Signal(object)  # Explained
    devices = Signal(object)  # tuple[Device, ...]
    downloadProgress = Signal(object, object)
    downloadFinished = Signal(str)
    modelMissing = Signal(str, bool)  # message, downloadable
    failed = Signal(str, bool, str)  # message, user error, details
    busyChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker_thread = QThread()
        self.worker_thread.setObjectName("blipdesk-inference")
        self.worker = InferenceWorker()
        self.worker.moveToThread(self.worker_thread)
        # Direct: runs on the inference thread as it ends, where the writer connection belongs.
        self.worker_thread.finished.connect(self.worker.close, Qt.ConnectionType.DirectConnection)
        self.worker_thread.start()
        self.current: dict[str, Job] = {}  # kind -> the job whose results count
        w = self.worker
        # Named slots, not ``cond and emit()`` lambdas: a slot must return None (a returned bool
        # is released once too often by PySide6 and crashes the interpreter, seen on 6.12).
        w.progress.connect(self._forward("scan", self.progress))
        w.waiting.connect(self._forward("scan", self.waiting))
        w.results.connect(self._forward("scan", self.results))
        w.tried.connect(self._forward("try", self.tried))
        w.searched.connect(self._forward("search", self.searched))
        w.explained.connect(self._forward("explain", self.explained))
        w.devices.connect(self._forward("devices", self.devices))
        w.downloadProgress.connect(self._forward("download", self.downloadProgress))
        w.status.connect(self._forward(None, self.status))
        w.modelMissing.connect(self._forward(None, self.modelMissing))
        w.failed.connect(self._forward(None, self.failed))
        w.finished.connect(self._on_finished)

    def _forward(self, kind: str | None, signal):
        """A slot that re-emits a worker signal's payload when it belongs to a current job.

        The slot is a method of a QObject living on this (the GUI) thread, so the worker's
        signal is queued to it and the "still current?" check runs when the GUI takes the
        payload, not when the worker sends it: a plain function would run on the worker's
        thread (no receiver to queue to) and let a job superseded in between through."""

        def current(job_id: int) -> bool:
            return bool(self._kind_of(job_id) if kind is None else self._if_current(job_id, kind))

        return _Forward(self, current, signal).fire

    @staticmethod
    def kind(job: Job) -> str:
        return {
            ScanJob: "scan",
            TryJob: "try",
            SearchJob: "search",
            ExplainJob: "explain",
            DownloadJob: "download",
            DevicesJob: "devices",
        }[type(job)]

    def _kind_of(self, job_id: int) -> str | None:
        return next((k for k, j in self.current.items() if j.job_id == job_id), None)

    def _if_current(self, job_id: int, kind: str) -> bool:
        job = self.current.get(kind)
        return job is not None and job.job_id == job_id

    def submit(self, job: Job) -> Job:
        """Run ``job``; a running job of the same kind is superseded (cancelled, results dropped)."""
        kind = self.kind(job)
        old = self.current.get(kind)
        if old is not None:
            old.cancel.set()
            old.pause.clear()
        self.current[kind] = job
        self.worker.enqueue(job)
        self.busyChanged.emit(True)
        return job

    def scanning(self) -> bool:
        return "scan" in self.current

    def cancel(self, kind: str = "scan") -> None:
        job = self.current.get(kind)
        if job is not None:
            job.cancel.set()
            job.pause.clear()

    def set_paused(self, paused: bool) -> None:
        job = self.current.get("scan")
        if job is not None:
            (job.pause.set if paused else job.pause.clear)()

    def paused(self) -> bool:
        job = self.current.get("scan")
        return job is not None and job.pause.is_set()

    def _on_finished(self, job_id: int, outcome: str, summary) -> None:
        kind = self._kind_of(job_id)
        if kind is None:
            return  # superseded
        del self.current[kind]
        if kind == "scan":
            self.scanFinished.emit(outcome, summary)
        elif kind == "download":
            self.downloadFinished.emit(outcome)
        if not self.current:
            self.busyChanged.emit(False)

    def shutdown(self, timeout_ms: int = 10000) -> None:
        """Orderly: cancel everything, quit the thread's loop, wait. Never terminate()."""
        for job in list(self.current.values()):
            job.cancel.set()
            job.pause.clear()
        with self.worker._lock:
            for job in self.worker._queue:
                job.cancel.set()
        self.worker_thread.quit()
        self.worker_thread.wait(timeout_ms)
