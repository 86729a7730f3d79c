"""The Ray cluster scan against the desktop scan, on this machine.

The same folder of JPEGs, the same model and sentences, scanned three ways from nothing:

* ``desktop``: ``engine.scan`` (decode processes, batches, SQLite), as ``blipdesk scan`` runs it;
* ``ray, 1 worker`` and ``ray, 2 workers``: ``cluster.cluster_scan`` on a local Ray (Ray Data
  hashes, decodes in CPU tasks, scores in actors, the driver writes results files).

Wall time includes everything a person waits for (the model load, Ray Data's start-up, the
hashing stage; not ``ray.init``, timed apart). "Scoring rate" is the photos per second once the
first photo is scored (Ray: the driver's progress; desktop: the last progress report). With the
tiny model the maths is nearly free, so the figures are decode- and overhead-bound, as a GPU
node's are; ``--model base`` puts real compute (ViT-B/16 at 384 px) on the CPU.

    nice -n 10 python benchmarks/bench_cluster.py [--photos 96] [--model tiny|base|large]
           [--size 1600x1200] [--device cpu] [--gpus-per-worker 0] [--cpus N]

Prints a Markdown table with ratios to the desktop scan; asserts nothing. Uses no GPU unless
``--device cuda --gpus-per-worker 1`` is given.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from blipdesk.core.cluster import ClusterOptions, cluster_scan
from blipdesk.core.engine import ScanOptions, ScanProgress, lazy_scorer, model_key, scan
from blipdesk.core.model import ModelSpec
from blipdesk.store import Library
from tests.helpers.models import (
    SAMPLE_SENTENCES,
    base_config,
    build_random_blip,
    large_config,
    tiny_config,
    write_scene_jpeg,
)


def make_photos(folder: Path, n: int, width: int, height: int) -> None:
    folder.mkdir(parents=True)
    distinct = min(n, 16)
    with ProcessPoolExecutor(2) as pool:
        jobs = [(str(folder.parent / f"src{i}.jpg"), width, height, i) for i in range(distinct)]
        list(pool.map(write_scene_jpeg, jobs))
    for i in range(n):  # each a distinct content: one byte sequence appended after the JPEG
        data = (folder.parent / f"src{i % distinct}.jpg").read_bytes() + i.to_bytes(4, "little")
        (folder / f"IMG_{i:05d}.jpg").write_bytes(data)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=96)
    ap.add_argument("--model", choices=("tiny", "base", "large"), default="tiny")
    ap.add_argument("--size", default="1600x1200")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--gpus-per-worker", type=float, default=0.0)
    ap.add_argument("--cpus", type=int, default=3, help="Ray's logical CPUs (actors + decoders)")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--import-photos", type=int, default=20000, help="0: no import timing")
    args = ap.parse_args()
    width, height = map(int, args.size.split("x"))
    tmp = Path(tempfile.mkdtemp(prefix="blipdesk-cluster-"))
    folder = tmp / "photos"
    make_photos(folder, args.photos, width, height)
    config = {"tiny": tiny_config, "base": base_config, "large": large_config}[args.model]()
    model_dir = build_random_blip(tmp / "model", config)
    spec = ModelSpec(str(model_dir))
    key = model_key(spec)
    sentences = SAMPLE_SENTENCES
    rows: list[tuple[str, float, float]] = []

    last: list[ScanProgress] = []
    with Library.open(tmp / "desk.sqlite3") as library:
        t0 = time.perf_counter()
        summary = scan(
            library, [folder], sentences, key,
            lazy_scorer(spec, args.device, args.precision),
            ScanOptions(features_dir=None), last.append,
        )  # fmt: skip
        wall = time.perf_counter() - t0
    assert summary.scored == args.photos, summary
    rows.append(("desktop scan (engine.scan)", wall, last[-1].photos_per_second))

    import ray

    t0 = time.perf_counter()
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    ray_init = time.perf_counter() - t0
    for workers in map(int, args.workers.split(",")):
        last.clear()
        options = ClusterOptions(
            workers=workers, gpus_per_worker=args.gpus_per_worker, device=args.device,
            precision=args.precision, part_photos=max(1, args.photos // 4),
        )  # fmt: skip
        t0 = time.perf_counter()
        got = cluster_scan(
            [folder], sentences, key, spec, tmp / f"results-{workers}", options, last.append
        )
        wall = time.perf_counter() - t0
        assert got.scored == args.photos, got
        rows.append((f"ray, {workers} worker(s)", wall, last[-1].photos_per_second))
    ray.shutdown()

    load = os.getloadavg()
    print(
        f"# {args.photos} JPEGs of {width}x{height}, {len(sentences)} sentences, model "
        f"{args.model} ({args.device}, {args.precision}), {os.cpu_count()} CPUs (Ray: {args.cpus} "
        f"logical), load average {load[0]:.1f} at the end: a machine SHARED with other work"
    )
    print(f"# ray.init (local, once): {ray_init:.1f} s, not in the wall times below\n")
    print("| scan | wall | photos/s (wall) | scoring rate | vs desktop (wall) |")
    print("|---|---|---|---|---|")
    base = rows[0][1]
    for name, wall, rate in rows:
        print(
            f"| {name} | {wall:.1f} s | {args.photos / wall:.1f} | {rate:.1f} photos/s | "
            f"{base / wall:.2f}x |"
        )
    if args.import_photos:
        bench_import(tmp, args.import_photos)


def bench_import(tmp: Path, photos: int, sentences: int = 20) -> None:
    """Write a results file of ``photos`` x ``sentences`` random scores and import it into a
    fresh cache, as ``blipdesk results import`` does (one transaction)."""
    import numpy as np

    from blipdesk.core.results import (
        PhotoResult,
        ResultsFile,
        ResultsHeader,
        merge_files,
        write_results,
    )

    rng = np.random.default_rng(0)
    said = tuple(f"sentence number {j}" for j in range(sentences))
    header = ResultsHeader("bench|first=cls|decode=1", "bench", None, 1)
    rows = (
        PhotoResult(
            f"{i:064x}",
            None,
            said,
            *rng.random((4, sentences), np.float32),
            rng.random(256, np.float32),
        )
        for i in range(photos)
    )
    path = tmp / "import.parquet"
    t0 = time.perf_counter()
    write_results(path, header, rows)
    write = time.perf_counter() - t0
    with Library.open(tmp / "import.sqlite3") as library, ResultsFile(path) as f:
        t0 = time.perf_counter()
        added = merge_files(library, [f])
        merge = time.perf_counter() - t0
    size = path.stat().st_size
    print(
        f"\n# results file of {photos} photos x {sentences} sentences: {size / 1e6:.1f} MB "
        f"({size / photos:.0f} B per photo), written in {write:.1f} s; imported "
        f"({added[0]} scores, {added[1]} vectors) in {merge:.1f} s = "
        f"{photos / merge:.0f} photos/s, {added[0] / merge:.0f} score rows/s"
    )


if __name__ == "__main__":
    main()
