"""The same engine on a Ray cluster: Ray Data lists, hashes, decodes and scores; the driver writes
results files as it goes (``pip install "blipdesk[cluster]"``).

    summary = cluster_scan(folders, sentences, key, ModelSpec(...), results_dir,
                           ClusterOptions(address="auto", workers=8, gpus_per_worker=1),
                           on_progress=..., cancel=threading.Event())

The pipeline, one Ray Data stage each:

1. **List** in CPU tasks, one per folder directly under each root (``core/files.find_photos``:
   the one walker), and **hash** (``inventory.hashed_record``: the cache's key), so every node
   walks and reads 128 KiB per photo of its share.
2. **Skip** on the driver: what the results files already in ``results_dir`` hold (per content,
   which of the sentences are scored, whether the ITC vector is there, whether it failed to
   decode) is not planned again; copies of one photo are scored once. A new tag therefore costs
   only its (photo, sentence) pairs.
3. **Decode** in CPU tasks with the engine's own rule (``decoding.decode_for_model``: the same
   bounded decoder, EXIF, colour rules and 384 x 384 squash as the desktop scan).
4. **Score** in actors (GPU or CPU) that each load the model once (``engine.load_scorer``) and
   call the desktop scan's per-batch scoring function, ``runner.score_decoded`` (one vision pass
   per photo, out-of-memory halving, NaN refused): no second copy of the maths.
5. **Write** on the driver: a results file (``core/results.py``, atomic) every ``part_photos``
   photos or ``part_seconds`` seconds. A killed job loses only what was not written yet; run it
   again and it resumes from the files (no photo that is in a file is scored again).

Paths must be readable by every node under the same name (a shared file system); results map to
the laptop's photos by content hash, whatever their paths there. Photos whose decode failed for
a transient reason (changed during the scan, out of memory) are not written: the next run tries
them again. The cluster keeps no vision cache (0.6 MB per photo): a new sentence costs a decode
and a vision pass per photo, but only that sentence's text side.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from blipdesk.core.decoding import decode_for_model
from blipdesk.core.engine import ModelKey, ScanProgress
from blipdesk.core.files import PhotoFailure, absolute, find_photos, subfolders
from blipdesk.core.imaging import DECODE_RULE_VERSION, MODEL_IMAGE_SIZE
from blipdesk.core.inventory import hashed_record
from blipdesk.core.model import ModelSpec
from blipdesk.core.results import (
    SUFFIX,
    PhotoResult,
    ResultsFile,
    ResultsFileError,
    ResultsHeader,
    done_work,
    model_itc_size,
    write_results,
)
from blipdesk.domain import PhotoRecord
from blipdesk.infra.display import display_text
from blipdesk.infra.errors import UserError

log = logging.getLogger(__name__)

HASH_BATCH = 256
DECODE_BATCH = 8
MAX_BLOCKS = 4096
DECODE_MEMORY = 512 << 20  # bytes a decode task reserves (imaging caps one photo at 1 GiB)


@dataclass(frozen=True)
class ClusterOptions:
    address: str | None = None  # None: start a local Ray here; "auto"; "ray://HOST:PORT"
    workers: int = 1  # scoring actors (each loads the model once)
    gpus_per_worker: float = 0.0  # 0: actors score on the CPU
    cpus_per_worker: float = 1.0  # CPU actors: also their torch threads
    device: str = "auto"
    precision: str = "auto"
    first_token: str = "cls"
    batch_size: int = 0  # photos per model call; 0: 64 on a GPU, 8 on the CPU
    recursive: bool = True
    part_photos: int = 2048  # photos per results file
    part_seconds: float = 60.0  # ... or sooner, when this long has passed since the last one


@dataclass(frozen=True)
class ClusterSummary:
    photos: int  # photo files found
    skipped: int  # distinct photos whose results the folder already held
    scored: int  # distinct photos that went through the model in this run
    pairs: int  # (photo, sentence) scores computed in this run
    failures: tuple[PhotoFailure, ...]
    files: tuple[str, ...]  # results files written by this run
    seconds: float
    cancelled: bool = False


def existing_results(results_dir: Path, key: ModelKey) -> list[ResultsFile]:
    """The results files already in ``results_dir``, each checked on open (and closed again:
    any number of them): all of them must be this model's (a folder never mixes models)."""
    files: list[ResultsFile] = []
    for path in sorted(results_dir.glob(f"*{SUFFIX}")):
        f = ResultsFile(path)
        if f.header.score_key != key.score_key:
            raise ResultsFileError(
                f"{f.name}: scored by another model ({display_text(f.header.source, 200)}, key "
                f"{display_text(f.header.score_key, 200)}); use another --results folder for "
                f"{key.source}."
            )
        files.append(f)
    return files


