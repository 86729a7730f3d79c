"""What "why this tag" costs: a Grad-CAM explanation (core/explain.py) from a photo's cached vision
output and from a fresh photo, against the vision pass itself, on the real-size architecture
(ViT-L/16 at 384 px + BERT-base, random weights: the real model's compute). Prints a table;
asserts nothing.

    python benchmarks/bench_explain.py [--precision auto|fp32|bf16]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engine import build

from blipdesk.core.device import configure_threads, resolve_placement
from blipdesk.core.explain import explain
from blipdesk.core.scorer import Scorer
from tests.helpers.models import SAMPLE_SENTENCES


def median_time(fn, repeat: int = 3) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--precision", default="auto")
    args = ap.parse_args()
    threads = configure_threads()
    placement = resolve_placement("cpu", args.precision)
    _, _, _, loaded, _ = build(placement.device, placement.dtype, Path(tempfile.mkdtemp()))
    scorer = Scorer(loaded)
    image = np.random.default_rng(0).integers(0, 255, (1, 384, 384, 3), dtype=np.uint8)
    embeds = scorer.encode_images(scorer.pixels(image)).embeds[0]
    sentence = SAMPLE_SENTENCES[0]
    vision = median_time(lambda: scorer.encode_images(scorer.pixels(image)))
    cached = median_time(lambda: explain(scorer, embeds, sentence))
    layers = explain(scorer, embeds, sentence).layer
    assert isinstance(layers, int)
    summed = median_time(lambda: explain(scorer, embeds, sentence, (layers - 1, layers)))
    fresh = median_time(
        lambda: explain(scorer, scorer.encode_images(scorer.pixels(image)).embeds[0], sentence)
    )
    print(f"# explain: torch {torch.__version__}, {placement.describe()}, {threads} threads")
    print(f"  {'vision pass, one photo':<52} {vision:8.3f} s")
    print(f"  {'explanation from the cached vision output':<52} {cached:8.3f} s  "
          f"({cached / vision:.2f} of a vision pass)")  # fmt: skip
    print(f"  {f'the same, text layers {layers - 1}+{layers} summed':<52} {summed:8.3f} s  "
          f"({summed / cached:.2f} of one layer's)")  # fmt: skip
    print(f"  {'explanation of a fresh photo (vision pass + map)':<52} {fresh:8.3f} s")


if __name__ == "__main__":
    main()
