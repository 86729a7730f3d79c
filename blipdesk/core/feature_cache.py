"""Opt-in on-disk cache of the vision tower's output (``ImageFeatures.embeds``).

With it, scoring a new sentence against an already scanned library skips decoding and the ViT:
only the text encoder's cross-attention pass runs. The cost is disk: 577 x D x 2 bytes per photo in
fp16 (577 x 1024 x 2 = 1.18 MB for blip-itm-large-flickr; 10,000 photos is about 12 GB), which is
why it is off by default. Files are ``<features_dir>/<image key digest>/<hash[:2]>/<hash>.npy``:
keyed by the photo's content and by what the vision output depends on (weights + decoding rule),
written atomically so a crash never leaves a half file under the final name.

Stored as fp16, so ITM from cached features differs from a fresh fp32 pass by rounding (about
1e-3 in probability); scores keep the same key, as fp16 and bf16 inference already differ that much.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np


class FeatureCache:
    def __init__(self, root: str | os.PathLike[str], image_key: str) -> None:
        self.root = Path(root) / hashlib.sha256(image_key.encode()).hexdigest()[:16]

    def path(self, content: str) -> Path:
        return self.root / content[:2] / f"{content}.npy"

    def has(self, content: str) -> bool:
        return self.path(content).is_file()

    def load(self, content: str) -> np.ndarray | None:
        """The photo's (577, D) fp16 embeds, or None when absent or unreadable."""
        try:
            return np.load(self.path(content), allow_pickle=False)
        except (OSError, ValueError):
            return None

    def save(self, content: str, embeds: np.ndarray) -> int:
        """Store one photo's embeds; returns the bytes written."""
        target = self.path(content)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npy", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.save(fh, np.ascontiguousarray(embeds, dtype=np.float16), allow_pickle=False)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target.stat().st_size
