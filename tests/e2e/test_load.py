"""Load: a scan of 2,000 small photos keeps memory flat and leaks no file handles (issue 6).

``benchmarks/bench_load.py`` measures 20,000 and prints the table; this is its lighter,
asserting form, through the same code (decode worker processes, per-batch commits)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
bench_load = pytest.importorskip("bench_load")


@pytest.mark.slow
def test_memory_and_open_files_stay_flat(tmp_path, tiny_model_dir):
    bench_load.make_photos(tmp_path / "photos", 2_000)
    rows, summary = bench_load.measure(
        tmp_path / "photos", tmp_path / "data", tiny_model_dir, [500, 1_000, 2_000], batch_size=64
    )
    assert summary.scored == 2_000 and set(rows) == {500, 1_000, 2_000}
    _hwm1, rss1, workers1, fds1, _ = rows[1_000]
    _hwm2, rss2, workers2, fds2, _ = rows[2_000]
    # Generous: 1,000 more photos must not cost more than 64 MiB here or in the decode workers
    # (a leak of one decoded 384x384 photo each would be 420 MiB).
    assert rss2 - rss1 < 64 * 1024, (rss1, rss2)
    assert workers2 - workers1 < 64 * 1024, (workers1, workers2)
    assert fds2 <= fds1 and rows[500][3] == fds1, rows  # no file handle left open per photo
