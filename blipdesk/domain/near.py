"""What a photographer calls a near-duplicate: a burst frame or a re-export of the same photo,
not another photo of the same thing (that is "similar", the embedding's job).

Two photos are near-duplicates when their pixels' perceptual hashes (``core/pixel_hash.py``)
differ in at most ``NEAR_BITS`` bits, and, when both say when they were taken, they were taken
within ``NEAR_SECONDS`` of each other (a re-export keeps its capture time; a burst's frames are
seconds apart). A burst, which the grid stacks, is tighter: frames within ``BURST_SECONDS``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

# The hash has 143 bits (core/pixel_hash.py). Measured on drawn photos (a shape on a textured
# or a plain white ground): a re-export (JPEG at quality 60, half the size, noise, +10%
# brightness) moves at most 8 of them, a frame shifted by 2% at most 28; two different drawings
# of a green triangle differ in 42 or more.
NEAR_BITS = 30
NEAR_SECONDS = 30.0
BURST_SECONDS = 2.0


def distance(a: bytes, b: bytes) -> int:
    """How many bits two hashes differ in (hashes of different lengths are far apart)."""
    if len(a) != len(b):
        return 8 * max(len(a), len(b))
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


def near_duplicates(
    a: bytes,
    b: bytes,
    taken_a: float | None,
    taken_b: float | None,
    seconds: float = NEAR_SECONDS,
) -> bool:
    """Whether two photos (their hashes, their capture times or None) are near-duplicates; with
    ``seconds=BURST_SECONDS``, frames of one burst."""
    if distance(a, b) > NEAR_BITS:
        return False
    if taken_a is None or taken_b is None:
        return True
    return abs(taken_a - taken_b) <= seconds


def bursts(
    frames: Sequence[tuple[str, bytes | None, float | None]],
) -> list[tuple[str, ...]]:
    """The bursts among ``frames`` (path, hash, capture time): runs of photos, in the order they
    were taken, each within ``BURST_SECONDS`` of the run's last frame and near-identical to it
    (the hash; another photo taken in between does not break a run); two or more frames each.
    Photos without a hash or a capture time are in none."""
    timed = sorted(
        ((t, p, h) for p, h, t in frames if h is not None and t is not None),
        key=lambda f: (f[0], f[1]),
    )
    done: list[tuple[str, ...]] = []
    runs: list[tuple[list[str], float, bytes]] = []  # frames, the last one's time and hash
    for when, path, bits in timed:
        # runs that ended over BURST_SECONDS ago can take no more frames (time order): closed
        done += [tuple(f) for f, w, _b in runs if when - w > BURST_SECONDS and len(f) > 1]
        runs = [r for r in runs if when - r[1] <= BURST_SECONDS]
        for i, (run, last_when, last_bits) in enumerate(runs):
            if near_duplicates(last_bits, bits, last_when, when, BURST_SECONDS):
                run.append(path)
                runs[i] = (run, when, bits)
                break
        else:
            runs.append(([path], when, bits))
    return done + [tuple(run) for run, _w, _b in runs if len(run) > 1]


def stack_top(members: Sequence[str], rating: Callable[[str], tuple[int, int]]) -> str:
    """The photo a stack shows on top: the best rated (``rating``: path -> (stars, flag)); a
    reject never before a photo that is not; ties: the first taken."""

    def rank(item: tuple[int, str]) -> tuple[bool, int, int, int]:
        i, path = item
        stars, flag = rating(path)
        return (flag >= 0, stars, flag, -i)

    return max(enumerate(members), key=rank)[1]
