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

import contextlib
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
from blipdesk.infra.display import display_path, display_text
from blipdesk.infra.errors import UserError
from blipdesk.store import ScoreRow

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

# What a results file may hold. The footer (row counts, values per column, uncompressed bytes) is
# checked against these before any value is read, so a file of a few KiB that unpacks to
# gigabytes is refused unread; the values are checked again as they are read.
MAX_META_BYTES = 64 << 10  # the blipdesk.results metadata (a real one is ~300 bytes)
MAX_TEXT = 4096  # characters of a metadata text (score key, source, revision, writer)
MAX_GROUP_ROWS = 1 << 16  # photos per row group (blipdesk writes ROW_GROUP)
MAX_SENTENCES = 4096  # sentences per row
MAX_SENTENCE_CHARS = 16_384
MAX_ITC = 4096  # values per ITC vector before the model's size is known (BLIP's: 256)
MAX_GROUP_VALUES = ROW_GROUP * MAX_SENTENCES  # list values per column in one row group
MAX_GROUP_BYTES = 256 << 20  # uncompressed bytes of the columns read, per row group
MAX_ERROR_CHARS = 1000  # a decode error is kept this long (escaped: ``display_text``)
MAX_LOGIT = 1e4  # BLIP's ITM logits stay within about +-20
TOLERANCE = 1e-3  # float32 rounding: a cosine a hair past 1, a vector's norm, the softmax
SLICE_SCORES = 1 << 16  # score rows per chunk handed to the store

# The columns read and what each leaf must be: (Parquet physical type, list or not, cap per row).
_LEAVES = {
    "content": ("BYTE_ARRAY", False, 1),
    "sentences": ("BYTE_ARRAY", True, MAX_SENTENCES),
    "itm": ("FLOAT", True, MAX_SENTENCES),
    "logit_no": ("FLOAT", True, MAX_SENTENCES),
    "logit_yes": ("FLOAT", True, MAX_SENTENCES),
    "cosine": ("FLOAT", True, MAX_SENTENCES),
    "itc": ("FLOAT", True, MAX_ITC),
    "error": ("BYTE_ARRAY", False, 1),
}
_NUMBERS = ("itm", "logit_no", "logit_yes", "cosine")
_HEX = frozenset("0123456789abcdef")


@dataclass
class ItcSize:
    """The size every ITC vector of one import (or one resume) must have: the model's where it
    is known, else the first vector's (all vectors of one model are one size)."""

    size: int | None = None


