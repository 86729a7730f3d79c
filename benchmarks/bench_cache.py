"""The library cache at scale, and the vision-feature cache's payoff. Prints a table; no asserts.

    python benchmarks/bench_cache.py [--photos 10000] [--sentences 20] [--new-sentence-photos 48]
                                     [--large]

How the 10,000-photo library is synthesised (fast, and honest about what is measured):

* files: one tiny valid PNG written 10,000 times with a unique trailing chunk of bytes (PNG
  readers stop at IEND), so every file has its own content hash; about 1 s to write;
* cache: ``refresh_photos`` walks and hashes them for real; scores for every (photo, sentence)
  and the ITC image features are then written straight through ``Library.write_batch`` with
  random values, in 500-photo transactions, instead of running a model 200,000 times.

Then an unchanged rescan runs the real ``engine.scan`` with a scorer factory that raises if
called; the table shows that it was never called and that torch was never even imported.

The feature-cache speedup is measured on real JPEGs with the tiny random model by default (its
ratio understates the real one: the tiny ViT is nearly free, so decoding dominates the fresh
scan); ``--large`` builds the full blip-itm-large-flickr architecture with random weights instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from blipdesk.core.engine import ModelKey, ScanOptions, model_key, scan
from blipdesk.core.feature_cache import file_bytes
from blipdesk.core.inventory import refresh_photos
from blipdesk.domain import ScoreRow, Tag
from blipdesk.store import Library

TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c4944415408d763f8cfc000000301010018dd8db00000000049454e44ae426082"
)


def synth_library(folder: Path, count: int) -> None:
    for i in range(count):
        sub = folder / f"{i // 1000:02}"
        if i % 1000 == 0:
            sub.mkdir(parents=True, exist_ok=True)
        (sub / f"img{i:05}.png").write_bytes(TINY_PNG + i.to_bytes(4, "little"))


def populate(lib: Library, key: ModelKey, folder: Path, sentences: list[str]) -> float:
    started = time.perf_counter()
    photos = refresh_photos(lib, [folder])
    walk = time.perf_counter() - started
    lib.ensure_model(key.score_key, key.source)
    rng = np.random.default_rng(0)
    contents = [p.content for p in photos]
    for start in range(0, len(contents), 500):
        part = contents[start : start + 500]
        rows = [
            ScoreRow(c, s, *map(float, rng.random(4)))
            for c in part
            for s in sentences  # (itm, logit_no, logit_yes, cosine): values do not matter here
        ]
        feats = {c: rng.standard_normal(256).astype(np.float32) for c in part}
        lib.write_batch(key.score_key, rows, feats, {})
    return walk


def never_load():
    raise AssertionError("the model was loaded")


def bench_library(args, root: Path, table: list[tuple[str, str]]) -> None:
    from blipdesk.services.export import export_csv, export_document

    folder, db = root / "library", root / "data" / "library.sqlite3"
    sentences = [f"a photo of subject number {i}" for i in range(args.sentences)]
    key = ModelKey("bench|first=cls|decode=1", "bench|decode=1", "bench-model")
    t = time.perf_counter()
    synth_library(folder, args.photos)
    table.append((f"write {args.photos} tiny PNG files", f"{time.perf_counter() - t:.2f} s"))
    with Library.open(db) as lib:
        lib.put_tag(Tag("bench", tuple(sentences)))
        t = time.perf_counter()
        walk = populate(lib, key, folder, sentences)
        table.append(("first walk + content hash (cold cache rows)", f"{walk:.2f} s"))
        table.append(
            (
                f"populate {args.photos}x{args.sentences} scores directly",
                f"{time.perf_counter() - t - walk:.2f} s",
            )
        )
        t = time.perf_counter()
        summary = scan(lib, [folder], sentences, key, never_load, ScanOptions())
        took = time.perf_counter() - t
        table.append((f"rescan of unchanged {args.photos}-photo library", f"{took:.2f} s"))
        table.append(
            (
                "  model loaded / torch imported during rescan",
                f"{summary.model_loaded} / {'torch' in sys.modules}",
            )
        )
        t = time.perf_counter()
        doc = export_document(lib, key.score_key, key.source, [folder])
        text = json.dumps(doc)
        took = time.perf_counter() - t
        table.append(
            (
                f"export JSON {args.photos} photos x {args.sentences} sentences",
                f"{took:.2f} s ({len(text) / 1e6:.0f} MB)",
            )
        )
        t = time.perf_counter()
        text = export_csv(doc)
        table.append(("  ... then CSV from the same document", f"{time.perf_counter() - t:.2f} s"))
        lib.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = db.stat().st_size
    table.append(
        (
            f"cache bytes per photo ({args.sentences} sentences + ITC feature)",
            f"{size / args.photos:.0f} B ({size / 1e6:.1f} MB total)",
        )
    )


def bench_feature_cache(args, root: Path, table: list[tuple[str, str]]) -> None:
    from blipdesk.core.engine import lazy_scorer
    from blipdesk.core.model import ModelSpec
    from tests.helpers.models import build_random_blip, large_config, scene

    model_dir = build_random_blip(root / "model", large_config() if args.large else None)
    spec = ModelSpec(str(model_dir))
    key = model_key(spec)
    folder = root / "jpegs"
    folder.mkdir()
    for i in range(args.new_sentence_photos):
        scene(1600, 1200, i).save(folder / f"photo{i:03}.jpg", quality=90)
    scorer = lazy_scorer(spec, args.device, "fp32" if args.device == "cpu" else "auto")
    scorer()  # load once, outside the timings
    base = ScanOptions(batch_size=8, feature_cache=False)
    cached = ScanOptions(batch_size=8, features_dir=root / "features")  # the default: on
    first = ["a dog on a beach"]
    runs = {}
    for name, options in (("fresh", base), ("cached", cached)):
        with Library.open(root / f"{name}.sqlite3") as lib:
            scan(lib, [folder], first, key, scorer, options)  # the library as scanned before
            t = time.perf_counter()
            summary = scan(lib, [folder], [*first, "birthday cake with candles"], key, scorer,
                           options if name == "cached" else base)  # fmt: skip
            runs[name] = (time.perf_counter() - t, summary.scored)
    with Library.open(root / "cold.sqlite3") as lib:  # a fresh scan: decode + vision + text
        t = time.perf_counter()
        scan(lib, [folder], ["birthday cake with candles"], key, scorer, base)
        cold = time.perf_counter() - t
    model = "blip-itm-large-flickr architecture (random weights)" if args.large else "tiny model"
    model += f", {args.device}"
    n = args.new_sentence_photos
    table.append((f"new sentence, {n} JPEGs 1600x1200, {model}", ""))
    table.append(("  fresh scan (decode + vision + ITM)", f"{cold:.2f} s"))
    table.append(("  add a sentence with the vision cache off", f"{runs['fresh'][0]:.2f} s"))
    table.append(("  add a sentence with the vision cache (default)", f"{runs['cached'][0]:.2f} s"))
    table.append(("  speedup vs fresh scan", f"{cold / runs['cached'][0]:.1f}x"))
    files = list((root / "features").rglob("*.vis"))
    per = sum(f.stat().st_size for f in files) / max(1, len(files))
    table.append(("  vision cache bytes per photo (this model)", f"{per / 1e3:.1f} kB"))
    table.append(
        ("  vision cache bytes per photo (real model)", f"{file_bytes(577, 1024) / 1e6:.3f} MB")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=10_000)
    parser.add_argument("--sentences", type=int, default=20)
    parser.add_argument("--new-sentence-photos", type=int, default=48)
    parser.add_argument("--large", action="store_true", help="full-size architecture (slow)")
    parser.add_argument("--device", default="cpu", help="for the feature-cache measurement")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    table: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as tmp:
        bench_library(args, Path(tmp), table)
        bench_feature_cache(args, Path(tmp), table)
    width = max(len(a) for a, _ in table)
    print(f"{'measurement':<{width}}  result")
    print(f"{'-' * width}  ------")
    for a, b in table:
        print(f"{a:<{width}}  {b}")


if __name__ == "__main__":
    main()