def cluster_scan(
    folders: Sequence[str | os.PathLike[str]],
    sentences: Sequence[str],
    key: ModelKey,
    spec: ModelSpec,
    results_dir: str | os.PathLike[str],
    options: ClusterOptions = ClusterOptions(),
    on_progress: Callable[[ScanProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> ClusterSummary:
    """Score every photo under ``folders`` against ``sentences`` on Ray, writing results files
    into ``results_dir`` and skipping what its files already hold. See the module docstring."""
    started = time.monotonic()
    cancel = cancel or threading.Event()
    sentences = tuple(dict.fromkeys(sentences))
    out = Path(results_dir)
    out.mkdir(parents=True, exist_ok=True)
    previous = existing_results(out, key)
    done = done_work(previous, sentences, model_itc_size(key.score_key, key.source))
    check_address(options.address)
    ray = _ray()
    if not ray.is_initialized():
        extra: dict[str, Any] = {}
        if options.address is None:  # a local Ray: CPU actors must leave a core to decode on
            cpus = os.cpu_count() or 1
            extra["num_cpus"] = max(cpus, int(options.workers * options.cpus_per_worker) + 1)
        try:
            ray.init(address=options.address, include_dashboard=False, log_to_driver=False, **extra)
        except (ConnectionError, TimeoutError, ValueError) as exc:  # the cluster, not the disk
            where = (
                "a local Ray"
                if options.address is None
                else f"the Ray cluster at {options.address}"
            )
            raise UserError(
                f"Cannot start or reach {where}: {display_text(str(exc), 300)}"
            ) from None
    with warnings.catch_warnings():  # Ray 2.60's own DataContext sets a field it deprecates
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.verbose_progress = False

    failures: list[PhotoFailure] = []
    seen: set[str] = set()
    by_content: dict[str, tuple[str, int, int]] = {}
    for path, content, size, mtime, error, is_folder in _list_and_hash(
        ray, folders, options.recursive
    ):
        if is_folder:  # a folder that cannot be listed
            failures.append(PhotoFailure(path, error))
            continue
        if path in seen:  # under two of the folders given
            continue
        seen.add(path)
        if error:
            failures.append(PhotoFailure(path, error))
        elif content not in by_content:
            by_content[content] = (path, size, mtime)
    items = []
    for content, (path, size, mtime) in by_content.items():
        missing = done.missing(content)
        if missing is None:
            continue
        todo, _vector = missing
        items.append(
            {
                "content": content,
                "path": path,
                "size": size,
                "mtime": mtime,
                "todo": ",".join(map(str, todo)),
            }
        )
    skipped = len(by_content) - len(items)
    header = ResultsHeader(key.score_key, key.source, key.revision, DECODE_RULE_VERSION)
    writer = _PartWriter(out, header, options)
    cancelled = False
    try:
        if items:
            cancelled = _score(ray, items, sentences, key, spec, options, writer, failures,
                               on_progress, cancel)  # fmt: skip
    except (KeyboardInterrupt, UserError):
        raise
    except Exception as exc:  # a node or actor failed (Ray's errors): what is done stays written
        raise UserError(
            f"The cluster job failed: {_cause(exc)}; what was scored is in "
            f"{len(writer.written)} results file(s) in {out}: run the same command again to go "
            "on from there."
        ) from exc
    finally:
        writer.flush()  # everything scored so far, whatever stopped the job
    return ClusterSummary(
        photos=len(seen),
        skipped=skipped,
        scored=writer.scored,
        pairs=writer.pairs,
        failures=tuple(failures),
        files=tuple(writer.written),
        seconds=time.monotonic() - started,
        cancelled=cancelled,
    )


def _score(
    ray: Any,
    items: list[dict[str, Any]],
    sentences: tuple[str, ...],
    key: ModelKey,
    spec: ModelSpec,
    options: ClusterOptions,
    writer: _PartWriter,
    failures: list[PhotoFailure],
    on_progress: Callable[[ScanProgress], None] | None,
    cancel: threading.Event,
) -> bool:
    """Run the decode + score stages, handing rows to ``writer``; True when cancelled."""
    handled, total = 0, len(items)
    pipeline = _pipeline(ray, items, sentences, key, spec, options)
    scoring = time.monotonic()
    for batch in pipeline.iter_batches(batch_size=None, batch_format="numpy"):
        for row in _rows(batch, sentences):
            handled += 1
            if isinstance(row, PhotoFailure):
                failures.append(row)
                continue
            if row.error is not None:
                failures.append(PhotoFailure(str(row.path), row.error))
            writer.add(row)
            writer.flush_if_due()
        if on_progress is not None:
            on_progress(_progress(handled, total, len(failures), scoring))
        if cancel.is_set():
            return True
    return False


def _cause(exc: BaseException) -> str:
    """The reason inside a Ray error: Ray wraps a task's or actor's exception with its traceback
    (and terminal colours); its last ``Type: message`` line is what went wrong on the node."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in str(exc).splitlines()]
    lines = [line for line in lines if line]
    for line in reversed(lines):
        match = re.match(r"^[\w.]*(Error|Exception|Exit)\w*: (.+)$", line)
        if match:
            return match.group(2)[:300]
    return f"{type(exc).__name__}: {lines[0][:300] if lines else ''}"


RAY_INSTALL = (
    'pip install "ray[data,client]" pyarrow (in a blipdesk checkout: pip install -e ".[cluster]")'
)
_HOST = r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])"
_ADDRESS = re.compile(rf"(?:ray://)?{_HOST}:(\d{{1,5}})")


def check_address(address: str | None) -> None:
    """``--address``: None (a local Ray), ``auto``, ``HOST:PORT`` (a cluster's head) or
    ``ray://HOST:PORT`` (its client server). UserError, in one line, on any other shape, a port
    out of range, or ``ray://`` where Ray's client package is missing."""
    if address is None or address == "auto":
        return
    match = _ADDRESS.fullmatch(address)
    if match is None or not 0 < int(match.group(1)) < 65536:
        raise UserError(
            f"--address {display_text(address, 200)!r} is not a Ray address: give auto, "
            "HOST:PORT (a cluster's head) or ray://HOST:PORT (its client server, usually port "
            "10001)."
        )
    if address.startswith("ray://"):
        import importlib.util

        if importlib.util.find_spec("grpc") is None:
            raise UserError(f"--address ray://… needs Ray's client package: {RAY_INSTALL}.")


def _ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError:
        raise UserError(f"The cluster scan needs Ray: {RAY_INSTALL}.") from None
    return ray


def _progress(done: int, total: int, errors: int, started: float) -> ScanProgress:
    elapsed = time.monotonic() - started
    rate = done / elapsed if elapsed > 0 and done else 0.0
    eta = (total - done) / rate if rate else None
    return ScanProgress(done, total, errors, rate, eta)


class _PartWriter:
    """Results files as the job goes: every ``part_photos`` photos or ``part_seconds``."""

    def __init__(self, folder: Path, header: ResultsHeader, options: ClusterOptions) -> None:
        self.folder, self.header, self.options = folder, header, options
        self.run = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:8]
        self.buffer: list[PhotoResult] = []
        self.written: list[str] = []
        self.scored = self.pairs = 0  # photos through the model, (photo, sentence) scores
        self.last = time.monotonic()

    def add(self, photo: PhotoResult) -> None:
        self.buffer.append(photo)
        if photo.error is None:
            self.scored += 1
            self.pairs += len(photo.sentences)

    def flush_if_due(self) -> None:
        if len(self.buffer) >= self.options.part_photos or (
            self.buffer and time.monotonic() - self.last >= self.options.part_seconds
        ):
            self.flush()

    def flush(self) -> None:
        if not self.buffer:
            return
        target = self.folder / f"part-{self.run}-{len(self.written):05d}{SUFFIX}"
        write_results(target, self.header, self.buffer)
        self.written.append(str(target))
        self.buffer = []
        self.last = time.monotonic()


# ----------------------------------------------------------------------------------- stages


def _list_and_hash(
    ray: Any, folders: Sequence[str | os.PathLike[str]], recursive: bool
) -> list[tuple[str, str, int, int, str, bool]]:
    """(path, content hash, size, mtime_ns, error, whether the path is an unreadable folder) per
    photo under ``folders``: Ray Data lists them (``files.find_photos``, the one walker, one task
    per folder directly under each root: big archives are listed in parallel) and hashes them."""
    units = []
    for root in map(absolute, folders):
        units.append({"folder": root, "recursive": False})  # the root's own photos
        if recursive:
            units.extend({"folder": sub, "recursive": True} for sub in subfolders(root))
    ds = (
        ray.data.from_items(units, override_num_blocks=min(len(units), MAX_BLOCKS))
        .flat_map(_list_folder)
        .map_batches(_hash_batch, batch_size=HASH_BATCH, batch_format="numpy")
    )
    out = []
    for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
        for row in zip(
            batch["path"], batch["content"], batch["size"], batch["mtime"], batch["error"],
            batch["folder"], strict=True,
        ):  # fmt: skip
            out.append(
                (str(row[0]), str(row[1]), int(row[2]), int(row[3]), str(row[4]), bool(row[5]))
            )
    return out


def _list_folder(unit: dict[str, Any]) -> list[dict[str, Any]]:
    """A Ray task: the photos of one part of the archive; a folder that cannot be listed comes
    back as a row of its own (``folder`` true, with the reason)."""
    unreadable: list[PhotoFailure] = []
    found = find_photos([unit["folder"]], bool(unit["recursive"]), unreadable)
    rows = [{"path": p, "listed": "", "folder": False} for p in found]
    rows += [{"path": f.path, "listed": f.reason, "folder": True} for f in unreadable]
    return rows


def _hash_batch(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A Ray task: stat and hash photos with ``inventory.refresh_photos``'s rule
    (``inventory.hashed_record``: the same key, the same refusal of pipes and devices)."""
    contents, sizes, mtimes, errors = [], [], [], []
    for path, listed in zip(batch["path"], batch["listed"], strict=True):
        if listed:  # a folder that could not be listed: passed on as it is
            record = PhotoRecord(str(path), 0, 0, None, str(listed))
        else:
            try:
                record = hashed_record(str(path), os.stat(path))
            except OSError as exc:
                reason = f"cannot read file ({exc.strerror or exc})"
                record = PhotoRecord(str(path), 0, 0, None, reason)
        contents.append(record.content or "")
        sizes.append(record.size)
        mtimes.append(record.mtime_ns)
        errors.append(record.read_error or "")
    return {
        "path": batch["path"],
        "content": np.array(contents, dtype=object),
        "size": np.array(sizes, dtype=np.int64),
        "mtime": np.array(mtimes, dtype=np.int64),
        "error": np.array(errors, dtype=object),
        "folder": batch["folder"],
    }


def _decode_batch(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A Ray task: the engine's decode rule (``decoding.decode_for_model``), per photo."""
    n = len(batch["path"])
    images = np.zeros((n, MODEL_IMAGE_SIZE, MODEL_IMAGE_SIZE, 3), np.uint8)
    errors, transient = [], []
    for i in range(n):
        got = decode_for_model(
            str(batch["path"][i]), (int(batch["size"][i]), int(batch["mtime"][i]))
        )
        if got.image is not None:
            images[i] = got.image
        errors.append("" if got.image is not None else got.reason or "unknown error")
        transient.append(got.transient)
    return {
        "content": batch["content"],
        "path": batch["path"],
        "todo": batch["todo"],
        "image": images,
        "error": np.array(errors, dtype=object),
        "transient": np.array(transient, dtype=bool),
    }


class ScoreWorker:
    """A Ray actor: loads the model once, then scores decoded batches with the desktop scan's
    per-batch function (``runner.score_decoded``). Output rows: the scores of every sentence of
    the run (NaN where a photo did not need that sentence), the ITC vector, the decode error."""

    def __init__(
        self,
        source: str,
        revision: str | None,
        device: str,
        precision: str,
        first_token: str,
        score_key: str,
        sentences: Sequence[str],
        threads: int,
    ) -> None:
        from blipdesk.core.engine import load_scorer
        from blipdesk.core.runner import new_runner

        token: Any = "enc" if first_token == "enc" else "cls"
        self.scorer = load_scorer(ModelSpec(source, revision), device, precision, token)
        if self.scorer.score_key != score_key:
            raise RuntimeError(
                f"this node's model is keyed {self.scorer.score_key!r}, the driver's "
                f"{score_key!r}: the nodes must hold the same model files"
            )
        if self.scorer.device.type == "cpu" and threads > 0:
            import torch

            torch.set_num_threads(threads)
        self.sentences = tuple(sentences)
        self.runner = new_runner(self.scorer, self.sentences)
        self.dim = int(self.runner.text.itc.shape[1])

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from blipdesk.core.runner import score_decoded

        n, s = len(batch["content"]), len(self.sentences)
        out = {name: np.full((n, s), np.nan, np.float32) for name in ("itm", "no", "yes", "cos")}
        itc = np.full((n, self.dim), np.nan, np.float32)
        groups: dict[str, list[int]] = {}
        for i in range(n):
            if not batch["error"][i]:
                groups.setdefault(str(batch["todo"][i]), []).append(i)
        for todo, rows in groups.items():
            cols = [int(j) for j in todo.split(",") if j]
            sentences = tuple(self.sentences[j] for j in cols)
            images = np.array(batch["image"][rows], dtype=np.uint8)  # writable, contiguous
            features, scores = score_decoded(self.runner, sentences, images)
            itc[rows] = features.itc.float().cpu().numpy()
            if cols:
                grid = np.ix_(rows, cols)
                out["itm"][grid] = scores.itm
                out["no"][grid] = scores.itm_logits[..., 0]
                out["yes"][grid] = scores.itm_logits[..., 1]
                out["cos"][grid] = scores.cosine
        return {
            "content": batch["content"],
            "path": batch["path"],
            "todo": batch["todo"],
            "error": batch["error"],
            "transient": batch["transient"],
            "itm": out["itm"],
            "logit_no": out["no"],
            "logit_yes": out["yes"],
            "cosine": out["cos"],
            "itc": itc,
        }


def _pipeline(
    ray: Any,
    items: list[dict[str, Any]],
    sentences: tuple[str, ...],
    key: ModelKey,
    spec: ModelSpec,
    options: ClusterOptions,
) -> Any:
    gpus = options.gpus_per_worker
    batch = options.batch_size or (64 if gpus > 0 else 8)
    # Small input blocks: work spreads over the decoders at once, results come back steadily.
    blocks = min(MAX_BLOCKS, max(1, -(-len(items) // DECODE_BATCH)))
    ds = ray.data.from_items(items, override_num_blocks=blocks)
    # Decoding in tasks of their own on every node's cores, each reserving the memory of a large
    # decode (so a node never starts more decodes than its memory holds; the reservation also
    # keeps Ray Data from fusing decoding into the scoring actors, where one process per GPU
    # would decode: the bottleneck).
    ds = ds.map_batches(
        _decode_batch,
        batch_size=DECODE_BATCH,
        batch_format="numpy",
        num_cpus=1,
        memory=DECODE_MEMORY,
    )
    remote: dict[str, Any] = (
        {"num_gpus": gpus} if gpus > 0 else {"num_cpus": options.cpus_per_worker}
    )
    return ds.map_batches(
        ScoreWorker,
        fn_constructor_kwargs={
            "source": spec.source,
            "revision": spec.revision,
            "device": options.device if gpus > 0 or options.device != "auto" else "cpu",
            "precision": options.precision,
            "first_token": options.first_token,
            "score_key": key.score_key,
            "sentences": sentences,
            "threads": int(options.cpus_per_worker) if gpus == 0 else 0,
        },
        compute=ray.data.ActorPoolStrategy(size=options.workers),
        batch_size=batch,
        batch_format="numpy",
        **remote,
    )


def _rows(
    batch: dict[str, np.ndarray], sentences: tuple[str, ...]
) -> list[PhotoResult | PhotoFailure]:
    """A scored batch as results rows (transient decode failures as failures only: retried)."""
    out: list[PhotoResult | PhotoFailure] = []
    for i in range(len(batch["content"])):
        content, path = str(batch["content"][i]), str(batch["path"][i])
        error = str(batch["error"][i])
        if error:
            if bool(batch["transient"][i]):
                out.append(PhotoFailure(path, error))
            else:
                out.append(PhotoResult(content, path, error=error))
            continue
        cols = [int(j) for j in str(batch["todo"][i]).split(",") if j]
        out.append(
            PhotoResult(
                content,
                path,
                tuple(sentences[j] for j in cols),
                batch["itm"][i, cols].tolist(),
                batch["logit_no"][i, cols].tolist(),
                batch["logit_yes"][i, cols].tolist(),
                batch["cosine"][i, cols].tolist(),
                np.asarray(batch["itc"][i], np.float32),
            )
        )
    return out
