"""Results that travel, through the CLI as people run it: shards of a scan imported elsewhere
equal one scan; importing twice changes nothing; files from another model, damaged files and
files from a newer blipdesk are refused with one line, the cache untouched."""

from __future__ import annotations

import numpy as np
import pytest

from blipdesk.core.inventory import in_shard
from blipdesk.core.results import (
    PhotoResult,
    ResultsFile,
    ResultsHeader,
    results_bytes,
)
from blipdesk.domain import Tag
from tests.helpers.models import build_random_blip
from tests.helpers.results import (
    assert_same_results,
    cli,
    dump,
    mixed_folder,
    need,
    results_of,
)

need("pyarrow")

SENTENCES = {"beach": "a dog on a beach", "cake": "birthday cake"}


@pytest.fixture
def photos(tmp_path):
    return mixed_folder(tmp_path)


def with_tags(data):
    for name, sentence in SENTENCES.items():
        assert cli(data, "tags", "add", name, sentence) == 0
    return data


@pytest.fixture
def common(tiny_model_dir):
    return ["--model", tiny_model_dir, "--device", "cpu", "--precision", "fp32"]


@pytest.fixture
def scanned(tmp_path, photos, common):
    """One desktop scan of ``photos``: the reference."""
    data = with_tags(tmp_path / "single")
    assert cli(data, "scan", photos, *common) == 0
    return data


def test_shards_imported_equal_one_scan_and_a_second_import_changes_nothing(
    tmp_path, photos, common, scanned, tiny_model_dir, capsys
):
    results = tmp_path / "results"
    for i in (1, 2):  # two machines, each with its own data folder
        machine = with_tags(tmp_path / f"machine{i}")
        assert cli(machine, "scan", photos, *common, "--shard", f"{i}/2", "--results", results) == 0
    files = sorted(results.iterdir())
    assert [f.name for f in files] == ["shard-1-of-2.parquet", "shard-2-of-2.parquet"]
    shard_contents = []
    for f in files:
        with ResultsFile(f) as rf:
            shard_contents.append(
                {c for chunk in rf.batches(["content"]) for c in chunk.column(0).to_pylist()}
            )
    assert not shard_contents[0] & shard_contents[1]  # each photo scanned by one machine
    assert all(in_shard(c, 0, 2) for c in shard_contents[0])
    assert shard_contents[0] and shard_contents[1]

    laptop = tmp_path / "laptop"
    capsys.readouterr()
    assert cli(laptop, "results", "import", results, "--model", tiny_model_dir) == 0
    assert "new score(s)" in capsys.readouterr().err
    want = results_of(scanned, tiny_model_dir)
    assert_same_results(results_of(laptop, tiny_model_dir), want)
    assert any(error for _, _, error in want.values())  # the broken photo travelled too

    before = dump(laptop)
    assert cli(laptop, "results", "import", *files, "--model", tiny_model_dir) == 0
    assert "0 new score(s), 0 new image vector(s), 0 new decode error(s)" in capsys.readouterr().err
    assert dump(laptop) == before

    # The laptop's photos sit elsewhere: a scan there maps them by content, model never loaded.
    moved = tmp_path / "elsewhere"
    photos.rename(moved)
    with_tags(laptop)
    assert cli(laptop, "scan", moved, *common) == 0
    assert "model not loaded" in capsys.readouterr().err


def test_export_then_import_round_trips_bit_for_bit(
    tmp_path, scanned, photos, tiny_model_dir, capsys
):
    out = tmp_path / "all.parquet"
    assert (
        cli(scanned, "results", "export", photos, "--output", out, "--model", tiny_model_dir) == 0
    )
    other = tmp_path / "other"
    assert cli(other, "results", "import", out, "--model", tiny_model_dir) == 0
    got, want = results_of(other, tiny_model_dir), results_of(scanned, tiny_model_dir)
    assert set(got) == set(want)
    for content, (scores, itc, error) in want.items():  # float32 in, float32 out: exact
        assert got[content][0] == scores and got[content][2] == error
        assert (itc is None and got[content][1] is None) or (got[content][1] == itc).all()


def refused(capsys, data, *args):
    capsys.readouterr()
    before = dump(data)
    code = cli(data, *args)
    err = capsys.readouterr().err
    assert code == 1
    assert len(err.strip().splitlines()) == 1, err
    assert dump(data) == before  # untouched
    return err


