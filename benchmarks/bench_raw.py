"""Decoding a RAW file vs a 12-MP JPEG: what the model, a thumbnail and the viewer each cost.
Prints a table with ratios to the JPEG; asserts nothing.

    python benchmarks/bench_raw.py [--repeat 5]

The RAW files are real DNGs (tests/helpers/dng.py: tifffile writes them, LibRaw reads them) of a
24-MP sensor (6000 x 4000, 12-bit Bayer): one with a 1620 x 1080 JPEG preview (what most cameras
embed), one with an uncompressed bitmap preview, one with no usable preview (the half-size
demosaic fallback). The JPEG is 4000 x 3000 (12 MP) at quality 90 with film-grain-like
noise (so it weighs what a photo does, ~5 MB), decoded with draft (the decode rule's DCT
scaling), as every JPEG is. The previews carry the same noise.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def timed(fn, repeat: int) -> float:
    fn()  # warm: imports, page cache
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import rawpy

    from blipdesk.core.imaging import DecodeOptions, decode_photo, load_for_model
    from blipdesk.core.raw import read_raw
    from tests.helpers.dng import scene, write_dng

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        from PIL import Image

        jpeg = folder / "12mp.jpg"
        Image.fromarray(scene(4000, 3000, marker=True, noise=24)).save(jpeg, quality=90)
        raws = {
            "DNG 24 MP, JPEG preview 1620x1080": write_dng(
                folder / "jpeg-preview.dng", 6000, 4000, "jpeg", (1620, 1080), noise=24
            ),
            "DNG 24 MP, bitmap preview 1620x1080": write_dng(
                folder / "bitmap-preview.dng", 6000, 4000, "bitmap", (1620, 1080), noise=24
            ),
            "DNG 24 MP, no preview (half demosaic)": write_dng(
                folder / "no-preview.dng", 6000, 4000, None, noise=24
            ),
        }
        for name, path in raws.items():
            picture = read_raw(path, 10**9, lambda b: ((1620, 1080), None))
            print(f"{name}: {path.stat().st_size / 1e6:.1f} MB, decoded from {picture.source}")
        print(f"JPEG 12 MP: {jpeg.stat().st_size / 1e6:.1f} MB; rawpy {rawpy.__version__}, "
              f"LibRaw {'.'.join(map(str, rawpy.libraw_version))}")  # fmt: skip
        uses = {
            "model (load_for_model)": lambda p: load_for_model(p),
            "thumbnail (draft 192)": lambda p: decode_photo(p, DecodeOptions(draft_size=192)),
            "viewer (draft 1024)": lambda p: decode_photo(p, DecodeOptions(draft_size=1024)),
        }
        print(f"\nmedian of {args.repeat}, ms per file (ratio to the 12-MP JPEG)")
        header = f"{'file':40s}" + "".join(f"{u:>26s}" for u in uses)
        print(header)
        print("-" * len(header))
        base = {u: timed(lambda f=f: f(jpeg), args.repeat) for u, f in uses.items()}
        print(
            f"{'JPEG 12 MP (draft)':40s}" + "".join(f"{base[u] * 1e3:>20.1f}  1.0x " for u in uses)
        )
        for name, path in raws.items():
            row = f"{name:40s}"
            for u, f in uses.items():
                t = timed(lambda f=f, p=path: f(p), args.repeat)
                row += f"{t * 1e3:>20.1f} {t / base[u]:>4.1f}x "
            print(row)


if __name__ == "__main__":
    main()
