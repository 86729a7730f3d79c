"""Results that travel: a scan's scores in a portable file (Parquet), merged into any cache.

A results file holds, per photo content hash, everything a scan stores for one model: the scores
of each sentence (ITM logits, ITM probability, ITC cosine), the photo's ITC image vector (free-
text search) or its decode error. Its key-value metadata (``blipdesk.results``, JSON) names the
format version, the model's score key (weights + first token + decoding rule), the model's source
and revision, and the decoding rule. Results map to photos by content hash only, so the archive
may sit under other paths on the machines that scanned it (the ``path`` column is informational).

Why Parquet (pyarrow): columnar and compressed (a million photos with 20 sentences is ~1.3 GB,
most of it the 1 KiB ITC vectors), typed (float32 scores round-trip bit for bit), readable in
row groups (an import streams; nothing holds a whole archive in memory), and readable by every
data tool (pandas, DuckDB, Spark) for people who want to look at their scores elsewhere.

One row per (content, run): ``sentences`` lists what this row scored, with ``itm``,
``logit_no``, ``logit_yes`` and ``cosine`` aligned to it; ``itc`` is null when the row only adds
sentences; ``error`` is set (and the rest empty) when the photo cannot be decoded. A content may
appear in several rows and files (a new tag scored later): merging is a union.

Reading treats the file as hostile: a FIFO or device is refused before opening, every value is
checked (hash spelling, list lengths, finite numbers, ITM in [0, 1], vector sizes), and anything
wrong is a ``ResultsFileError``: one line naming the file and the reason.

pyarrow is imported when a file is read or written (``pip install "blipdesk[results]"``).
"""

from __future__ import annotations

import errno
import json
import os
import stat
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from blipdesk import __version__
from blipdesk.domain import ScoreRow
from blipdesk.infra.errors import UserError

FORMAT_VERSION = 1
META_KEY = b"blipdesk.results"
SUFFIX = ".parquet"
ROW_GROUP = 2048  # photos per row group: what an import holds in memory at a time
COLUMNS = ("content", "path", "sentences", "itm", "logit_no", "logit_yes", "cosine", "itc", "error")

# One chunk as the store merges it: (score rows, ITC vectors by content, decode errors by content).
Chunk = tuple[list[ScoreRow], dict[str, np.ndarray], dict[str, str]]


class ResultsFileError(UserError):
    """A results file that cannot be used: damaged, not one, too new, another model."""


@dataclass(frozen=True)
class ResultsHeader:
    score_key: str  # weights + first token + decoding rule: what the scores are keyed by
    source: str  # the model's hub id or folder, for people reading the file
    revision: str | None
    decode_rule: int  # core/imaging.DECODE_RULE_VERSION where the photos were decoded
    format: int = FORMAT_VERSION
    written_by: str = f"blipdesk {__version__}"

    def encoded(self) -> bytes:
        return json.dumps(
            {
                "format": self.format,
                "score_key": self.score_key,
                "source": self.source,
                "revision": self.revision,
                "decode_rule": self.decode_rule,
                "written_by": self.written_by,
            }
        ).encode()


@dataclass(frozen=True)
class PhotoResult:
    """One photo's results from one run (see the module docstring for the columns)."""

    content: str
    path: str | None
    sentences: tuple[str, ...] = ()
    itm: Sequence[float] = ()
    logit_no: Sequence[float] = ()
    logit_yes: Sequence[float] = ()
    cosine: Sequence[float] = ()
    itc: np.ndarray | None = None
    error: str | None = None


def _pa() -> Any:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise UserError(
            'Results files need pyarrow: pip install "blipdesk[results]" (or "blipdesk[cluster]").'
        ) from None
    return pa, pq


def _schema(header: ResultsHeader) -> Any:
    pa, _ = _pa()
    scores = pa.list_(pa.float32())
    return pa.schema(
        [
            ("content", pa.string()),
            ("path", pa.string()),
            ("sentences", pa.list_(pa.string())),
            ("itm", scores),
            ("logit_no", scores),
            ("logit_yes", scores),
            ("cosine", scores),
            ("itc", pa.list_(pa.float32())),
            ("error", pa.string()),
        ],
        metadata={META_KEY: header.encoded()},
    )


