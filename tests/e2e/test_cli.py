"""The headless CLI end to end: ``python -m blipdesk`` in a subprocess on the tiny model."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from blipdesk.core.engine import ScanOptions, model_key, scan
from blipdesk.core.model import ModelSpec
from blipdesk.domain import Tag
from blipdesk.store import SCHEMA_VERSION, Library
from tests.helpers.models import scene

ROOT = Path(__file__).resolve().parents[2]


def blipdesk(data: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "blipdesk", "--data-dir", str(data), *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT,
    )  # fmt: skip


def start(data: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "blipdesk", "--data-dir", str(data), *map(str, args)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT,
        start_new_session=True,  # its own process group: kill it with its decode workers
    )  # fmt: skip


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    (folder / "trip").mkdir(parents=True)
    for i in range(4):
        scene(96, 64, i).save(folder / f"p{i}.jpg", quality=90)
    scene(64, 96, 9).save(folder / "trip" / "q.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    return folder


@pytest.mark.slow
def test_tags_scan_rescan_export(tmp_path, photos, tiny_model_dir):
    data = tmp_path / "data"
    assert blipdesk(data, "tags", "add", "beach", "a photo of a beach", "sand and sea",
                    "--threshold", "0.4").returncode == 0  # fmt: skip
    assert blipdesk(data, "tags", "add", "dog").returncode == 0
    listed = blipdesk(data, "tags", "list", "--json")
    tags = [
        {"name": "beach", "sentences": ["a photo of a beach", "sand and sea"], "threshold": 0.4},
        {"name": "dog", "sentences": ["dog"], "threshold": 0.5},
    ]
    # each tag says whether a calibration decides it (issue 25, item 11): none here
    assert json.loads(listed.stdout) == [{**t, "calibration": None} for t in tags]

    first = blipdesk(data, "scan", photos, "--model", tiny_model_dir, "--batch-size", "2",
                     "--device", "cpu", "--precision", "fp32")  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert f"unreadable: {photos / 'broken.jpg'}: " in first.stderr
    assert "Traceback" not in first.stderr and "5 scored" in first.stderr
    again = blipdesk(data, "scan", photos, "--model", tiny_model_dir)
    assert again.returncode == 0 and "model not loaded" in again.stderr

    out = blipdesk(data, "export", photos, "--model", tiny_model_dir)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert set(doc) == {"model", "tags", "photos"}
    assert doc["model"] == str(tiny_model_dir) and doc["tags"] == tags
    paths = [p["path"] for p in doc["photos"]]
    assert paths == sorted(str(p) for p in photos.rglob("*") if p.is_file())
    broken = doc["photos"][0]
    assert broken["path"] == str(photos / "broken.jpg")
    assert broken["error"] and broken["tags"] == {}
    for photo in doc["photos"][1:]:
        assert photo["error"] is None and set(photo) == {"path", "error", "tags"}
        assert set(photo["tags"]) == {"beach", "dog"}
        for name, tag in photo["tags"].items():
            assert set(tag) == {"score", "match", "sentences", "label", "calibrated"}
            assert tag["label"] is None and tag["calibrated"] is False  # no labels, no fit
            threshold = next(t["threshold"] for t in tags if t["name"] == name)
            assert tag["score"] == max(s["itm"] for s in tag["sentences"].values())
            assert tag["match"] == (tag["score"] >= threshold)
            for s in tag["sentences"].values():
                assert (
                    set(s) == {"itm", "cosine", "precision", "vision_cache"}
                    and 0 <= s["itm"] <= 1
                    and -1 <= s["cosine"] <= 1
                )
    itms = [photo["tags"]["dog"]["score"] for photo in doc["photos"][1:]]
    assert np.ptp(itms) > 1e-4  # the scores are per photo, not one constant

    target = tmp_path / "out.csv"
    as_csv = blipdesk(data, "export", photos, "--model", tiny_model_dir, "--format", "csv",
                      "--output", target)  # fmt: skip
    assert as_csv.returncode == 0 and as_csv.stdout == ""
    rows = list(csv.reader(io.StringIO(target.read_text())))
    assert rows[0][:7] == ["path", "tag", "sentence", "itm", "cosine", "match", "label"]
    assert rows[0][7:] == ["precision", "vision_cache"]
    assert len(rows) == 1 + 5 * 3
    first_row = rows[1]
    p = doc["photos"][1]
    assert first_row[:3] == [p["path"], "beach", "a photo of a beach"]
    assert float(first_row[3]) == p["tags"]["beach"]["sentences"]["a photo of a beach"]["itm"]
    assert first_row[5] in ("true", "false")

    # Thresholds and tag removal need no model: export reads the cache only.
    assert blipdesk(data, "tags", "remove", "dog").returncode == 0
    assert (
        blipdesk(data, "tags", "add", "beach", "a photo of a beach", "--threshold", "0").returncode
        == 0
    )
    doc = json.loads(blipdesk(data, "export", photos, "--model", tiny_model_dir).stdout)
    assert all(
        set(p["tags"]) == {"beach"} and p["tags"]["beach"]["match"] for p in doc["photos"][1:]
    )


@pytest.mark.slow
def test_search_ranks_photos_and_reports_both_scores(tmp_path, photos, tiny_model_dir):
    data = tmp_path / "data"
    args = ("a dog on a beach", photos, "--model", tiny_model_dir, "--top", "3", "--device", "cpu")
    never = blipdesk(data, "search", *args, "--json")  # never scanned: nothing to rank
    assert never.returncode == 0, never.stderr
    assert json.loads(never.stdout)["results"] == [] and "not scanned yet" in never.stderr
    assert blipdesk(data, "scan", photos, "--model", tiny_model_dir).returncode == 0
    out = blipdesk(data, "search", *args, "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    results = doc["results"]
    assert len(results) == 3 and all(r["itm"] is not None for r in results)
    assert [r["itm"] for r in results] == sorted((r["itm"] for r in results), reverse=True)
    assert doc["unscanned"] == 0 and "not scanned" not in out.stderr


def test_exit_codes_and_one_line_errors(tmp_path, photos):
    data = tmp_path / "data"
    for args in (["scan", tmp_path / "nope"], ["sacn", photos], ["tags", "add"], ["scan"]):
        result = blipdesk(data, *args)
        assert result.returncode == 2, (args, result.stderr)
    missing = blipdesk(data, "scan", photos, "--model", tmp_path / "no-model")
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1 and "does not exist" in missing.stderr
    gone = blipdesk(data, "tags", "remove", "nothing")
    assert gone.returncode == 1 and "no tag called" in gone.stderr


def test_newer_database_is_refused_untouched(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    db = data / "library.sqlite3"
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    result = blipdesk(data, "tags", "list")
    assert result.returncode == 1 and "newer blipdesk" in result.stderr
    assert db.read_bytes() == before and not (data / "library.sqlite3-wal").exists()


def _library_with_photos(tmp_path, count: int) -> tuple[Path, Path]:
    data, folder = tmp_path / "data", tmp_path / "many"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(count):
        Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(
            folder / f"{i:03}.png"
        )
    with Library.open(data / "library.sqlite3") as lib:
        lib.put_tag(Tag("dog", ("a dog", "two dogs")))
    return data, folder


def _complete(db: Path) -> tuple[int, int]:
    """(photos with every sentence scored, photos with only some): committed batches only."""
    conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        counts = [n for (n,) in conn.execute("SELECT COUNT(*) FROM scores GROUP BY content_id")]
    except sqlite3.OperationalError:
        counts = []
    finally:
        conn.close()
    return sum(n == 2 for n in counts), sum(n != 2 for n in counts)


def _wait_for_commits(proc: subprocess.Popen, db: Path, at_least: int) -> None:
    deadline = time.monotonic() + 120
    while _complete(db)[0] < at_least:
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "the scan never committed a batch"
        time.sleep(0.02)


@pytest.mark.slow
def test_kill_9_mid_scan_loses_at_most_the_batch_in_flight(tmp_path, tiny_model_dir, tiny_scorer):
    count, batch = 40, 2
    data, folder = _library_with_photos(tmp_path, count)
    db = data / "library.sqlite3"
    proc = start(data, "scan", folder, "--model", tiny_model_dir, "--batch-size", batch,
                 "--device", "cpu", "--precision", "fp32")  # fmt: skip
    try:
        _wait_for_commits(proc, db, 2 * batch)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    committed, partial = _complete(db)
    assert partial == 0 and committed % batch == 0 and 0 < committed < count

    key = model_key(ModelSpec(str(tiny_model_dir)))
    with Library.open(db) as lib:
        options = ScanOptions(batch_size=16, use_processes=False)
        summary = scan(lib, [folder], ("a dog", "two dogs"), key, lambda: tiny_scorer, options)
    assert summary.scored == count - committed  # nothing committed before the kill is redone
    assert _complete(db) == (count, 0)


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_with_exit_130(tmp_path, tiny_model_dir):
    data, folder = _library_with_photos(tmp_path, 40)
    db = data / "library.sqlite3"
    proc = start(data, "scan", folder, "--model", tiny_model_dir, "--batch-size", 2,
                 "--device", "cpu", "--precision", "fp32")  # fmt: skip
    try:
        _wait_for_commits(proc, db, 2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err.decode()
    assert "Traceback" not in err.decode() and "scan stopped" in err.decode()
    committed, partial = _complete(db)
    assert partial == 0 and 0 < committed < 40


def test_cli_store_and_engine_never_import_qt():
    code = (
        "import sys, blipdesk.cli, blipdesk.store, blipdesk.services.settings, blipdesk.core.engine; "
        "sys.exit('PySide6' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


@pytest.mark.slow
def test_a_scan_with_model_makes_it_the_librarys_model(tmp_path, photos, tiny_model_dir):
    """After ``scan --model DIR``, export/search need no --model (and never touch the hub)."""
    data = tmp_path / "data"
    assert blipdesk(data, "tags", "add", "dog").returncode == 0
    first = blipdesk(data, "scan", photos, "--model", tiny_model_dir)
    assert first.returncode == 0, first.stderr
    assert f"the library's model is now {tiny_model_dir}" in first.stderr
    out = blipdesk(data, "export", photos)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["model"] == str(tiny_model_dir)
    found = blipdesk(data, "search", "a dog", photos, "--top", "2", "--json")
    assert found.returncode == 0, found.stderr
    again = blipdesk(data, "scan", photos, "--model", tiny_model_dir)
    assert "the library's model is now" not in again.stderr
