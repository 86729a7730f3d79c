"""The vision cache's storage layout: one file per photo (what blipdesk does) against packed files.

For a library of 100,000 photos the cache holds ~60 GB in 0.6 MB records. Two layouts:

* one file per photo (``feature_cache.FeatureStore``): write = temp file + rename, read = open +
  read, evict = unlink; the index (size, last use) in SQLite;
* packed: records appended to 256 MB pack files with an index of (pack, offset, length);
  read = seek + read; evict = drop index entries, and to get the disk back, rewrite (compact)
  every pack that holds evicted records.

Measured here at ``--photos`` records (default 2,000 = 1.2 GB) through the real code for the
first and a minimal implementation of the second, warm page cache and, where this machine lets
us drop it (root, not in every container), cold. Prints a table; asserts nothing.

    python benchmarks/bench_features.py [--photos 2000] [--dir /path/on/the/disk/to/test]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from blipdesk.core import feature_cache as fc
from blipdesk.store import Library

PACK_BYTES = 256 * 1024**2


def drop_caches() -> bool:
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


class Packed:
    """A minimal packed layout: append-only packs, an in-memory index."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True)
        self.index: dict[str, tuple[int, int, int]] = {}
        self.pack = 0
        self.fh = open(root / "0.pack", "ab")  # noqa: SIM115

    def put(self, key: str, blob: bytes) -> None:
        if self.fh.tell() + len(blob) > PACK_BYTES:
            self.fh.close()
            self.pack += 1
            self.fh = open(self.root / f"{self.pack}.pack", "ab")  # noqa: SIM115
        self.index[key] = (self.pack, self.fh.tell(), len(blob))
        self.fh.write(blob)

    def close(self) -> None:
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()

    def get(self, key: str) -> bytes:
        pack, offset, length = self.index[key]
        with open(self.root / f"{pack}.pack", "rb") as fh:
            fh.seek(offset)
            return fh.read(length)

    def evict(self, keys: list[str]) -> None:
        """Forget ``keys`` and compact the packs that held them (the only way to free disk)."""
        touched = {self.index[k][0] for k in keys}
        for k in keys:
            del self.index[k]
        for pack in touched:
            live = [(k, v) for k, v in self.index.items() if v[0] == pack]
            src = self.root / f"{pack}.pack"
            tmp = self.root / f"{pack}.pack.tmp"
            with open(src, "rb") as fin, open(tmp, "wb") as fout:
                for k, (_, offset, length) in live:
                    fin.seek(offset)
                    self.index[k] = (pack, fout.tell(), length)
                    fout.write(fin.read(length))
            os.replace(tmp, src)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=2000)
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    n = args.photos
    rng = np.random.default_rng(0)
    base = rng.standard_normal((577, 1024)).astype(np.float32)
    blob = fc.encode(base)
    keys = [f"{i:064x}" for i in range(n)]
    root = Path(tempfile.mkdtemp(prefix="bench-features-", dir=args.dir))
    rows = []

    def row(what: str, value: str) -> None:
        rows.append((what, value))
        print(f"  {what:<58} {value}", flush=True)

    t = time.perf_counter()
    for _ in range(50):
        fc.encode(base)
    row("encode one photo, compact (CPU)", f"{(time.perf_counter() - t) / 50 * 1e3:.2f} ms")
    t = time.perf_counter()
    for _ in range(50):
        fc.decode(blob)
    row("decode one photo, compact (CPU)", f"{(time.perf_counter() - t) / 50 * 1e3:.2f} ms")
    mb = n * len(blob) / 1e6
    print(f"\n# {n} photos x {len(blob) / 1e6:.3f} MB = {mb:.0f} MB at {root}")

    # One file per photo: FeatureStore's own file writer and reader, and its SQLite index.
    with Library.open(root / "index.sqlite3") as lib:
        store = fc.FeatureStore(root / "files", "bench", lib, budget=10**15)
        t = time.perf_counter()
        for start in range(0, n, 64):  # the scan's batches: 64 files, then one index commit
            part = keys[start : start + 64]
            sizes = {k: fc._write_atomic(store.path(k), blob) for k in part}
            lib.record_features(store.set_id, sizes, time.time())
        os.sync()
        w_files = time.perf_counter() - t
        order = keys[:]
        random.Random(0).shuffle(order)  # a new sentence's best-first order: scattered
        cold = drop_caches()
        t = time.perf_counter()
        for start in range(0, n, 64):
            part = order[start : start + 64]
            for k in part:
                fc.decode(fc._read_regular(store.path(k)))
            lib.touch_features(store.set_id, part, time.time())
        r_files = time.perf_counter() - t
        # Least recently used now = the first of ``order``: scattered over the write order.
        store.budget = int(0.89 * n * len(blob))  # over it: evict down to 90% of it, ~20%
        t = time.perf_counter()
        freed = store.enforce_budget()
        e_files = time.perf_counter() - t
        evicted = round(freed / len(blob))
    # Packed.
    packed = Packed(root / "packs")
    t = time.perf_counter()
    for k in keys:
        packed.put(k, blob)
    packed.close()
    os.sync()
    w_packed = time.perf_counter() - t
    drop_caches()
    t = time.perf_counter()
    for k in order:
        fc.decode(packed.get(k))
    r_packed = time.perf_counter() - t
    t = time.perf_counter()
    packed.evict(order[:evicted])  # the same photos LRU picked: scattered over the packs
    os.sync()
    e_packed = time.perf_counter() - t

    print(f"\n## throughput ({'cold' if cold else 'warm'} page cache for reads)")
    row("one file per photo: write (file + index)", f"{mb / w_files:.0f} MB/s, "
        f"{n / w_files:.0f} photos/s")  # fmt: skip
    row("one file per photo: read (file + decode + index touch)", f"{mb / r_files:.0f} MB/s, "
        f"{n / r_files:.0f} photos/s")  # fmt: skip
    row("packed: write (append + in-memory index)", f"{mb / w_packed:.0f} MB/s, "
        f"{n / w_packed:.0f} photos/s")  # fmt: skip
    row(
        "packed: read (seek + read + decode)",
        f"{mb / r_packed:.0f} MB/s, {n / r_packed:.0f} photos/s",
    )
    print(f"\n## evicting the {evicted} least recently used ({evicted / n:.0%})")
    row("one file per photo: unlink + index delete", f"{e_files * 1e3:.0f} ms")
    row("packed: drop + compact the packs that held them (+ sync)", f"{e_packed * 1e3:.0f} ms")
    row("  ratio", f"{e_packed / max(e_files, 1e-9):.1f}x")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