def test_refuses_another_model_a_damaged_file_and_a_newer_format(
    tmp_path, scanned, photos, tiny_model_dir, capsys
):
    good = tmp_path / "good.parquet"
    assert (
        cli(scanned, "results", "export", photos, "--output", good, "--model", tiny_model_dir) == 0
    )
    laptop = tmp_path / "laptop"
    assert cli(laptop, "results", "import", good, "--model", tiny_model_dir) == 0

    other_model = build_random_blip(tmp_path / "other-model", seed=1)
    foreign = tmp_path / "foreign"
    with_tags(foreign)
    assert cli(foreign, "scan", photos / "sub", "--model", other_model, "--device", "cpu") == 0
    theirs = tmp_path / "theirs.parquet"
    assert (
        cli(foreign, "results", "export", photos, "--output", theirs, "--model", other_model) == 0
    )
    err = refused(capsys, laptop, "results", "import", theirs, "--model", tiny_model_dir)
    assert str(theirs) in err and "another model" in err

    damaged = tmp_path / "damaged.parquet"
    data = good.read_bytes()
    damaged.write_bytes(data[: len(data) // 2])
    err = refused(capsys, laptop, "results", "import", damaged, "--model", tiny_model_dir)
    assert str(damaged) in err and "not a results file" in err
    noise = tmp_path / "noise.parquet"
    noise.write_bytes(b"PAR1" + bytes(range(256)) * 8 + b"PAR1")
    assert "damaged" in refused(
        capsys, laptop, "results", "import", noise, "--model", tiny_model_dir
    )

    with ResultsFile(good) as f:
        header = f.header
    redecoded = tmp_path / "decode-rule-2.parquet"  # another decoding rule: other pixels
    other_rule = header.score_key.replace("|decode=1", "|decode=2")
    rule2 = ResultsHeader(other_rule, header.source, None, 2)
    redecoded.write_bytes(results_bytes(rule2, [PhotoResult("0" * 64, None, error="x")]))
    err = refused(capsys, laptop, "results", "import", redecoded, "--model", tiny_model_dir)
    assert "decoded with rule 2" in err

    # A cluster scan never writes into a folder holding another model's results (checked before
    # Ray starts: no Ray needed here).
    from blipdesk.core.cluster import cluster_scan
    from blipdesk.core.engine import model_key
    from blipdesk.core.model import ModelSpec
    from blipdesk.core.results import ResultsFileError

    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / theirs.name).write_bytes(theirs.read_bytes())
    spec = ModelSpec(str(tiny_model_dir))
    with pytest.raises(ResultsFileError, match="another model"):
        cluster_scan([photos], ["a dog"], model_key(spec), spec, mixed)
    assert sorted(p.name for p in mixed.iterdir()) == [theirs.name]

    newer = tmp_path / "newer.parquet"
    future = ResultsHeader(header.score_key, header.source, None, header.decode_rule, format=99)
    newer.write_bytes(results_bytes(future, [PhotoResult("0" * 64, None, error="x")]))
    err = refused(capsys, laptop, "results", "import", newer, "--model", tiny_model_dir)
    assert str(newer) in err and "newer blipdesk" in err and "format 99" in err


def test_import_is_all_or_nothing(tmp_path, scanned, photos, tiny_model_dir, capsys):
    good = tmp_path / "a-good.parquet"
    assert (
        cli(scanned, "results", "export", photos, "--output", good, "--model", tiny_model_dir) == 0
    )
    with ResultsFile(good) as f:
        header = f.header
    bad = tmp_path / "b-bad.parquet"  # valid Parquet, a probability that is not one, read last
    rows = [
        PhotoResult(f"{i:064x}", None, ("a dog on a beach",), [0.5], [0.0], [0.0], [0.1])
        for i in range(5000)
    ]
    rows.append(PhotoResult("f" * 64, None, ("a dog on a beach",), [1.5], [0.0], [0.0], [0.1]))
    bad.write_bytes(results_bytes(header, rows))
    fresh = tmp_path / "fresh"
    assert cli(fresh, "tags", "list") == 0
    err = refused(capsys, fresh, "results", "import", good, bad, "--model", tiny_model_dir)
    assert str(bad) in err and "outside [0, 1]" in err
    assert results_of(fresh, tiny_model_dir) == {}  # the good file did not land either


def test_a_fifo_is_refused_without_blocking(tmp_path, tiny_model_dir, capsys):
    import os

    fifo = tmp_path / "pipe.parquet"
    os.mkfifo(fifo)
    assert cli(tmp_path / "data", "tags", "list") == 0
    err = refused(capsys, tmp_path / "data", "results", "import", fifo, "--model", tiny_model_dir)
    assert "not a regular file" in err


def test_shard_split_is_a_partition():
    import hashlib

    contents = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(300)]
    for n in (1, 2, 3, 8):
        owners = [[i for i in range(n) if in_shard(c, i, n)] for c in contents]
        assert all(len(o) == 1 for o in owners)
        if n > 1:
            assert len({o[0] for o in owners}) == n  # every shard gets work


