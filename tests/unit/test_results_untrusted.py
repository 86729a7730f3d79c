"""Results files are untrusted input (written on another machine): whatever a file holds, reading
it either yields checked rows or refuses the file with one ``ResultsFileError`` line naming it.
Sizes are checked on the footer before a value is read; every value is checked by type, size and
range; text from a file is stored capped and escaped; files are opened one at a time."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.results import cli, dump, need

pa = need("pyarrow")
pq = need("pyarrow.parquet")

from blipdesk.core.results import (  # noqa: E402
    META_KEY,
    ItcSize,
    PhotoResult,
    ResultsFile,
    ResultsFileError,
    ResultsHeader,
    done_work,
    results_bytes,
)

ROOT = Path(__file__).resolve().parents[2]
DIM = 8
HEADER = ResultsHeader("hub:someone/blip@abc|first=cls|decode=1", "someone/blip", "abc", 1)


def unit(seed: int, dim: int = DIM) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return v / np.linalg.norm(v)


def photo(i: int, sentences=("a dog",), dim: int = DIM) -> PhotoResult:
    """A consistent row: ITM the softmax of its logits, a cosine, a unit vector."""
    no, yes = [0.5] * len(sentences), [-0.5 + 0.1 * j for j in range(len(sentences))]
    itm = [1 / (1 + math.exp(n - y)) for n, y in zip(no, yes, strict=True)]
    return PhotoResult(f"{i:064x}", None, tuple(sentences), itm, no, yes, [0.1] * len(sentences),
                       unit(i, dim))  # fmt: skip


def columns(rows: int = 3) -> dict:
    """A valid table's columns as Arrow arrays (what ``results_bytes`` writes)."""
    ps = [photo(i) for i in range(rows)]
    f32 = pa.list_(pa.float32())
    return {
        "content": pa.array([p.content for p in ps]),
        "path": pa.array([None] * rows, pa.string()),
        "sentences": pa.array([list(p.sentences) for p in ps], pa.list_(pa.string())),
        "itm": pa.array([list(p.itm) for p in ps], f32),
        "logit_no": pa.array([list(p.logit_no) for p in ps], f32),
        "logit_yes": pa.array([list(p.logit_yes) for p in ps], f32),
        "cosine": pa.array([list(p.cosine) for p in ps], f32),
        "itc": pa.array([list(map(float, p.itc)) for p in ps], f32),
        "error": pa.array([None] * rows, pa.string()),
    }


def write(path: Path, cols: dict, meta: bytes | None = None, twice: str | None = None) -> Path:
    """``cols`` as a results file (``twice``: a column written twice)."""
    names = [*cols, *([twice] if twice in cols else [])]
    table = pa.Table.from_arrays([cols[name] for name in names], names=names)
    table = table.replace_schema_metadata({META_KEY: HEADER.encoded() if meta is None else meta})
    pq.write_table(table, path, compression="zstd")
    return path


def read_all(path: Path, itc: int | None = DIM) -> list[PhotoResult]:
    """Every row of ``path``, read both ways (as photos, and as the store's chunks)."""
    with ResultsFile(path) as f:
        list(f.chunks(ItcSize(itc)))
        return list(f.photos(ItcSize(itc)))


def refusal(path: Path, itc: int | None = DIM) -> str:
    with pytest.raises(ResultsFileError) as got:
        read_all(path, itc)
    message = str(got.value)
    assert "\n" not in message and message.isprintable(), message
    assert message.startswith(str(path)) and message.endswith("nothing was imported.")
    return message


def test_a_valid_file_reads_back_as_written(tmp_path):
    rows = [photo(i, ("a dog", "a cat")) for i in range(5)]
    rows.append(PhotoResult("f" * 64, None, error="cannot identify image file"))
    path = tmp_path / "ok.parquet"
    path.write_bytes(results_bytes(HEADER, rows))
    got = {p.content: p for p in read_all(path)}
    assert got["f" * 64].error == "cannot identify image file"
    for want in rows[:5]:
        p = got[want.content]
        assert p.sentences == want.sentences and np.array_equal(p.itc, want.itc)
        assert np.array_equal(p.itm, np.float32(want.itm))


# ---------------------------------------------------------------- 9: memory, from the footer