def results_bytes(header: ResultsHeader, photos: Iterable[PhotoResult]) -> bytes:
    """The Parquet file for ``photos`` (zstd, row groups of ``ROW_GROUP`` photos)."""
    pa, pq = _pa()
    schema = _schema(header)
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
        batch: list[PhotoResult] = []
        for photo in photos:
            batch.append(photo)
            if len(batch) >= ROW_GROUP:
                writer.write_table(_table(schema, batch))
                batch = []
        if batch:
            writer.write_table(_table(schema, batch))
    return bytes(sink.getvalue().to_pybytes())


def _table(schema: Any, photos: Sequence[PhotoResult]) -> Any:
    pa, _ = _pa()

    def floats(values: Sequence[float]) -> list[float]:
        return [float(v) for v in values]

    columns = {
        "content": [p.content for p in photos],
        "path": [None if p.path is None else _text(p.path) for p in photos],
        "sentences": [list(p.sentences) for p in photos],
        "itm": [floats(p.itm) for p in photos],
        "logit_no": [floats(p.logit_no) for p in photos],
        "logit_yes": [floats(p.logit_yes) for p in photos],
        "cosine": [floats(p.cosine) for p in photos],
        "itc": [None if p.itc is None else np.asarray(p.itc, np.float32) for p in photos],
        "error": [p.error for p in photos],
    }
    return pa.Table.from_pydict(columns, schema=schema)


def _text(path: str) -> str:
    """A path that is not UTF-8 (lone surrogates) spelled so that Arrow can hold it."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def write_results(
    target: str | os.PathLike[str],
    header: ResultsHeader,
    photos: Iterable[PhotoResult],
    protect: Iterable[str | os.PathLike[str]] = (),
) -> None:
    """Write a results file atomically (``atomic.write_atomic``: all of it or nothing)."""
    from blipdesk.infra.atomic import write_atomic

    write_atomic(target, results_bytes(header, photos), protect=protect)


# ----------------------------------------------------------------------------------- reading


class ResultsFile:
    """An open results file: its header (checked on open) and its rows, chunk by chunk."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.name = os.fspath(path)
        self._fh = _open_regular(self.path)
        try:
            self._file = self._parquet()
            self.header = self._header()
            self.rows = int(self._file.metadata.num_rows)
        except BaseException:
            self._fh.close()
            raise

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> ResultsFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fail(self, reason: str) -> ResultsFileError:
        return ResultsFileError(f"{self.name}: {reason}; nothing was imported.")

    def _parquet(self) -> Any:
        pa, pq = _pa()
        try:
            return pq.ParquetFile(self._fh)
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise self.fail(
                f"not a results file (damaged, or not Parquet: {_short(exc)})"
            ) from None

    def _header(self) -> ResultsHeader:
        meta = self._file.schema_arrow.metadata or {}
        raw = meta.get(META_KEY)
        if raw is None:
            raise self.fail(
                "a Parquet file, but not a blipdesk results file (no blipdesk.results metadata)"
            )
        try:
            doc = json.loads(raw)
            version = int(doc["format"])
        except (ValueError, KeyError, TypeError):
            raise self.fail("its blipdesk.results metadata is damaged") from None
        if version > FORMAT_VERSION:
            raise self.fail(
                f"written by a newer blipdesk (results format {version}; this one reads up to "
                f"{FORMAT_VERSION}): update blipdesk to import it"
            )
        try:
            header = ResultsHeader(
                str(doc["score_key"]),
                str(doc["source"]),
                None if doc.get("revision") is None else str(doc["revision"]),
                int(doc["decode_rule"]),
                version,
                str(doc.get("written_by", "")),
            )
        except (ValueError, KeyError, TypeError):
            raise self.fail("its blipdesk.results metadata is damaged") from None
        if version < 1 or not header.score_key:
            raise self.fail("its blipdesk.results metadata is damaged")
        names = set(self._file.schema_arrow.names)
        missing = [c for c in COLUMNS if c not in names]
        if missing:
            raise self.fail(f"a column is missing ({', '.join(missing)})")
        return header

    def batches(self, columns: Sequence[str] = COLUMNS) -> Iterator[Any]:
        """The rows as Arrow record batches, a row group at a time (damage raised as read)."""
        pa, _ = _pa()
        try:
            yield from self._file.iter_batches(batch_size=ROW_GROUP, columns=list(columns))
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise self.fail(f"damaged ({_short(exc)})") from None

    def chunks(self) -> Iterator[Chunk]:
        """Every row, checked, as the store merges it (``Library.merge_results``)."""
        for batch in self.batches():
            try:
                yield self._chunk(batch)
            except (TypeError, ValueError, IndexError) as exc:  # wrong types in the columns
                raise self.fail(f"damaged ({_short(exc)})") from None

    def _chunk(self, batch: Any) -> Chunk:
        contents = batch.column("content").to_pylist()
        errors_col = batch.column("error").to_pylist()
        sentences_col = batch.column("sentences").to_pylist()
        numbers = [_lists(batch.column(c)) for c in ("itm", "logit_no", "logit_yes", "cosine")]
        itc_off, itc_values, itc_valid = _lists(batch.column("itc"))
        scores: list[ScoreRow] = []
        features: dict[str, np.ndarray] = {}
        errors: dict[str, str] = {}
        for i, content in enumerate(contents):
            self._check_content(content)
            error = errors_col[i]
            if error is not None:
                if not error:
                    raise self.fail(f"the decode error of {content} is empty")
                errors[content] = error
                continue
            sentences = sentences_col[i] or []
            columns = [values[off[i] : off[i + 1]] for off, values, _ in numbers]
            if any(len(v) != len(sentences) for v in columns):
                raise self.fail(f"the scores of {content} do not match its sentences")
            if not all(np.isfinite(v).all() for v in columns):
                raise self.fail(f"a score of {content} is not a number")
            if len(columns[0]) and not ((columns[0] >= 0) & (columns[0] <= 1)).all():
                raise self.fail(f"an ITM probability of {content} is outside [0, 1]")
            for j, sentence in enumerate(sentences):
                if not sentence or not sentence.strip() or "\0" in sentence:
                    raise self.fail(f"a sentence of {content} is empty or not text")
                scores.append(ScoreRow(content, sentence, *(float(v[j]) for v in columns)))
            if itc_valid[i]:
                vector = itc_values[itc_off[i] : itc_off[i + 1]]
                if not vector.size or not np.isfinite(vector).all():
                    raise self.fail(f"the image vector of {content} is damaged")
                features[content] = vector.copy()
        return scores, features, errors

    def _check_content(self, content: object) -> None:
        if not (
            isinstance(content, str)
            and len(content) == 64
            and all(c in "0123456789abcdef" for c in content)
        ):
            raise self.fail(f"a content hash is damaged ({str(content)[:70]!r})")


