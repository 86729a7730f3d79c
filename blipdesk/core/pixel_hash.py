"""A perceptual hash of a photo's pixels: near-duplicates (burst frames, re-exports) hash alike,
different photos apart (the rule that compares them is ``domain/near.py``).

The hash is pHash's idea (a DCT of a 32 x 32 grey thumbnail; the signs of its lowest frequencies
against their median), with 12 x 12 frequencies less the mean: 143 bits. A difference hash
(dHash) was tried first and refused: on a flat background (a drawing on white) most of its bits
are "equal neighbours", so two different drawings were 3 bits apart, and noise flipped 11. The
median split keeps half the bits set on any photo. It is computed from the pixels the scan has
already decoded for the model (``imaging.load_for_model``: upright RGB, 384 x 384), so it costs
no decode of its own; ``photo_hash`` decodes the same way for a photo scanned before hashes were
kept. numpy and Pillow; the DCT is a matrix product (no scipy)."""

from __future__ import annotations

import os
from functools import cache

import numpy as np
from PIL import Image

SIDE = 32  # the grey thumbnail the DCT is taken of
FREQUENCIES = 12  # the lowest 12 x 12 frequencies, less the mean: 143 bits


@cache
def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2 / n)
    m[0] /= np.sqrt(2)
    return np.asarray(m, dtype=np.float64)


def pixel_hash(pixels: np.ndarray | Image.Image) -> bytes:
    """The hash of an RGB image (uint8 HWC array or a PIL image), its bits packed."""
    im = pixels if isinstance(pixels, Image.Image) else Image.fromarray(np.asarray(pixels))
    grey = np.asarray(im.convert("L").resize((SIDE, SIDE), Image.Resampling.BOX), dtype=np.float64)
    d = _dct_matrix(SIDE)
    low = (d @ grey @ d.T)[:FREQUENCIES, :FREQUENCIES].flatten()[1:]
    return np.packbits(low > np.median(low)).tobytes()


def photo_hash(path: str | os.PathLike[str]) -> bytes:
    """The hash of a photo file, decoded as the scan decodes it (PhotoError when it cannot be)."""
    from blipdesk.core.imaging import load_for_model

    return pixel_hash(load_for_model(path))