def test_a_small_file_of_millions_of_values_is_refused_before_any_is_read(tmp_path):
    """One row of 500,000 sentences (dictionary-encoded: a few KiB on disk) and one ITC vector of
    500,000 values: refused on open from the footer's value counts; nothing is read (the pool that
    Arrow reads into does not grow). Today's code read them (20 M sentences: 3.9 GB)."""
    n = 500_000
    cols = columns(1)
    cols["sentences"] = pa.ListArray.from_arrays(
        pa.array([0, n], pa.int32()), pa.repeat(pa.scalar("a dog"), n)
    )
    huge = tmp_path / "sentences.parquet"
    write(huge, cols)
    cols = columns(1)
    values = np.full(n, 1e-4, np.float32)
    cols["itc"] = pa.ListArray.from_arrays(pa.array([0, len(values)], pa.int32()), values)
    vector = tmp_path / "vector.parquet"
    write(vector, cols)
    assert huge.stat().st_size < 64 << 10
    before = pa.total_allocated_bytes()
    for path, column in ((huge, "sentences"), (vector, "itc")):
        reason = f"values in {column}, more than 1 photo(s) can have"
        with pytest.raises(ResultsFileError, match=re.escape(reason)):
            ResultsFile(path)
    assert pa.total_allocated_bytes() - before < 1 << 20


def test_a_decode_error_is_stored_capped_and_a_huge_one_refused_unread(
    tmp_path, tiny_model_dir, capsys
):
    """A 1 MB decode error (a few KiB compressed) lands as 1,000 characters, not 1 MB; a 20 MB
    one is refused from the footer (more than a decode error can be), unread."""
    from blipdesk.core.engine import model_key
    from blipdesk.core.model import ModelSpec
    from blipdesk.store import Library

    key = model_key(ModelSpec(str(tiny_model_dir)))
    header = ResultsHeader(key.score_key, key.source, None, 1)
    path, huge = tmp_path / "long-error.parquet", tmp_path / "huge-error.parquet"
    path.write_bytes(results_bytes(header, [PhotoResult("e" * 64, None, error="x" * 1_000_000)]))
    huge.write_bytes(results_bytes(header, [PhotoResult("e" * 64, None, error="x" * 20_000_000)]))
    assert path.stat().st_size < 64 << 10 and huge.stat().st_size < 64 << 10
    data = tmp_path / "data"
    assert cli(data, "results", "import", path, "--model", tiny_model_dir) == 0
    with Library.open(data / "library.sqlite3", readonly=True) as lib:
        [stored] = lib.decode_errors(key.score_key, ["e" * 64]).values()
    assert len(stored) == 1000 and stored.startswith("xxx") and stored.endswith("…")
    capsys.readouterr()
    assert cli(tmp_path / "other", "results", "import", huge, "--model", tiny_model_dir) == 1
    assert "unpacks to 19531 KiB in error, more than 1 photo(s) can have" in capsys.readouterr().err


# ---------------------------------------------------------------- 10: every value, the model's size


@pytest.mark.parametrize("size", [7, 15, 4096])
def test_a_vector_of_another_size_than_the_models_is_refused(
    tmp_path, tiny_model_dir, size, capsys
):
    """The tiny model's ITC vectors have 16 values (its config): 7, 15 or 4096 are refused at
    import, the cache untouched (today they were stored and broke search for the library)."""
    from blipdesk.core.engine import model_key
    from blipdesk.core.model import ModelSpec

    key = model_key(ModelSpec(str(tiny_model_dir)))
    header = ResultsHeader(key.score_key, key.source, None, 1)
    path = tmp_path / f"itc-{size}.parquet"
    path.write_bytes(results_bytes(header, [photo(1, dim=size)]))
    data = tmp_path / "data"
    assert cli(data, "tags", "list") == 0
    before = dump(data)
    capsys.readouterr()
    assert cli(data, "results", "import", path, "--model", tiny_model_dir) == 1
    err = capsys.readouterr().err
    assert f"has {size} values, the model's have 16" in err and str(path) in err
    assert len(err.strip().splitlines()) == 1
    assert dump(data) == before


def test_vectors_of_two_sizes_are_refused_where_the_model_is_unknown(tmp_path):
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    a.write_bytes(results_bytes(HEADER, [photo(1, dim=8)]))
    b.write_bytes(results_bytes(HEADER, [photo(2, dim=9)]))
    itc = ItcSize()
    list(ResultsFile(a).chunks(itc))
    with pytest.raises(ResultsFileError, match="has 9 values, the model's have 8"):
        list(ResultsFile(b).chunks(itc))


