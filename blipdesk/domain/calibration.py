"""A tag's calibration: the rule its labels taught it for one model, in log-odds, and the
log-odds scale itself (``logit``). ``blipdesk.core.calibration`` fits it; the rule that applies it
is ``blipdesk.domain.tagging``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLIP = 1e-6  # how far from 0 and 1 a probability is held before its log-odds are taken


def logit(p: float) -> float:
    """log(p / (1 - p)), clipped away from 0 and 1 so that a saturated ITM stays finite."""
    p = min(max(float(p), CLIP), 1.0 - CLIP)
    return float(np.log(p / (1.0 - p)))


def logits(p: np.ndarray) -> np.ndarray:
    """``logit`` of many probabilities at once: the same clipping; NaN (no score) stays NaN."""
    q = np.clip(np.asarray(p, np.float64), CLIP, 1.0 - CLIP)
    return np.asarray(np.log(q / (1.0 - q)))


@dataclass(frozen=True, eq=False)
class Calibration:
    """A tag's learned rule for one model, in log-odds (``blipdesk.domain.tagging`` applies it).

    The photo carries the tag when ``slope * logit(best ITM) + bias + weights . itc >= 0``.
    ``kind`` says which step made it: "threshold" (slope 1: a moved threshold), "logistic"
    (slope and bias), "linear" (plus ``weights`` on the 256-value ITC image vector, the sentence
    score staying the prior) or "examples" (a tag without a sentence: slope 0, weights only)."""

    kind: str
    slope: float
    bias: float
    weights: np.ndarray | None = None  # float32; None for "threshold" and "logistic"

    @property
    def needs_features(self) -> bool:
        return self.weights is not None

    def threshold(self) -> float | None:
        """The ITM threshold this rule amounts to when it has no image term (else None)."""
        if self.weights is not None or self.slope <= 0:
            return None
        return float(1.0 / (1.0 + np.exp(self.bias / self.slope)))