class ResultsFile:
    """A results file, checked whole on open (header, schema, every row group's size) and closed
    again: its rows are read, and every value checked, a row group at a time when asked for, the
    file open only while they are. Thousands of files can be held without a descriptor each."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.name = display_path(self.path)
        self.model_itc: int | None = None  # the model's ITC size, where ``check_model`` found it
        pa, pq = _pa()
        with _open_regular(self.path) as fh:
            st = os.fstat(fh.fileno())
            self._identity = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
            try:
                parquet = pq.ParquetFile(fh)
                self.header = self._header(parquet.schema_arrow.metadata or {})
                self._leaves = self._check_schema(parquet)
                self._meta = parquet.metadata
                self._dictionary = [self._leaves[c] for c in ("content", "sentences", "error")]
                typed = pq.ParquetFile(fh, metadata=self._meta, read_dictionary=self._dictionary)
                self._check_types(typed.schema_arrow)
            except (pa.ArrowException, OSError, ValueError, TypeError, IndexError) as exc:
                raise self.fail(
                    f"not a results file (damaged, or not Parquet: {_short(exc)})"
                ) from None
            self.rows = self._check_groups()

    def close(self) -> None:
        """Nothing to release: the file is open only while its rows are read."""

    def __enter__(self) -> ResultsFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fail(self, reason: str) -> ResultsFileError:
        return ResultsFileError(f"{self.name}: {reason}; nothing was imported.")

    # ------------------------------------------------------------------- the footer

    def _header(self, meta: Mapping[bytes, bytes]) -> ResultsHeader:
        raw = meta.get(META_KEY)
        if raw is None:
            raise self.fail(
                "a Parquet file, but not a blipdesk results file (no blipdesk.results metadata)"
            )
        damaged = self.fail("its blipdesk.results metadata is damaged")
        if len(raw) > MAX_META_BYTES:
            raise damaged
        try:  # NaN and Infinity are not JSON; nesting is refused below (a header is flat)
            doc = json.loads(raw, parse_constant=_no_constant)
        except (ValueError, RecursionError):
            raise damaged from None
        if not isinstance(doc, dict):
            raise damaged
        version = doc.get("format")
        if type(version) is not int or version < 1:
            raise damaged
        if version > FORMAT_VERSION:
            raise self.fail(
                f"written by a newer blipdesk (results format {display_text(str(version), 40)}; "
                f"this one reads up to {FORMAT_VERSION}): update blipdesk to import it"
            )
        score_key, source, revision = doc.get("score_key"), doc.get("source"), doc.get("revision")
        rule, writer = doc.get("decode_rule"), doc.get("written_by", "")
        texts = (score_key, source, writer) + (() if revision is None else (revision,))
        if not (
            all(isinstance(t, str) and len(t) <= MAX_TEXT for t in texts)
            and score_key
            and type(rule) is int
            and 0 <= rule <= 1 << 20
        ):
            raise damaged
        return ResultsHeader(
            str(score_key), str(source), None if revision is None else str(revision), rule,
            version, str(writer),
        )  # fmt: skip

    def _check_schema(self, parquet: Any) -> dict[str, str]:
        """Every column read has one leaf of the right physical type, a list where lists belong
        and a scalar where not. Returns each column's leaf path (``sentences.list.element``)."""
        names = set(parquet.schema_arrow.names)
        missing = [c for c in COLUMNS if c not in names]
        if missing:
            raise self.fail(f"a column is missing ({', '.join(missing)})")
        leaves: dict[str, list[Any]] = {}
        schema = parquet.schema
        for i in range(len(schema)):
            leaf = schema.column(i)
            leaves.setdefault(leaf.path.split(".")[0], []).append(leaf)
        out = {}
        for name, (physical, is_list, _cap) in _LEAVES.items():
            found = leaves.get(name, [])
            ok = len(found) == 1 and found[0].physical_type == physical
            if ok and found[0].max_repetition_level != (1 if is_list else 0):
                ok = False
            if not ok:
                kind = "a list of " if is_list else ""
                what = "text" if physical == "BYTE_ARRAY" else "32-bit floats"
                raise self.fail(f"the column {name} is not {kind}{what}")
            out[name] = str(found[0].path)
        return out

    def _check_types(self, schema: Any) -> None:
        """The Arrow types the columns are read as (a file may state its own): strings read as
        dictionaries (a value repeated a million times stays one value), lists as lists."""
        pa, _ = _pa()
        types = pa.types

        def text(t: Any) -> bool:
            return bool(types.is_dictionary(t) and types.is_string(t.value_type))

        for name, (physical, is_list, _cap) in _LEAVES.items():
            t = schema.field(name).type
            if is_list:
                ok = types.is_list(t) and (
                    text(t.value_type) if physical == "BYTE_ARRAY" else t.value_type == pa.float32()
                )
            else:
                ok = text(t)
            if not ok:
                raise self.fail(f"the column {name} is {display_text(str(t), 80)}, not as written")

    def _check_groups(self) -> int:
        """Each row group's size as the footer states it, before any of it is read: rows,
        values per list column (per photo and in all) and uncompressed bytes."""
        meta = self._meta
        rows = 0
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            n = int(group.num_rows)
            if not 0 <= n <= MAX_GROUP_ROWS:
                raise self.fail(f"row group {g} holds {n} rows (at most {MAX_GROUP_ROWS})")
            rows += n
            size = 0
            for j in range(group.num_columns):
                column = group.column(j)
                name = str(column.path_in_schema).split(".")[0]
                if name not in _LEAVES:
                    continue
                _physical, is_list, cap = _LEAVES[name]
                values, nbytes = int(column.num_values), int(column.total_uncompressed_size)
                if values < 0 or nbytes < 0:
                    raise self.fail(f"damaged (row group {g}, column {name})")
                most = n * (cap + 1) if is_list else n
                if values > min(most, MAX_GROUP_VALUES + n):
                    raise self.fail(
                        f"row group {g} holds {values} values in {name}, more than {n} photos "
                        f"may ({cap} per photo, {MAX_GROUP_VALUES} per row group)"
                    )
                size += nbytes
            if size > MAX_GROUP_BYTES:
                raise self.fail(
                    f"row group {g} unpacks to {size >> 20} MiB (at most {MAX_GROUP_BYTES >> 20})"
                )
        if rows != meta.num_rows:
            raise self.fail("damaged (its row count does not match its row groups)")
        return rows

    # ------------------------------------------------------------------- the rows

    @contextlib.contextmanager
    def _opened(self, dictionaries: bool = True) -> Iterator[Any]:
        """The file open again, the same one that was checked (same inode, size and time)."""
        _, pq = _pa()
        with _open_regular(self.path) as fh:
            st = os.fstat(fh.fileno())
            if (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) != self._identity:
                raise self.fail("it changed while being read")
            read_dictionary = self._dictionary if dictionaries else None
            yield pq.ParquetFile(fh, metadata=self._meta, read_dictionary=read_dictionary)

    def batches(self, columns: Sequence[str] = COLUMNS) -> Iterator[Any]:
        """The rows as Arrow tables, a row group at a time, as stored: values not checked (see
        ``photos``; damage is raised as read)."""
        pa, _ = _pa()
        with self._opened(dictionaries=False) as parquet:
            for g in range(self._meta.num_row_groups):
                try:
                    table = parquet.read_row_group(g, columns=list(columns))
                except (pa.ArrowException, OSError, ValueError) as exc:
                    raise self.fail(f"damaged ({_short(exc)})") from None
                yield table

    def photos(self, itc: ItcSize | None = None) -> Iterator[PhotoResult]:
        """Every row, every value checked (see the module docstring), as ``PhotoResult``s;
        decode errors capped and escaped (``display_text``). ``itc``: the vector size expected
        (shared by the files of one import), learnt from the first vector where unknown."""
        pa, _ = _pa()
        itc = itc if itc is not None else ItcSize()
        read = [c for c in COLUMNS if c in _LEAVES]
        with self._opened() as parquet:
            for g in range(self._meta.num_row_groups):
                try:
                    table = parquet.read_row_group(g, columns=read)
                    group = self._group(table, itc)
                except ResultsFileError:
                    raise
                except (pa.ArrowException, OSError, ValueError, TypeError, IndexError) as exc:
                    raise self.fail(f"damaged ({_short(exc)})") from None
                yield from group

    def chunks(self, itc: ItcSize | None = None) -> Iterator[Chunk]:
        """Every row, checked, as the store merges it (``Library.merge_results``), in chunks of
        about ``SLICE_SCORES`` scores."""
        scores: list[ScoreRow] = []
        features: dict[str, np.ndarray] = {}
        errors: dict[str, str] = {}
        for photo in self.photos(itc):
            if photo.error is not None:
                errors[photo.content] = photo.error
            else:
                values = zip(photo.sentences, photo.itm, photo.logit_no, photo.logit_yes,
                             photo.cosine, strict=True)  # fmt: skip
                scores.extend(
                    ScoreRow(photo.content, s, float(a), float(b), float(c), float(d))
                    for s, a, b, c, d in values
                )
                if photo.itc is not None:
                    features[photo.content] = photo.itc
            if len(scores) >= SLICE_SCORES or len(features) + len(errors) >= ROW_GROUP:
                yield scores, features, errors
                scores, features, errors = [], {}, {}
        if scores or features or errors:
            yield scores, features, errors

    def _group(self, table: Any, itc: ItcSize) -> list[PhotoResult]:
        """One row group's rows, every value checked at once (numpy over Arrow buffers: no
        Python object per value until the whole group has passed)."""
        import pyarrow.compute as pc

        column = {name: table.column(name).combine_chunks() for name in table.column_names}
        n = table.num_rows
        contents = [self._content(c) for c in self._texts(column["content"], 64, "content hash")]
        errors = self._texts(column["error"], None, "decode error")
        lengths = {
            name: pc.list_value_length(column[name]).fill_null(0).to_numpy(zero_copy_only=False)
            for name in ("sentences", *_NUMBERS, "itc")
        }
        said = self._texts(pc.list_flatten(column["sentences"]), MAX_SENTENCE_CHARS, "sentence")
        flat = {
            name: pc.list_flatten(column[name]).to_numpy(zero_copy_only=False).astype(np.float32)
            for name in (*_NUMBERS, "itc")
        }
        has_itc = column["itc"].is_valid().to_numpy(zero_copy_only=False)
        count = lengths["sentences"]
        for i in range(n):
            if errors[i] is not None:
                if count[i] or any(lengths[c][i] for c in _NUMBERS) or has_itc[i]:
                    raise self.fail(f"{contents[i]} has a decode error and results too")
                continue
            if count[i] > MAX_SENTENCES:
                raise self.fail(f"{contents[i]} has {count[i]} sentences (at most {MAX_SENTENCES})")
            if any(lengths[c][i] != count[i] for c in _NUMBERS):
                raise self.fail(f"the scores of {contents[i]} do not match its sentences")
        self._check_scores(flat, count, contents)
        vectors = self._vectors(flat["itc"], lengths["itc"], has_itc, contents, itc)
        ends = np.cumsum(count)
        out = []
        row = 0
        for i in range(n):
            start, end = int(ends[i] - count[i]), int(ends[i])
            if errors[i] is not None:
                out.append(PhotoResult(contents[i], None, error=errors[i]))
                continue
            out.append(
                PhotoResult(
                    contents[i],
                    None,
                    tuple(str(t) for t in said[start:end]),  # checked: text, no null
                    flat["itm"][start:end],
                    flat["logit_no"][start:end],
                    flat["logit_yes"][start:end],
                    flat["cosine"][start:end],
                    vectors[row].copy() if has_itc[i] else None,
                )
            )
            row += int(has_itc[i])
        return out

    def _texts(self, array: Any, limit: int | None, what: str) -> list[str | None]:
        """A dictionary-encoded text column as Python strings, each distinct value checked (and
        converted) once; lengths checked in Arrow before a long value becomes a Python string.
        ``limit`` None: a decode error, cut to ``MAX_ERROR_CHARS`` and escaped."""
        import pyarrow.compute as pc

        dictionary = array.dictionary
        indices = array.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        if len(indices) and int(indices.max()) >= len(dictionary):
            raise self.fail(f"damaged (a {what} refers past its dictionary)")
        if limit is None:
            cut = pc.utf8_slice_codeunits(dictionary, 0, MAX_ERROR_CHARS + 1).to_pylist()
            values = [None if v is None else display_text(v, MAX_ERROR_CHARS) for v in cut]
            if "" in values:
                raise self.fail(f"a {what} is empty")
        else:
            longest = pc.max(pc.utf8_length(dictionary)).as_py() if len(dictionary) else 0
            if longest is not None and longest > limit:
                raise self.fail(f"a {what} is {longest} characters long (at most {limit})")
            values = dictionary.to_pylist()
            if what == "sentence":
                for v in values:
                    if v is None or not v.strip() or "\0" in v:
                        raise self.fail(
                            f"a sentence is empty or not text ({display_text(repr(v), 80)})"
                        )
                if int(array.null_count):
                    raise self.fail("a sentence is empty or not text (null)")
        return [None if k < 0 else values[k] for k in indices.tolist()]

    def _content(self, content: str | None) -> str:
        if not (content is not None and len(content) == 64 and set(content) <= _HEX):
            raise self.fail(f"a content hash is damaged ({display_text(repr(content), 80)})")
        return content

    def _check_scores(
        self, flat: Mapping[str, np.ndarray], count: np.ndarray, contents: Sequence[str]
    ) -> None:
        """Every score finite and in its range: ITM a probability equal to the softmax of its
        logits, logits of sane size, cosines in [-1, 1] (float32 rounding allowed)."""
        itm, no, yes, cos = (flat[c] for c in _NUMBERS)
        checks: list[tuple[np.ndarray, str]] = [
            (~np.isfinite(itm) | ~np.isfinite(no) | ~np.isfinite(yes) | ~np.isfinite(cos),
             "a score of {} is not a number"),
            ((itm < 0) | (itm > 1), "an ITM probability of {} is outside [0, 1]"),
            ((np.abs(no) > MAX_LOGIT) | (np.abs(yes) > MAX_LOGIT),
             f"an ITM logit of {{}} is beyond +-{MAX_LOGIT:g}"),
            (np.abs(cos) > 1 + TOLERANCE, "a cosine of {} is outside [-1, 1]"),
        ]  # fmt: skip
        with np.errstate(all="ignore"):
            softmax = 1 / (1 + np.exp(no.astype(np.float64) - yes))
            mismatch = np.abs(softmax - itm) > TOLERANCE
        checks.append((mismatch, "an ITM probability of {} does not match its logits"))
        for bad, message in checks:
            if bad.any():
                row = int(np.searchsorted(np.cumsum(count), int(np.argmax(bad)), side="right"))
                raise self.fail(message.format(contents[row]))

    def _vectors(
        self,
        flat: np.ndarray,
        lengths: np.ndarray,
        valid: np.ndarray,
        contents: Sequence[str],
        itc: ItcSize,
    ) -> np.ndarray:
        """The group's ITC vectors as one (rows with a vector, size) matrix: each of the model's
        size (or, where that is unknown, of the first vector's), finite, of unit length."""
        sizes = lengths[valid]
        if not len(sizes):
            return np.zeros((0, itc.size or 0), np.float32)
        if itc.size is None:
            itc.size = int(sizes[0])
        wrong = np.flatnonzero(sizes != itc.size)
        if len(wrong) or not 0 < itc.size <= MAX_ITC:
            row = np.flatnonzero(valid)[wrong[0] if len(wrong) else 0]
            raise self.fail(
                f"the image vector of {contents[row]} has {lengths[row]} values, "
                f"the model's have {itc.size}"
            )
        matrix = flat.reshape(len(sizes), itc.size)
        with np.errstate(all="ignore"):
            norms = np.sqrt(np.square(matrix, dtype=np.float64).sum(axis=1))
        bad = ~np.isfinite(matrix).all(axis=1) | ~(np.abs(norms - 1) <= TOLERANCE)
        if bad.any():
            row = np.flatnonzero(valid)[int(np.argmax(bad))]
            raise self.fail(f"the image vector of {contents[row]} is damaged (not a unit vector)")
        return matrix


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _open_regular(path: str) -> BinaryIO:
    """Open for reading only a regular file: a FIFO or device named like a results file would
    block or never end. ``O_NONBLOCK`` keeps the open itself from blocking on a FIFO."""
    shown = display_path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise ResultsFileError(f"{shown}: cannot read it ({exc.strerror or exc}).") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        reason = os.strerror(errno.EINVAL)
        raise ResultsFileError(f"{shown}: not a regular file (a folder, pipe or device; {reason}).")
    return os.fdopen(fd, "rb")