def test_a_laptop_without_the_model_imports_results_of_its_model(tmp_path, capsys):
    """The library's model (the default hub id) is not downloaded here: the file's key is taken,
    whatever model it names (an import needs none); a --model must name the file's model."""
    from blipdesk.services.settings import Settings

    hub = Settings().model
    header = ResultsHeader(f"{hub}@abc|first=cls|decode=1", hub, "abc", 1)
    mine = tmp_path / "mine.parquet"
    mine.write_bytes(
        results_bytes(
            header, [PhotoResult("a" * 64, None, ("a dog",), [0.2689414], [0.5], [-0.5], [0.1])]
        )
    )
    laptop = tmp_path / "laptop"
    assert cli(laptop, "tags", "list") == 0
    assert cli(laptop, "results", "import", mine) == 0
    assert "1 new score(s)" in capsys.readouterr().err
    other = ResultsHeader("someone/else@x|first=cls|decode=1", "someone/else", "x", 1)
    theirs = tmp_path / "theirs.parquet"
    theirs.write_bytes(results_bytes(other, [PhotoResult("b" * 64, None, error="bad")]))
    err = refused(capsys, laptop, "results", "import", theirs, "--model", hub)
    assert "another model" in err
    assert cli(laptop, "results", "import", theirs) == 0  # its own identity: no model needed
    assert "--model someone/else" in capsys.readouterr().err  # how to scan with it


def test_an_import_without_the_weights_carries_the_tags_and_the_next_scan_needs_no_model(
    tmp_path, photos, capsys, monkeypatch
):
    """A laptop without the weights (the file names a model that is nowhere here, by hub id or
    by a folder of the machine that wrote it): ``results import`` with no --model, then a scan
    that finds every photo scored by content and never loads the model. The writer's tags come
    along (added where missing, an existing one never changed; --no-tags: none)."""
    import math
    import os

    from blipdesk.core import engine
    from blipdesk.core.inventory import content_hash
    from blipdesk.store import Library

    def never(*_a, **_k):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(engine, "load_scorer", never)
    files = [p for p in sorted(photos.rglob("*")) if p.is_file()]
    broken = content_hash(photos / "broken.jpg")
    contents = sorted({content_hash(p) for p in files} - {broken})
    unit = np.full(32, 32**-0.5, np.float32)
    from blipdesk.services.settings import Settings

    for source in (Settings().model, str(tmp_path / "cluster-only" / "blip")):
        carried = (Tag("beach", ("a dog on a beach", "sand"), 0.4), Tag("cake", ("a cake",), 0.7))
        header = ResultsHeader(f"{source}@r1|first=cls|decode=1", source, "r1", 1, tags=carried)
        itm = [0.3, 0.6, 0.2]
        logits = [math.log(p / (1 - p)) for p in itm]  # ITM = softmax(no, yes)[yes]
        rows = [PhotoResult(c, None, ("a dog on a beach", "sand", "a cake"), itm, [0.0] * 3,
                            logits, [0.1] * 3, unit) for c in contents]  # fmt: skip
        rows.append(PhotoResult(broken, None, error="cannot identify image file"))
        target = tmp_path / f"{len(source)}.parquet"
        target.write_bytes(results_bytes(header, rows))
        laptop = tmp_path / f"laptop{len(source)}"
        assert cli(laptop, "tags", "add", "cake", "a cake", "--threshold", "0.2") == 0
        assert cli(laptop, "results", "import", target) == 0
        with Library.open(laptop / "library.sqlite3", readonly=True) as lib:
            assert lib.tag("beach") == carried[0]  # added
            assert lib.tag("cake") == Tag("cake", ("a cake",), 0.2)  # never changed
        model = [] if source == Settings().model else ["--model", source]
        capsys.readouterr()
        assert cli(laptop, "scan", photos, *model) == 0
        err = capsys.readouterr().err
        assert "model not loaded" in err and f"{len(files) - 1} already scored" in err, err
        bare = tmp_path / f"bare{len(source)}"
        assert cli(bare, "results", "import", target, "--no-tags") == 0
        with Library.open(bare / "library.sqlite3", readonly=True) as lib:
            assert lib.tags() == []
    assert not os.path.exists(tmp_path / "cluster-only")
