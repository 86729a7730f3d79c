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

Reading treats the file as hostile (it was written on another machine), in one validation step
whose every refusal is a ``ResultsFileError``: one line naming the file and the reason. A FIFO or
device is refused before opening. On open, before any value is read: the metadata (small, flat
JSON, every field of its type), the schema (each column one leaf of its physical and Arrow type:
a list where lists belong, text read as dictionaries so a value repeated a million times stays
one value) and each row group's size as its footer states it (rows, values per photo and in all,
uncompressed bytes per column), so a file of a few KiB that would unpack to gigabytes is refused
unread. As read, a row group at a time: every value (hash spelling, sentences as non-empty text,
scores aligned to them, finite, ITM in [0, 1] and equal to the softmax of its logits, logits of
sane size, cosines in [-1, 1], ITC vectors of the model's size and of unit length, decode errors
capped and escaped: ``display.display_text``). The file is open only while its rows are read, so
an import of thousands of files holds one descriptor. (What the footer states is trusted as a
bound on what Arrow unpacks: a crafted page that holds more values than its footer says is
decoded by Arrow before the values are refused, within its own limits.)

pyarrow is imported when a file is read or written (``pip install pyarrow``).
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
from blipdesk.core.results_check import (
    LEAVES,
    MAX_GROUP_BYTES,
    MAX_GROUP_ROWS,
    MAX_GROUP_VALUES,
    MAX_ITC,
    MAX_SENTENCE_CHARS,
    MAX_SENTENCES,
    NUMBERS,
    ROW_GROUP,
    SLICE_SCORES,
    ItcSize,
    Newer,
    Refused,
    byte_cap,
    check_scores,
    check_vectors,
    content_hash,
    parse_header,
    parse_tags,
    texts,
)
from blipdesk.domain import ScoreRow, Tag
from blipdesk.infra.display import display_path, display_text
from blipdesk.infra.errors import UserError