def _short(exc: BaseException) -> str:
    return display_text(" ".join(str(exc).split()) or type(exc).__name__, 120)


def results_files(names: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The files named: a folder stands for the results files in it (sorted; none is an error)."""
    out: list[Path] = []
    for name in names:
        path = Path(name).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.name.endswith(SUFFIX) and p.is_file())
            if not found:
                raise ResultsFileError(
                    f"{display_path(name)}: a folder without results files (*{SUFFIX})."
                )
            out.extend(found)
        else:
            out.append(path)
    return list(dict.fromkeys(out))


def check_model(file: ResultsFile, score_key: str, source: str) -> None:
    """Refuse a file scored by another model (or with another decoding rule, or first token):
    its scores would sit beside this model's as if comparable. One line names both. A file of
    this model learns the model's ITC vector size (``model_itc_size``): its vectors must have it."""
    theirs = file.header
    if theirs.score_key == score_key:
        file.model_itc = model_itc_size(score_key, source)
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
        f"scored by another model ({display_text(theirs.source, 200)}, key "
        f"{display_text(theirs.score_key, 200)}) than this library's ({display_text(source, 200)}, "
        f"key {score_key}); choose that model with --model to import it"
    )


def model_itc_size(score_key: str, source: str) -> int | None:
    """The ITC vector size of the model keyed ``score_key`` (``source``: the library's own, never
    a file's), from its config.json where that is on this machine: the local folder, or the hub
    cache at the key's commit. Never downloads; None when the config is not here."""
    from blipdesk.core.model import _read_json, looks_like_path
    from blipdesk.infra.errors import ModelError

    config: Path | None = None
    if looks_like_path(source):
        config = Path(source) / "config.json"
    elif score_key.startswith(f"hub:{source}@"):
        commit = score_key.split("|")[0].rpartition("@")[2]
        try:
            from huggingface_hub import try_to_load_from_cache

            found = try_to_load_from_cache(source, "config.json", revision=commit)
        except (ImportError, ValueError, OSError):
            found = None
        config = Path(found) if isinstance(found, str) else None
    if config is None or not config.is_file():
        return None
    try:
        doc = _read_json(config)
    except ModelError:
        return None
    size = doc.get("image_text_hidden_size", 256) if isinstance(doc, dict) else None
    return size if type(size) is int and 0 < size <= MAX_ITC else None