def _bad(**change) -> PhotoResult:
    good = photo(3)
    return PhotoResult(**{**good.__dict__, **change})


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (_bad(cosine=[1.5]), "a cosine of .* is outside"),
        (_bad(cosine=[float("nan")]), "is not a number"),
        (_bad(logit_no=[1e30], logit_yes=[1e30]), "an ITM logit of .* is beyond"),
        (_bad(itm=[0.9]), "does not match its logits"),
        (_bad(itm=[-0.1]), r"outside \[0, 1\]"),
        (_bad(itc=unit(3) * 3), "not a unit vector"),
        (_bad(itc=np.full(DIM, np.inf, np.float32)), "image vector .* is damaged"),
        (_bad(itc=np.zeros(0, np.float32)), "has 0 values"),
        (_bad(itm=[0.5, 0.5]), "do not match its sentences"),
        (_bad(sentences=("",)), "empty or not text"),
        (_bad(sentences=("a\0b",)), "empty or not text"),
        (_bad(sentences=("x" * 20_000,)), "20000 characters long"),
        (_bad(content="G" * 64), "content hash is damaged"),
        (PhotoResult("a" * 64, None, error=""), "decode error is empty"),
        (PhotoResult("a" * 64, None, ("s",), [0.5], [0.0], [0.0], [0.1], error="x"), "and results"),
    ],
)
def test_every_value_is_checked(tmp_path, row, reason):
    path = tmp_path / "bad.parquet"
    path.write_bytes(results_bytes(HEADER, [photo(1), row]))
    message = refusal(path)
    assert re.search(reason, message), message


# ---------------------------------------------------------------- 11: one line, whatever the shape


def deep(n: int) -> bytes:
    return b'{"format": 1, "x": ' + b"[" * n + b"]" * n + b"}"


