"""Your keywords teach blipdesk (issue 26) on the trained miniature: a drawn library keyworded in
a person's own vocabulary, learnt from 40% of it, suggested for the rest.

THESE ARE A MINIATURE'S FIGURES, NOT THE REAL MODEL'S (tests/data/miniature-blip/, drawn shapes).

A drawn library (``--photos``, seed 4242) is scanned with ``engine.scan`` (one vision pass each,
kept in the vision cache). 40% of it is keyworded in a person's hierarchical vocabulary
("Colours|Warm|Crimson" for red things, "Night sky" for stars: not the captions' grammar), and a
true keyword is forgotten on a photo with probability ``FORGET``, as people do. Each keyword's
words are then scored from the vision cache (``cached_only``: the text side only). Per keyword,
with 5, 10, 20 and 40 examples (the first photos of the keyworded part that carry it; the
keyworded photos without it are its counter-examples), the rule is learnt (``core.keywords``)
and its suggestions on the other 60% are checked against the drawn truth: precision and recall,
for the combined rule, for the keyword's name alone as a sentence (ITM >= 0.5) and for its
examples alone (the probe without the words); with the held-out estimate shown to the user.

Then the timings: ``keywords import`` (services.keywords.import_keywords over photos with
sidecars, hashing included) in photos/s, and ``suggest`` (learning every keyword and scoring every
photo, from the cache) over a synthetic 10,000-photo cache (random unit ITC vectors and sentence
scores, real SQLite, 40% keyworded).

    nice -n 15 python benchmarks/bench_keywords.py [--photos 500] [--import-photos 2000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import miniature as mini  # noqa: E402

FORGET = 0.15
COUNTS = (5, 10, 20, 40)


def has(colour=None, shape=None):
    return lambda p: any(
        (colour is None or it.colour == colour) and (shape is None or it.shape == shape)
        for it in p.items
    )


VOCABULARY = {
    "Colours|Warm|Crimson": has("red"),
    "Colours|Cool|Ocean": has("blue"),
    "Colours|Warm|Sunshine": has("yellow"),
    "Nature|Leaves": has("green"),
    "Snow": has("white"),
    "Shapes|Round|Ball": has(shape="circle"),
    "Shapes|Boxes": has(shape="square"),
    "Night sky": has(shape="star"),
    "Shapes|Pointy|Pyramid": has(shape="triangle"),
}


def prf(chosen: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    tp = int((chosen & truth).sum())
    return (tp / chosen.sum() if chosen.any() else float("nan")), tp / max(int(truth.sum()), 1)


def accuracy(n_photos: int, tmp: Path) -> None:
    from dataclasses import replace

    from blipdesk.core.engine import ScanOptions, lazy_scorer, model_key, scan
    from blipdesk.core.keywords import KeywordData, carried, learn, probabilities
    from blipdesk.core.model import ModelSpec
    from blipdesk.services.keywords import keyword_data, sentences
    from blipdesk.store import Library

    folder = tmp / "photos"
    folder.mkdir()
    drawn = mini.photos(n_photos, seed=4242)
    for i, photo in enumerate(drawn):
        mini.render(photo).save(folder / f"p{i:04d}.png")
    spec = ModelSpec(str(mini.SHIPPED))
    key = model_key(spec, "cls")
    scorer = lazy_scorer(spec, "cpu", "fp32", "cls")
    options = ScanOptions(features_dir=tmp / "data" / "features")
    with Library.open(tmp / "data" / "library.sqlite3") as lib:
        started = time.monotonic()
        scan(lib, [folder], (), key, scorer, options)
        print(f"library: {n_photos} drawn photos, scanned in {time.monotonic() - started:.1f} s")
        started = time.monotonic()
        scan(lib, [folder], sentences(VOCABULARY), key, scorer, replace(options, cached_only=True))
        print(
            f"the {len(VOCABULARY)} keywords' words scored from the vision cache in "
            f"{time.monotonic() - started:.1f} s (text side only)"
        )
        records = lib.photos_under([folder])
        by_path = {r.path: r.content for r in records}
        contents = [by_path[str(folder / f"p{i:04d}.png")] for i in range(n_photos)]
        data = keyword_data(lib, key.score_key, contents, list(VOCABULARY))
    index = {c: i for i, c in enumerate(data.contents)}
    truth = {
        k: np.array([rule(drawn[contents.index(c)]) for c in data.contents])
        for k, rule in VOCABULARY.items()
    }
    rng = np.random.default_rng(7)
    cut = int(0.4 * n_photos)
    train, test = contents[:cut], contents[cut:]
    given = {
        c: {k for k in VOCABULARY if truth[k][index[c]] and rng.random() >= FORGET} for c in train
    }
    given = {c: names for c, names in given.items() if names}
    unseen = np.zeros(len(data.contents), bool)
    unseen[[index[c] for c in test]] = True
    no_words = KeywordData(data.contents, data.features, {})
    print(
        f"keyworded: {len(given)} of the first {cut} photos (a true keyword forgotten with "
        f"p={FORGET}); suggestions checked on the other {len(test)} against the drawn truth"
    )
    print()
    head = f"{'keyword':<24} {'n':>3}  {'combined P/R':>12}  {'estimate P/R':>12}  "
    print(head + f"{'name alone P/R':>14}  {'examples alone P/R':>18}")
    macro: dict[int, list[tuple[float, ...]]] = {n: [] for n in COUNTS}
    for n in COUNTS:
        for k in VOCABULARY:
            carriers = [c for c in train if k in given.get(c, ())]
            if len(carriers) < n:
                continue
            dropped = set(carriers[n:])
            keywords = carried({c: v for c, v in given.items() if c not in dropped})
            row = []
            for d in (data, no_words):
                learnt = learn(k, d, keywords)
                p = probabilities(learnt, d)
                row.append((learnt, prf((p >= learnt.cut) & unseen, truth[k] & unseen)))
            (both, (pc, rc)), (_alone, (pe, re)) = row
            x = data.x.get(k)
            pn, rn = prf((x >= 0) & unseen, truth[k] & unseen) if x is not None else (0, 0)
            est = f"{both.estimated_precision or 0:.2f}/{both.estimated_recall or 0:.2f}"
            est += "~" if both.rough else " "
            print(
                f"{k:<24} {n:>3}  {pc:>5.2f}/{rc:.2f}  {est:>13} {pn:>8.2f}/{rn:.2f}  "
                f"{pe:>12.2f}/{re:.2f}"
            )
            macro[n].append((pc, rc, pn, rn, pe, re))
        print()
    print(
        f"{'macro':<6} {'n':>3}  {'combined P/R':>12}  {'name alone P/R':>14}  examples alone P/R"
    )
    for n, rows in macro.items():
        if rows:
            with warnings.catch_warnings():  # a column with nothing suggested at all: nan
                warnings.simplefilter("ignore", RuntimeWarning)
                m = np.nanmean(np.array(rows, float), axis=0)
            print(
                f"{'':<6} {n:>3}  {m[0]:>5.2f}/{m[1]:.2f}  {m[2]:>9.2f}/{m[3]:.2f}  "
                f"{m[4]:>12.2f}/{m[5]:.2f}   ({len(rows)} keywords)"
            )
    print("(~: the estimate is said to be rough: fewer than 8 labels of a kind; nan precision:")
    print(" nothing suggested. Macro precision is over the keywords that suggested something)")


def import_speed(n: int, tmp: Path) -> None:
    from PIL import Image

    from blipdesk.core.inventory import refresh_photos
    from blipdesk.services.keywords import import_keywords
    from blipdesk.store import Library
    from tests.unit.test_keywords import sidecar

    folder = tmp / "import"
    folder.mkdir()
    rng = np.random.default_rng(1)
    names = list(VOCABULARY)
    for i in range(n):
        path = folder / f"i{i:05d}.jpg"
        Image.new("RGB", (16, 12), tuple(int(v) for v in rng.integers(0, 255, 3))).save(path)
        if i % 5 < 2:
            chosen = list(rng.choice(names, 2, replace=False))
            (folder / f"i{i:05d}.jpg.xmp").write_text(
                sidecar([c.rsplit("|", 1)[-1] for c in chosen], chosen)
            )
    with Library.open(tmp / "import.sqlite3") as lib:
        started = time.monotonic()
        records = refresh_photos(lib, [folder])
        hashed = time.monotonic() - started
        report = import_keywords(lib, [(r.path, r.content) for r in records if r.content])
        total = time.monotonic() - started
        again = time.monotonic()
        import_keywords(lib, [(r.path, r.content) for r in refresh_photos(lib, [folder])])
        second = time.monotonic() - again
    print(
        f"import: {n} photos ({report.keyworded} with a sidecar) in {total:.2f} s, "
        f"{n / total:.0f} photos/s (hashing {hashed:.2f} s); again (hashed already): "
        f"{second:.2f} s, {n / second:.0f} photos/s"
    )


def suggest_time(n: int, tmp: Path) -> None:
    from blipdesk.domain import ScoreRow
    from blipdesk.services.keywords import sentence, suggest
    from blipdesk.store import Library

    rng = np.random.default_rng(3)
    key = "bench|first=cls|decode=1"
    dim = 256
    contents = [f"{i:064x}" for i in range(n)]
    truth = rng.random((n, len(VOCABULARY))) < 0.2
    axes = rng.normal(size=(len(VOCABULARY), dim))
    f = rng.normal(size=(n, dim)) + 2.0 * truth @ axes
    f = (f / np.linalg.norm(f, axis=1, keepdims=True)).astype(np.float32)
    with Library.open(tmp / "suggest.sqlite3") as lib:
        lib.ensure_model(key, "bench")
        rows = [
            ScoreRow(c, sentence(k), float(rng.random()), 0.0, 0.0, float(f[i, 0]))
            for i, c in enumerate(contents)
            for k in VOCABULARY
        ]
        lib.write_batch(key, rows, {c: f[i] for i, c in enumerate(contents)}, {})
        from blipdesk.domain import PhotoRecord

        lib.record_photos([PhotoRecord(f"/bench/{c}.jpg", 1, 1, c, None) for c in contents])
        found = {
            c: [k for j, k in enumerate(VOCABULARY) if truth[i, j]]
            for i, c in enumerate(contents[: int(0.4 * n)])
        }
        lib.replace_imported({c: v for c, v in found.items() if v})
        paths = {f"/bench/{c}.jpg": c for c in contents}
        started = time.monotonic()
        learnt, suggestions = suggest(lib, key, paths, min_precision=0.0)
        took = time.monotonic() - started
    print(
        f"suggest: {n} photos, {len(learnt)} keywords learnt from {len(found)} keyworded "
        f"photos, {len(suggestions)} suggestions, in {took:.2f} s (store read, learning with "
        "held-out estimates, scoring)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=500)
    parser.add_argument("--import-photos", type=int, default=10000)
    parser.add_argument("--suggest-photos", type=int, default=10000)
    parser.add_argument("--timings-only", action="store_true")
    ns = parser.parse_args()
    print("KEYWORDS ON A MINIATURE BLIP -- a miniature's figures, not the real model's")
    with tempfile.TemporaryDirectory(prefix="bench-keywords-") as tmp:
        if not ns.timings_only:
            accuracy(ns.photos, Path(tmp))
            print()
        import_speed(ns.import_photos, Path(tmp))
        suggest_time(ns.suggest_photos, Path(tmp))


if __name__ == "__main__":
    main()
