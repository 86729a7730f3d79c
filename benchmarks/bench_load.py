"""Load: memory and open files during a scan of many small photos with the tiny random model.

    python benchmarks/bench_load.py [--photos 20000] [--batch-size 32]

Prints peak RSS (VmHWM) and current RSS of this process, the decode workers' RSS, and the number
of open file descriptors, sampled through ``on_progress`` when the scan passes 1k, 5k, 20k photos.
A flat line means memory and file handles do not grow with the library. Times are not asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from PIL import Image


def kib(field: str, pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def children_rss_kib() -> int:
    """Total RSS of this process's live children (the decode workers)."""
    me, total = str(os.getpid()), 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as fh:
                ppid = fh.read().rsplit(")", 1)[1].split()[1]
            if ppid == me:
                total += kib("VmRSS", pid)
        except OSError:
            continue
    return total


def make_photos(folder: Path, count: int) -> None:
    """Tiny 16x16 PNGs, all different (so each is its own content), in folders of 1,000."""
    rng = np.random.default_rng(0)
    for i in range(count):
        sub = folder / f"{i // 1000:03}"
        if i % 1000 == 0:
            sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(sub / f"{i}.png")


def measure(folder: Path, data: Path, model_dir: Path, marks, batch_size: int, processes=True):
    """Scan ``folder``; return {mark: (peak RSS, RSS, workers' RSS, fds, seconds)} in KiB."""
    from blipdesk.core.engine import ScanOptions, lazy_scorer, model_key, scan
    from blipdesk.core.model import ModelSpec
    from blipdesk.store import Library

    spec = ModelSpec(str(model_dir))
    key = model_key(spec)
    scorer = lazy_scorer(spec, "cpu", "fp32")
    rows: dict[int, tuple[int, int, int, int, float]] = {}
    pending = sorted(marks)
    start = time.monotonic()

    def on_progress(p) -> None:
        while pending and p.done >= pending[0]:
            rows[pending.pop(0)] = (
                kib("VmHWM"), kib("VmRSS"), children_rss_kib(), open_fds(),
                time.monotonic() - start,
            )  # fmt: skip

    options = ScanOptions(batch_size=batch_size, use_processes=processes)
    with Library.open(data / "library.sqlite3") as lib:
        summary = scan(lib, [folder], ("a dog", "a red car"), key, scorer, options, on_progress)
    assert not summary.failures, summary.failures[:3]
    return rows, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    from tests.helpers.models import build_random_blip

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = build_random_blip(root / "model")
        t0 = time.monotonic()
        make_photos(root / "photos", args.photos)
        print(f"{args.photos} photos written in {time.monotonic() - t0:.0f} s", flush=True)
        marks = [m for m in (1_000, 5_000, 20_000) if m <= args.photos] or [args.photos]
        rows, summary = measure(root / "photos", root / "data", model, marks, args.batch_size)
    print(f"\nscan of {summary.photos} photos, batch {args.batch_size}, {summary.seconds:.0f} s")
    print(
        f"{'photos':>8} {'peak RSS MiB':>13} {'RSS MiB':>8} {'workers MiB':>12} {'open fds':>9} {'s':>6}"
    )
    for mark, (hwm, rss, workers, fds, secs) in rows.items():
        print(
            f"{mark:>8} {hwm / 1024:>13.0f} {rss / 1024:>8.0f} {workers / 1024:>12.0f} {fds:>9} {secs:>6.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