FORMAT_VERSION = 1
META_KEY = b"blipdesk.results"
SUFFIX = ".parquet"
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
    # the writing library's tags (name, sentences, threshold): an import adds those missing
    tags: tuple[Tag, ...] = ()

    def encoded(self) -> bytes:
        return json.dumps(
            {
                "format": self.format,
                "score_key": self.score_key,
                "source": self.source,
                "revision": self.revision,
                "decode_rule": self.decode_rule,
                "written_by": self.written_by,
                "tags": [
                    {"name": t.name, "sentences": list(t.sentences), "threshold": t.threshold}
                    for t in self.tags
                ],
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
            "Results files need pyarrow: pip install pyarrow "
            '(in a blipdesk checkout: pip install -e ".[results]").'
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
                self.rows = self._check_groups()
            except (pa.ArrowException, OSError, LookupError, ValueError, TypeError) as exc:
                raise self.fail(
                    f"not a results file (damaged, or not Parquet: {_short(exc)})"
                ) from None

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
        try:
            fields = parse_header(raw, FORMAT_VERSION)
        except Refused as exc:
            raise self.fail(str(exc)) from None
        except Newer as exc:
            raise self.fail(
                f"written by a newer blipdesk (results format {display_text(str(exc), 40)}; this "
                f"one reads up to {FORMAT_VERSION}): update blipdesk to import it"
            ) from None
        version, score_key, source, revision, rule, writer = fields
        try:
            tags = parse_tags(raw)
        except Refused as exc:
            raise self.fail(str(exc)) from None
        return ResultsHeader(score_key, source, revision, rule, version, writer, tags)

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
        for name, (physical, is_list, _cap) in LEAVES.items():
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

        for name, (physical, is_list, _cap) in LEAVES.items():
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
                if name not in LEAVES:
                    continue
                _physical, is_list, cap = LEAVES[name]
                values, nbytes = int(column.num_values), int(column.total_uncompressed_size)
                if values < 0 or nbytes < 0:
                    raise self.fail(f"damaged (row group {g}, column {name})")
                most = n * (cap + 1) if is_list else n
                if values > min(most, MAX_GROUP_VALUES + n):
                    raise self.fail(
                        f"row group {g} holds {values} values in {name}, more than {n} photo(s) "
                        f"can have ({cap} per photo, {MAX_GROUP_VALUES} per row group)"
                    )
                if nbytes > byte_cap(name, n, values):
                    raise self.fail(
                        f"row group {g} unpacks to {nbytes >> 10} KiB in {name}, more than "
                        f"{n} photo(s) can have"
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
    def _opened(self) -> Iterator[Any]:
        """The file open again, the same one that was checked (same inode, size and time)."""
        _, pq = _pa()
        with _open_regular(self.path) as fh:
            st = os.fstat(fh.fileno())
            if (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) != self._identity:
                raise self.fail("it changed while being read")
            yield pq.ParquetFile(fh, metadata=self._meta, read_dictionary=self._dictionary)

    def batches(self, columns: Sequence[str] = COLUMNS) -> Iterator[Any]:
        """The rows as Arrow tables, a row group at a time (text as dictionaries), sizes checked
        but values not (see ``photos``; damage is raised as read)."""
        pa, _ = _pa()
        with self._opened() as parquet:
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
        read = [c for c in COLUMNS if c in LEAVES]
        with self._opened() as parquet:
            for g in range(self._meta.num_row_groups):
                try:
                    table = parquet.read_row_group(g, columns=read)
                    group = self._group(table, itc)
                except Refused as exc:
                    raise self.fail(str(exc)) from None
                except (pa.ArrowException, OSError, LookupError, ValueError, TypeError) as exc:
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
        contents = [content_hash(c) for c in texts(column["content"], 64, "content hash")]
        errors = texts(column["error"], None, "decode error")
        lengths = {
            name: pc.list_value_length(column[name]).fill_null(0).to_numpy(zero_copy_only=False)
            for name in ("sentences", *NUMBERS, "itc")
        }
        said = texts(pc.list_flatten(column["sentences"]), MAX_SENTENCE_CHARS, "sentence")
        flat = {
            name: pc.list_flatten(column[name]).to_numpy(zero_copy_only=False).astype(np.float32)
            for name in (*NUMBERS, "itc")
        }
        has_itc = column["itc"].is_valid().to_numpy(zero_copy_only=False)
        count = lengths["sentences"]
        for i in range(n):
            if errors[i] is not None:
                if count[i] or any(lengths[c][i] for c in NUMBERS) or has_itc[i]:
                    raise Refused(f"{contents[i]} has a decode error and results too")
                continue
            if count[i] > MAX_SENTENCES:
                raise Refused(f"{contents[i]} has {count[i]} sentences (at most {MAX_SENTENCES})")
            if any(lengths[c][i] != count[i] for c in NUMBERS):
                raise Refused(f"the scores of {contents[i]} do not match its sentences")
        check_scores(flat, count, contents)
        vectors = check_vectors(flat["itc"], lengths["itc"], has_itc, contents, itc)
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
    ``library``. The files are read one after the other (one open at a time), every value
    checked; every ITC vector must have the model's size, else the size of those the library
    holds, else the first one's. They are read twice: once to check them all (a damaged file
    leaves the cache untouched), then to merge them a bounded chunk per transaction
    (``Library.merge_results``), so an import of any size never holds the write lock for
    long; a kill midway keeps the chunks merged, and importing again completes it."""
    header = files[0].header
    for f in files:
        if f.header.score_key != header.score_key:
            raise f.fail(f"scored by another model than {files[0].name}")
    known = [f.model_itc for f in files if f.model_itc is not None]
    itc = ItcSize(known[0] if known else library.itc_size(header.score_key))

    def chunks() -> Iterator[Chunk]:
        for f in files:
            yield from f.chunks(itc)

    for _chunk in chunks():  # check everything before the first write
        pass
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
