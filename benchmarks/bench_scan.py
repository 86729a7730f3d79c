"""A whole scan through the product's own path: model folder -> engine.scan -> SQLite.

Where bench_engine.py times the maths, this times what a person waits for: ``scan`` over a
folder of 12-MP JPEGs with 20 tag sentences, decoding in worker processes, scores committed per
batch, on the device and precision ``auto`` picks. The model is the blip-itm-large-flickr
architecture with random weights, saved with ``save_pretrained`` and loaded by ``load_model``.
Prints a table; asserts nothing.

    python benchmarks/bench_scan.py --photos 1024          # on a CUDA machine
    python benchmarks/bench_scan.py --photos 16 --tiny     # smoke test anywhere
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from blipdesk.core.engine import ScanOptions, lazy_scorer, model_key, scan
from blipdesk.core.model import ModelSpec
from blipdesk.domain import Tag
from blipdesk.store import Library
from tests.helpers.models import (
    SAMPLE_SENTENCES as SENTENCES,
)
from tests.helpers.models import (
    build_random_blip,
    large_config,
    tiny_config,
    write_scene_jpeg,
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=512)
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="blipdesk-scan-"))
    folder = tmp / "photos"
    folder.mkdir()
    w, h = (4000, 3000) if not args.tiny else (800, 600)
    t0 = time.perf_counter()
    distinct = 32
    with ProcessPoolExecutor() as pool:
        list(
            pool.map(
                write_scene_jpeg, [(str(tmp / f"src{i}.jpg"), w, h, i) for i in range(distinct)]
            )
        )
    # Each photo a distinct file (distinct content hash): one byte appended after the JPEG's end.
    for i in range(args.photos):
        data = (tmp / f"src{i % distinct}.jpg").read_bytes() + i.to_bytes(4, "little")
        (folder / f"IMG_{i:05d}.jpg").write_bytes(data)
    made = time.perf_counter() - t0
    model_dir = build_random_blip(tmp / "model", tiny_config() if args.tiny else large_config())

    spec = ModelSpec(str(model_dir))
    key = model_key(spec)
    sentences = [f"{SENTENCES[i % 10]}{'' if i < 10 else ' at night'}" for i in range(20)]
    loaded_at: list[float] = []
    loaded_end: list[float] = []
    factory = lazy_scorer(spec, args.device, "auto")

    def timed_factory():
        if not loaded_at:
            t = time.perf_counter()
            scorer = factory()
            loaded_at.append(time.perf_counter() - t)
            loaded_end.append(time.perf_counter())
            return scorer
        return factory()

    timed_factory.device_type = factory.device_type  # type: ignore[attr-defined]  # decode early
    options = ScanOptions(features_dir=tmp / "data" / "features")  # the product default: on
    with Library.open(tmp / "data" / "library.sqlite3") as library:
        for i in range(0, 20, 2):
            library.put_tag(Tag(f"tag{i // 2}", (sentences[i], sentences[i + 1]), 0.5, "#3366cc"))
        marks: list[tuple[float, int]] = []
        t = time.perf_counter()
        summary = scan(
            library, [folder], library.all_sentences(), key, timed_factory, options,
            on_progress=lambda p: p.done and marks.append((time.perf_counter(), p.done)),
        )  # fmt: skip
        total = time.perf_counter() - t
        t = time.perf_counter()
        again = scan(library, [folder], library.all_sentences(), key, timed_factory, options)
        rescan = time.perf_counter() - t
    scorer = factory()
    scoring = total - loaded_at[0]
    print(
        f"# {args.photos} photos of {w}x{h} (made in {made:.0f} s), 20 sentences, "
        f"{scorer.loaded.placement.describe()}"
    )
    print("| measurement | value |\n|---|---|")
    print(
        f"| model load (from_pretrained, {'tiny' if args.tiny else '446 M params'}) | {loaded_at[0]:.1f} s |"
    )
    print(
        f"| scan: decode + vision + ITM + ITC + SQLite + vision cache, after the load | {summary.scored / scoring:.0f} photos/s |"
    )
    print(f"| scan wall time, load included | {total:.1f} s |")
    after = [m for m in marks if m[0] > loaded_end[0]]
    first = after[0][0] - loaded_end[0]
    steady = (after[-1][1] - after[0][1]) / max(1e-9, after[-1][0] - after[0][0])
    print(
        f"| first batch done, after the load (decoder start-up + first decodes) | {first:.2f} s |"
    )
    print(f"| steady rate, first batch to last | {steady:.0f} photos/s |")
    print(f"| rescan, nothing changed (model loaded: {again.model_loaded}) | {rescan:.2f} s |")


if __name__ == "__main__":
    main()