f32 = pa.list_(pa.float32())
MALFORMED = {
    "nested 100,000 deep": ({}, deep(100_000)),
    "nested 30,000 deep, under the size cap": ({}, deep(30_000)),
    "format Infinity": ({}, b'{"format": Infinity, "score_key": "k"}'),
    "format NaN": ({}, b'{"format": NaN}'),
    "format a float": ({}, b'{"format": 1.0}'),
    "format a huge number": ({}, b'{"format": 1' + b"0" * 5000 + b"}"),
    "score_key a list": ({}, b'{"format": 1, "score_key": ["k"], "source": "s", "decode_rule": 1}'),
    "metadata a list": ({}, b"[1]"),
    "metadata not UTF-8": ({}, b'{"format": 1, "score_key": "\xff"}'),
    "fixed-size-list vector": (
        {"itc": pa.FixedSizeListArray.from_arrays(pa.array(np.tile(unit(0), 3)), DIM)},
        None,
    ),
    "scalar where a list belongs": ({"itm": pa.array([0.5, 0.5, 0.5], pa.float32())}, None),
    "sentences that are numbers": ({"sentences": pa.array([[1], [2], [3]])}, None),
    "sentences that are lists": ({"sentences": pa.array([[["a"]], [["b"]], [["c"]]])}, None),
    "sentences a string": ({"sentences": pa.array(["a", "b", "c"])}, None),
    "scores as doubles": ({"cosine": pa.array([[0.1]] * 3, pa.list_(pa.float64()))}, None),
    "a large_list vector": (
        {"itc": pa.array([list(unit(i)) for i in range(3)], pa.large_list(pa.float32()))},
        None,
    ),
    "content a number": ({"content": pa.array([1, 2, 3])}, None),
    "error a struct": ({"error": pa.array([{"a": 1}] * 3)}, None),
    "a column missing": ({"itc": None}, None),
    "a column twice": ({}, None, "itc"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_file_is_refused_in_one_line(tmp_path, case):
    change, meta, *twice = MALFORMED[case]
    cols = columns()
    for name, value in change.items():
        if value is None:
            del cols[name]
        else:
            cols[name] = value
    path = write(tmp_path / "bad.parquet", cols, meta, *twice)
    refusal(path)


def test_a_malformed_file_in_a_cluster_results_folder_is_refused_in_one_line(tmp_path):
    """``cluster scan``'s resume reads the folder's files with the same checks (before Ray)."""
    from blipdesk.core.cluster import cluster_scan
    from blipdesk.core.engine import ModelKey
    from blipdesk.core.model import ModelSpec

    folder = tmp_path / "results"
    folder.mkdir()
    key = ModelKey(HEADER.score_key, "image", HEADER.source)
    (folder / "good.parquet").write_bytes(results_bytes(HEADER, [photo(1)]))
    for case in ("nested 100,000 deep", "format Infinity", "sentences that are numbers"):
        change, meta, *_ = MALFORMED[case]
        bad = write(folder / "z-bad.parquet", {**columns(), **change}, meta)
        with pytest.raises(ResultsFileError) as got:
            cluster_scan([tmp_path], ["a dog"], key, ModelSpec(HEADER.source), folder)
        assert str(got.value).startswith(str(bad)) and "\n" not in str(got.value)
    bad.unlink()
    (folder / "z-bad.parquet").write_bytes(results_bytes(HEADER, [photo(2, dim=DIM + 1)]))
    with pytest.raises(ResultsFileError, match="has 9 values, the model's have 8"):
        done_work([ResultsFile(p) for p in sorted(folder.iterdir())], ["a dog"])


# ---------------------------------------------------------------- 12: text from a file, escaped


FORGED = "cannot identify image\x1b[2J\nblipdesk: scan done: 0 unreadable"


def test_display_text_escapes_and_caps_and_is_idempotent():
    from blipdesk.infra.display import display_path, display_text

    shown = display_text(FORGED)
    assert shown == "cannot identify image\\x1b[2J\\nblipdesk: scan done: 0 unreadable"
    assert display_text(shown) == shown
    assert display_text("caf\udce9 \u202egpj.exe") == "caf\\udce9 \\u202egpj.exe"
    long = display_text("\x1b" * 5000, 100)
    assert len(long) <= 100 and long.endswith("…") and long.isprintable()
    assert display_text(long, 100) == long
    assert display_text("plain") == "plain" and display_path("a\nb") == "'a\\nb'"


def test_a_decode_error_from_a_file_never_reaches_the_terminal_raw(
    tmp_path, tiny_model_dir, capsys
):
    """A decode error holding ESC[2J and a line break, imported, then printed by every scan of
    that photo: stored escaped (one line), so the scan prints it as text."""
    from blipdesk.core.engine import model_key
    from blipdesk.core.inventory import hashed_record
    from blipdesk.core.model import ModelSpec
    from tests.helpers.models import scene

    photos = tmp_path / "photos"
    photos.mkdir()
    scene(40, 30, 1).save(photos / "p.jpg")
    content = hashed_record(str(photos / "p.jpg"), os.stat(photos / "p.jpg")).content
    key = model_key(ModelSpec(str(tiny_model_dir)))
    path = tmp_path / "forged.parquet"
    header = ResultsHeader(key.score_key, key.source, None, 1)
    path.write_bytes(results_bytes(header, [PhotoResult(content, None, error=FORGED)]))
    data = tmp_path / "data"
    assert cli(data, "tags", "add", "dog", "a dog") == 0
    assert cli(data, "results", "import", path, "--model", tiny_model_dir) == 0
    capsys.readouterr()
    assert cli(data, "scan", photos, "--model", tiny_model_dir, "--device", "cpu") == 0
    err = capsys.readouterr().err
    assert "\x1b" not in err
    [line] = [line for line in err.splitlines() if "p.jpg" in line]
    assert line.endswith("cannot identify image\\x1b[2J\\nblipdesk: scan done: 0 unreadable")


def test_text_in_a_refusal_is_escaped(tmp_path, tiny_model_dir, capsys):
    """A file of another model whose source holds escapes, under a name with a line break."""
    other = ResultsHeader("evil|first=cls|decode=1", "\x1b[2Jevil\nblipdesk: done", None, 1)
    path = tmp_path / "a\nb.parquet"
    path.write_bytes(results_bytes(other, [photo(1)]))
    data = tmp_path / "data"
    assert cli(data, "tags", "list") == 0
    capsys.readouterr()
    assert cli(data, "results", "import", path, "--model", tiny_model_dir) == 1
    err = capsys.readouterr().err
    assert "\x1b" not in err and len(err.strip().splitlines()) == 1
    assert "/a\\nb.parquet'" in err and "\\x1b[2Jevil\\nblipdesk: done" in err


# ---------------------------------------------------------------- 13: one file open at a time

UNDER_A_LOW_FILE_LIMIT = textwrap.dedent(
    """
    import resource, sys
    from pathlib import Path
    from blipdesk import app
    from blipdesk.core.engine import ModelKey
    from blipdesk.core.cluster import existing_results
    from blipdesk.core.results import done_work

    data, folder, key, source = sys.argv[1:5]
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    files = existing_results(Path(folder), ModelKey(key, "image", source))
    done = done_work(files, ["a dog"])
    print("resume", len(files), len(done.vectors))
    sys.exit(app.main(["--data-dir", data, "results", "import", folder]))
    """
)


def test_more_files_than_the_open_file_limit(tmp_path):
    """100 files at a limit of 64 open files: the import and the cluster resume read them one
    at a time (today every file was held open: past the limit a healthy file was blamed)."""
    from blipdesk.services.settings import Settings

    hub = Settings().model  # the library's model, not on this machine: the files' key is taken
    header = ResultsHeader(f"hub:{hub}@abc|first=cls|decode=1", hub, "abc", 1)
    folder = tmp_path / "results"
    folder.mkdir()
    for i in range(100):
        (folder / f"part-{i:03d}.parquet").write_bytes(results_bytes(header, [photo(i)]))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [tmp_path / "data", folder, header.score_key, hub]
    done = subprocess.run(
        [sys.executable, "-c", UNDER_A_LOW_FILE_LIMIT, *map(str, args)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resume 100 100" in done.stdout
    assert "imported 100 file(s), 100 photo row(s): 100 new score(s), 100 new image" in done.stderr


# ---------------------------------------------------------------- the class: fuzzed tables

TYPES = [
    pa.string(), pa.int64(), pa.float32(), pa.float64(), pa.bool_(), pa.binary(),
    pa.list_(pa.float32()), pa.list_(pa.float64()), pa.list_(pa.string()), pa.list_(pa.int32()),
    pa.list_(pa.list_(pa.float32())), pa.large_list(pa.float32()), pa.list_(pa.float32(), 2),
    pa.struct([("a", pa.float32())]), pa.dictionary(pa.int8(), pa.string()), pa.null(),
]  # fmt: skip

floats = st.one_of(
    st.floats(width=32, allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 0.5, 1.0, -1.0, 1e30]),
)
texts = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["", "a dog", "\x1b[2J\n", "\0", "a" * 64, "0" * 64, "f" * 63]),
)


def _values(t, rows: int):
    """A strategy for ``rows`` values of Arrow type ``t`` (nulls included)."""
    if pa.types.is_null(t):
        return st.just([None] * rows)

    def scalar(t):
        if pa.types.is_string(t) or pa.types.is_dictionary(t):
            return texts
        if pa.types.is_binary(t):
            return st.binary(max_size=8)
        if pa.types.is_floating(t):
            return floats
        if pa.types.is_integer(t):
            return st.integers(-(2**31), 2**31 - 1) if t.bit_width > 8 else st.integers(0, 1)
        if pa.types.is_boolean(t):
            return st.booleans()
        if pa.types.is_fixed_size_list(t):
            return st.lists(scalar(t.value_type), min_size=t.list_size, max_size=t.list_size)
        if pa.types.is_list(t) or pa.types.is_large_list(t):
            return st.lists(scalar(t.value_type), max_size=10)
        return st.fixed_dictionaries({"a": floats})

    return st.lists(st.none() | scalar(t), min_size=rows, max_size=rows)


@st.composite
def tables(draw):
    """A valid table, then some of it redrawn: a column's type and values, a column's values,
    columns dropped or added, the metadata replaced by random JSON."""
    rows = draw(st.integers(0, 4))
    cols: dict = columns(rows) if rows else {k: v[:0] for k, v in columns(1).items()}
    for name in draw(st.lists(st.sampled_from([*cols, "extra"]), max_size=3, unique=True)):
        how = draw(st.sampled_from(["type", "values", "drop"]))
        if how == "drop":
            cols.pop(name, None)
            continue
        t = draw(st.sampled_from(TYPES)) if how == "type" or name == "extra" else cols[name].type
        cols[name] = pa.array(draw(_values(t, rows)), t)
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | texts,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
        max_leaves=8,
    )
    meta = None
    if draw(st.booleans()):
        doc = json.loads(HEADER.encoded())
        for key in draw(st.lists(st.sampled_from([*doc, "other"]), max_size=2, unique=True)):
            doc[key] = draw(json_values)
        meta = json.dumps(doc).encode()
    return cols, meta, draw(st.none() | st.sampled_from(list(cols) or [None]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_any_table_is_imported_or_refused_in_one_line(tmp_path_factory, table):
    """Random schemas, nesting and values: each file either reads (every row checked, of the
    expected types) or is refused with the one-line ``ResultsFileError``; nothing else."""
    cols, meta, twice = table
    path = tmp_path_factory.mktemp("fuzz") / "f.parquet"
    write(path, cols, meta, twice)
    try:
        got = read_all(path, None)
    except ResultsFileError as exc:
        message = str(exc)
        assert "\n" not in message and message.isprintable() and message.startswith(str(path))
        return
    for p in got:
        assert len(p.content) == 64 and all(isinstance(s, str) and s for s in p.sentences)
        assert p.error is None or (isinstance(p.error, str) and p.error.isprintable())
        if p.error is None:
            assert len(p.itm) == len(p.cosine) == len(p.sentences)
            assert ((np.asarray(p.itm) >= 0) & (np.asarray(p.itm) <= 1)).all()
    sizes = {p.itc.shape for p in got if p.itc is not None}
    assert len(sizes) <= 1 and all(p.itc.dtype == np.float32 for p in got if p.itc is not None)
