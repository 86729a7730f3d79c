"""Accuracy benchmark on the miniature BLIP: the product path end to end, against known truth.

THESE ARE A MINIATURE'S FIGURES, NOT THE REAL MODEL'S: a 2-M-parameter BLIP trained for minutes on
drawn shapes (tests/data/miniature-blip/), scored on more drawn shapes. They show that the path
from photos to tags keeps what the model knows, and how tag rules compare on this fixture.

A held-out library of drawn photos (PNG, seed 2026: never seen in training) is scanned with
``engine.scan`` through the vision cache, tags are stored with ``Library.put_tag`` (threshold
0.5), and the export document is built by ``blipdesk.services.export.export_document``, as ``blipdesk export`` does.
Then, per tag, precision, recall and F1 of:

* ``max`` -- today's rule (the export's ``match``): the best ITM probability over the tag's
  sentences reaches its threshold;
* ``mean`` -- the mean of the sentences' ITM log-odds reaches the threshold's log-odds;
* ``first`` -- the tag's first sentence alone;

once with ``[CLS]`` as the ITM pass's first token (the model card's) and once with ``[ENC]``
(BLIP's own training).

    nice -n 15 python benchmarks/bench_accuracy.py [--photos 600] [--log FILE]
"""

from __future__ import annotations

import argparse
import io
import math
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import miniature as mini  # noqa: E402

LOG = ROOT / "benchmarks" / "results" / "2026-11-28-accuracy-miniature.log"


def tags() -> list[tuple[str, tuple[str, ...], object]]:
    """(name, sentences, truth(photo)) for each benchmark tag."""
    out: list[tuple[str, tuple[str, ...], object]] = []
    for colour in mini.COLOURS:
        out.append(
            (
                colour,
                (f"a {colour} shape", *(f"a {colour} {s}" for s in mini.SHAPES)),
                lambda p, c=colour: any(it.colour == c for it in p.items),
            )
        )
    for shape in mini.SHAPES:
        out.append(
            (
                shape,
                (f"a {shape}", *(f"a {c} {shape}" for c in mini.COLOURS)),
                lambda p, s=shape: any(it.shape == s for it in p.items),
            )
        )
    for colour, shape in (("red", "circle"), ("blue", "square"), ("yellow", "star")):
        out.append(
            (
                f"{colour} {shape}",
                (f"a {colour} {shape}",),
                lambda p, c=colour, s=shape: any((it.colour, it.shape) == (c, s) for it in p.items),
            )
        )
    for shape in ("circle", "triangle"):
        out.append(
            (
                f"two {shape}s",
                (f"two {shape}s",),
                lambda p, s=shape: sum(it.shape == s for it in p.items) == 2,
            )
        )
    return out


def logit(p: float) -> float:
    p = min(max(p, 1e-7), 1 - 1e-7)
    return math.log(p / (1 - p))


def run(n_photos: int) -> None:
    from blipdesk.core.engine import ScanOptions, lazy_scorer, model_key, scan
    from blipdesk.core.model import ModelSpec
    from blipdesk.domain import Tag
    from blipdesk.services.export import export_document
    from blipdesk.store import Library

    print(
        "ACCURACY OF A MINIATURE BLIP ON DRAWN SHAPES -- a miniature's figures, not the real model's"
    )
    print(f"model: {mini.SHIPPED.relative_to(ROOT)} (trained by scripts/train_miniature.py)")
    with tempfile.TemporaryDirectory(prefix="bench-accuracy-") as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        items = mini.photos(n_photos, seed=2026)
        started = time.monotonic()
        for i, photo in enumerate(items):
            mini.render(photo).save(folder / f"p{i:04d}.png")
        truth_of = {str(folder / f"p{i:04d}.png"): p for i, p in enumerate(items)}
        print(f"library: {n_photos} held-out photos, drawn in {time.monotonic() - started:.1f} s")
        bench_tags = tags()
        spec = ModelSpec(str(mini.SHIPPED))
        results: dict[str, dict] = {}
        for first in ("cls", "enc"):
            with Library.open(Path(tmp) / f"data-{first}" / "library.sqlite3") as library:
                for name, sentences, _ in bench_tags:
                    library.put_tag(Tag(name, sentences, 0.5))
                key = model_key(spec, first)
                options = ScanOptions(features_dir=Path(tmp) / f"data-{first}" / "features")
                started = time.monotonic()
                summary = scan(
                    library,
                    [folder],
                    library.all_sentences(),
                    key,
                    lazy_scorer(spec, "cpu", "fp32", first),
                    options,
                )
                seconds = time.monotonic() - started
                doc = export_document(library, key.score_key, key.source, [str(folder)])
            assert summary.scored == n_photos and not summary.failures, summary
            print(
                f"scan, first token [{first.upper()}]: {summary.scored} photos in {seconds:.1f} s"
            )
            results[first] = figures(doc, bench_tags, truth_of)
        print_table(results, bench_tags)