def _without_decode(score_key: str) -> str:
    return "|".join(p for p in score_key.split("|") if not p.startswith("decode="))


def merge_files(library: Any, files: Sequence[ResultsFile]) -> tuple[int, int, int]:
    """Merge ``files`` (all of one score key, checked by the caller with ``check_model``) into
    ``library`` in one transaction (``Library.merge_results``): all of them land, or none. The
    files are read one after the other (one open at a time), every value checked; every ITC
    vector must have the model's size, else the size of those the library holds, else the
    first one's."""
    header = files[0].header
    for f in files:
        if f.header.score_key != header.score_key:
            raise f.fail(f"scored by another model than {files[0].name}")
    known = [f.model_itc for f in files if f.model_itc is not None]
    itc = ItcSize(known[0] if known else library.itc_size(header.score_key))

    def chunks() -> Iterator[Chunk]:
        for f in files:
            yield from f.chunks(itc)

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


def done_work(
    files: Sequence[ResultsFile], sentences: Sequence[str], itc_size: int | None = None
) -> DoneWork:
    """Read what ``files`` hold (content, sentences, whether a vector or an error) for
    ``sentences``, one file open at a time and every value checked as an import checks it
    (``itc_size``: the model's vector size where known): the skip list of a cluster scan."""
    index = {s: i for i, s in enumerate(sentences)}
    done = DoneWork(tuple(sentences), {}, set(), set())
    itc = ItcSize(itc_size)
    for f in files:
        for photo in f.photos(itc):
            if photo.error is not None:
                done.failed.add(photo.content)
                continue
            if photo.itc is not None:
                done.vectors.add(photo.content)
            mask = done.scored.get(photo.content, 0)
            for s in photo.sentences:
                if s in index:
                    mask |= 1 << index[s]
            done.scored[photo.content] = mask
    return done


def decode_rule_of(score_key: str) -> int:
    """The decoding rule a score key names (``...|decode=N``)."""
    from blipdesk.core.imaging import DECODE_RULE_VERSION

    for part in reversed(score_key.split("|")):
        if part.startswith("decode=") and part[7:].isdigit():
            return int(part[7:])
    return DECODE_RULE_VERSION