def _lists(array: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A list<float32> column as (offsets, values, valid) numpy arrays, without Python floats."""
    offsets = array.offsets.to_numpy()
    values = array.values.to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    valid = array.is_valid().to_numpy(zero_copy_only=False)
    return offsets, values, valid


def _open_regular(path: str) -> BinaryIO:
    """Open for reading only a regular file: a FIFO or device named like a results file would
    block or never end. ``O_NONBLOCK`` keeps the open itself from blocking on a FIFO."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise ResultsFileError(f"{path}: cannot read it ({exc.strerror or exc}).") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        reason = os.strerror(errno.EINVAL)
        raise ResultsFileError(f"{path}: not a regular file (a folder, pipe or device; {reason}).")
    return os.fdopen(fd, "rb")


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 120 else text[:119] + "…"


def results_files(names: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The files named: a folder stands for the results files in it (sorted; none is an error)."""
    out: list[Path] = []
    for name in names:
        path = Path(name).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.name.endswith(SUFFIX) and p.is_file())
            if not found:
                raise ResultsFileError(f"{name}: a folder without results files (*{SUFFIX}).")
            out.extend(found)
        else:
            out.append(path)
    return list(dict.fromkeys(out))


def check_model(file: ResultsFile, score_key: str, source: str) -> None:
    """Refuse a file scored by another model (or with another decoding rule, or first token):
    its scores would sit beside this model's as if comparable. One line names both."""
    theirs = file.header
    if theirs.score_key == score_key:
        return
    from blipdesk.core.imaging import DECODE_RULE_VERSION

    if theirs.decode_rule != DECODE_RULE_VERSION and _without_decode(
        theirs.score_key
    ) == _without_decode(score_key):
        raise file.fail(
            f"its photos were decoded with rule {theirs.decode_rule}, this blipdesk decodes with "
            f"rule {DECODE_RULE_VERSION} (the scores would differ); scan them again"
        )
    raise file.fail(
        f"scored by another model ({theirs.source}, key {theirs.score_key}) than this library's "
        f"({source}, key {score_key}); choose that model with --model to import it"
    )


def _without_decode(score_key: str) -> str:
    return "|".join(p for p in score_key.split("|") if not p.startswith("decode="))


def merge_files(library: Any, files: Sequence[ResultsFile]) -> tuple[int, int, int]:
    """Merge ``files`` (all of one score key, checked by the caller) into ``library`` in one
    transaction (``Library.merge_results``): all of them land, or none."""
    header = files[0].header

    def chunks() -> Iterator[Chunk]:
        for f in files:
            yield from f.chunks()

    added: tuple[int, int, int] = library.merge_results(
        header.score_key, header.source, header.revision, chunks()
    )
    return added


# ----------------------------------------------------------------------------------- export


def cached_results(
    library: Any, score_key: str, contents: Sequence[str], paths: Mapping[str, str] | None = None
) -> Iterator[PhotoResult]:
    """What the cache holds for ``contents`` under ``score_key``, photo by photo (read in chunks
    of ``ROW_GROUP``). Contents with neither a score, a vector nor an error are left out."""
    paths = paths or {}
    unique = list(dict.fromkeys(contents))
    for start in range(0, len(unique), ROW_GROUP):
        part = unique[start : start + ROW_GROUP]
        scores = library.sentence_scores(score_key, part)
        itc = library.image_features(score_key, part)
        errors = library.decode_errors(score_key, part)
        for content in part:
            if content in errors:
                yield PhotoResult(content, paths.get(content), error=errors[content])
                continue
            got = scores.get(content, {})
            if not got and content not in itc:
                continue
            sentences = tuple(sorted(got))
            yield PhotoResult(
                content,
                paths.get(content),
                sentences,
                [got[s].itm for s in sentences],
                [got[s].logit_no for s in sentences],
                [got[s].logit_yes for s in sentences],
                [got[s].cosine for s in sentences],
                itc.get(content),
            )


# ----------------------------------------------------------------------------------- done work


@dataclass
class DoneWork:
    """What results files already hold for a set of sentences: per content, a bit per sentence
    scored, whether its ITC vector is there, whether it failed to decode."""

    sentences: tuple[str, ...]
    scored: dict[str, int]  # content -> bit mask over ``sentences``
    vectors: set[str]
    failed: set[str]

    def missing(self, content: str) -> tuple[tuple[int, ...], bool] | None:
        """(indices of the sentences still to score, ITC vector needed), or None: nothing to do."""
        if content in self.failed:
            return None
        mask = self.scored.get(content, 0)
        todo = tuple(i for i in range(len(self.sentences)) if not mask >> i & 1)
        needs_vector = content not in self.vectors
        return (todo, needs_vector) if todo or needs_vector else None


def done_work(files: Sequence[ResultsFile], sentences: Sequence[str]) -> DoneWork:
    """Read what ``files`` hold (content, sentences, whether a vector or an error) for
    ``sentences``: the skip list of a cluster scan."""
    index = {s: i for i, s in enumerate(sentences)}
    done = DoneWork(tuple(sentences), {}, set(), set())
    for f in files:
        for batch in f.batches(("content", "sentences", "itc", "error")):
            has_vector = batch.column("itc").is_valid().to_pylist()
            for content, said, vector, error in zip(
                batch.column("content").to_pylist(),
                batch.column("sentences").to_pylist(),
                has_vector,
                batch.column("error").to_pylist(),
                strict=True,
            ):
                if error is not None:
                    done.failed.add(content)
                    continue
                if vector:
                    done.vectors.add(content)
                mask = done.scored.get(content, 0)
                for s in said or ():
                    if s in index:
                        mask |= 1 << index[s]
                done.scored[content] = mask
    return done


def decode_rule_of(score_key: str) -> int:
    """The decoding rule a score key names (``...|decode=N``)."""
    from blipdesk.core.imaging import DECODE_RULE_VERSION

    for part in reversed(score_key.split("|")):
        if part.startswith("decode=") and part[7:].isdigit():
            return int(part[7:])
    return DECODE_RULE_VERSION