def figures(doc: dict, bench_tags, truth_of) -> dict:
    thresholds = {t["name"]: t["threshold"] for t in doc["tags"]}
    out: dict[str, dict[str, tuple[float, float, float]]] = {}
    for name, sentences, is_true in bench_tags:
        y, by_rule = [], {"max": [], "mean": [], "first": []}
        for photo in doc["photos"]:
            tag = photo["tags"][name]
            y.append(is_true(truth_of[photo["path"]]))
            by_rule["max"].append(tag["match"])
            odds = [logit(tag["sentences"][s]["itm"]) for s in sentences]
            by_rule["mean"].append(float(np.mean(odds)) >= logit(thresholds[name]))
            by_rule["first"].append(tag["sentences"][sentences[0]]["itm"] >= thresholds[name])
        out[name] = {rule: mini.prf(pred, y) for rule, pred in by_rule.items()}
        out[name]["positives"] = (sum(y), len(y), 0.0)
    return out


def print_table(results: dict, bench_tags) -> None:
    print()
    print("Per tag, threshold 0.5. P/R/F1 of today's rule (max ITM over the tag's sentences);")
    print(
        "F1 of the mean-log-odds rule and of the first sentence alone. [CLS] | [ENC] first token."
    )
    head = f"{'tag':<15}{'n':>3} {'pos':>4} | {'P':>5} {'R':>5} {'F1':>5} {'mean':>5} {'first':>5}"
    print(head + " | " + head.split("| ", 1)[1])
    print("-" * len(head + " | " + head.split("| ", 1)[1]))
    macro: dict[str, dict[str, list[float]]] = {
        f: {"max": [], "mean": [], "first": []} for f in results
    }
    for name, sentences, _ in bench_tags:
        cells = []
        for first in ("cls", "enc"):
            r = results[first][name]
            p, rc, f1 = r["max"]
            cells.append(f"{p:5.3f} {rc:5.3f} {f1:5.3f} {r['mean'][2]:5.3f} {r['first'][2]:5.3f}")
            for rule in ("max", "mean", "first"):
                macro[first][rule].append(r[rule][2])
        pos = int(results["cls"][name]["positives"][0])
        print(f"{name:<15}{len(sentences):>3} {pos:>4} | " + " | ".join(cells))
    print()
    for first in ("cls", "enc"):
        m = {rule: float(np.mean(v)) for rule, v in macro[first].items()}
        multi = {
            rule: float(
                np.mean([f for f, (_, s, _) in zip(v, bench_tags, strict=True) if len(s) > 1])
            )
            for rule, v in macro[first].items()
        }
        print(
            f"macro F1, first token [{first.upper()}]: max {m['max']:.3f}  mean log-odds "
            f"{m['mean']:.3f}  first sentence {m['first']:.3f}   (multi-sentence tags only: max "
            f"{multi['max']:.3f}  mean {multi['mean']:.3f}  first {multi['first']:.3f})"
        )
    print()
    print("The multi-sentence tags here list alternatives (a colour's four shapes, a shape's five")
    print(
        "colours): at most one or two are true of a photo, so the mean of log-odds is pulled down by"
    )
    print(
        "the false ones and misses nearly everything; the best sentence (today's rule) is the right"
    )
    print(
        "rule for alternatives. The mean would suit paraphrases (all true or all false together),"
    )
    print("which this grammar has none of.")
    print(
        "n: the tag's sentences; pos: photos where the tag is true. A miniature's figures, not the"
    )
    print("real model's: they check the product path and compare rules on drawn shapes only.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Accuracy of the miniature BLIP, end to end.")
    parser.add_argument("--photos", type=int, default=600)
    parser.add_argument("--log", type=Path, default=LOG, help="also write the output here")
    args = parser.parse_args(argv)
    buffer = io.StringIO()

    class Tee(io.TextIOBase):
        def write(self, s: str) -> int:
            sys.__stdout__.write(s)
            sys.__stdout__.flush()
            return buffer.write(s)

    with redirect_stdout(Tee()):
        run(args.photos)
    if args.log:
        args.log.parent.mkdir(parents=True, exist_ok=True)
        args.log.write_text(buffer.getvalue(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
