"""What a photographer calls a near-duplicate: a burst frame or a re-export of the same photo,
not another photo of the same thing (that is "similar", the embedding's job).

Two photos are near-duplicates when their pixels' perceptual hashes (``core/pixel_hash.py``)
differ in at most ``NEAR_BITS`` bits, and, when both say when they were taken, they were taken
within ``NEAR_SECONDS`` of each other (a re-export keeps its capture time; a burst's frames are
seconds apart). A burst, which the grid stacks, is tighter: frames within ``BURST_SECONDS``.
"""

from __future__ import annotations

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
