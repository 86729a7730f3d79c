"""The one tagging rule: whether a photo carries a tag. The CLI, the export, the sidecars, the
window's grid and the teaching maths all apply it, through the two forms here.

For one photo and one tag, in this order:

1. a photo the person labelled follows its label;
2. a calibrated tag (``Calibration``): the photo carries it when the log-odds
   ``bias + slope * logit(best ITM) + weights . itc`` reach 0. The ITM term needs a score when
   the slope is not 0; the image term is left out when the photo has no ITC vector, unless the
   rule has nothing else to go on (slope 0, a tag from examples), and then it cannot say;
3. otherwise, or when the calibration cannot say: the best ITM over the tag's sentences reaching
   the tag's threshold, compared as probabilities (exactly as before labels existed);
4. with no score either, it cannot say (unknown is not "no match").

The scalar form (``logodds``, ``verdict``) serves the store's reads one photo at a time; the
vector form (``logodds_many``, ``verdicts``) serves the teaching maths over thousands of photos.
Where the scalar form says None (cannot say), the vector form says NaN for the log-odds and
False for the verdict; ``tests/unit/test_tagging.py`` holds the two to each other.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from blipdesk.domain.calibration import Calibration, logit, logits
from blipdesk.domain.scores import SentenceScore, TagScore
from blipdesk.domain.tags import Tag


def logodds(
    calibration: Calibration | None,
    x: float | None,
    feature: np.ndarray | None,
    t0: float = 0.0,
) -> float | None:
    """The rule's log-odds for one photo: ``x`` is logit(best ITM) (None or NaN: no score),
    ``feature`` its ITC vector (None: none cached). With no calibration, today's rule in log-odds
    (``x - t0``, ``t0`` the threshold's logit). None when the rule cannot say."""
    if x is None:
        x = math.nan
    if calibration is None:
        z = x - t0
        return None if math.isnan(z) else z
    z = calibration.bias
    if calibration.slope:
        z += calibration.slope * x
    w = calibration.weights
    if w is not None:
        term = math.nan
        if feature is not None and feature.shape == w.shape:
            term = float(np.dot(w, feature))
        if not math.isnan(term):
            z += term
        elif not calibration.slope:
            return None  # a tag from examples alone cannot guess without the vector
    return None if math.isnan(z) else float(z)


def logodds_many(
    calibration: Calibration | None,
    x: np.ndarray,
    features: np.ndarray | None,
    t0: float = 0.0,
) -> np.ndarray:
    """``logodds`` for many photos at once: ``x`` logit(best ITM) per photo (NaN: no score),
    ``features`` their ITC vectors as rows (None: none; a row with a NaN: that photo has none).
    NaN where the rule cannot say."""
    x = np.asarray(x, np.float64)
    if calibration is None:
        return np.asarray(x - t0)
    z = np.full(len(x), calibration.bias, np.float64)
    if calibration.slope:
        z += calibration.slope * x
    w = calibration.weights
    if w is not None:
        if features is not None and features.ndim == 2 and features.shape[1:] == w.shape:
            term = features @ w.astype(features.dtype)
            # no vector: the term is left out, unless the rule has nothing else (slope 0)
            z += np.where(np.isnan(term), 0.0, term) if calibration.slope else term
        elif not calibration.slope:
            z[:] = np.nan
    return z


def verdict(
    threshold: float,
    calibration: Calibration | None,
    score: float | None,
    feature: np.ndarray | None,
    label: bool | None = None,
) -> tuple[float | None, bool | None]:
    """(the calibrated log-odds, whether the photo carries the tag) for one photo: ``score`` its
    best ITM over the tag's sentences (None: none scored), ``feature`` its ITC vector, ``label``
    the person's yes / no. The log-odds are None without a calibration or when it cannot say;
    the verdict is None when nothing can say (no label, no usable calibration, no score)."""
    z = None
    if calibration is not None:
        z = logodds(calibration, None if score is None else logit(score), feature)
    if label is not None:
        return z, label
    if z is not None:
        return z, z >= 0.0
    if score is None or math.isnan(score):
        return z, None
    return z, bool(score >= threshold)


def verdicts(
    threshold: float,
    calibration: Calibration | None,
    scores: np.ndarray,
    features: np.ndarray | None,
    labels: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``verdict`` for many photos at once: ``scores`` best ITM per photo (NaN: none scored),
    ``features`` their ITC vectors as rows (as ``logodds_many``), ``labels`` 1.0 yes, 0.0 no,
    NaN none (None: no labels). Returns (log-odds, NaN where ``verdict`` says None; carries,
    False where it says None)."""
    scores = np.asarray(scores, np.float64)
    if calibration is None:
        z = np.full(len(scores), np.nan)
    else:
        z = logodds_many(calibration, logits(scores), features)
    with np.errstate(invalid="ignore"):
        carries = np.where(np.isnan(z), scores >= threshold, z >= 0.0)
    if labels is not None:
        labels = np.asarray(labels, np.float64)
        carries = np.where(np.isnan(labels), carries, labels == 1.0)
    return z, np.asarray(carries, bool)


def tag_score(
    tag: Tag,
    scores: Mapping[str, SentenceScore],
    label: bool | None = None,
    calibration: Calibration | None = None,
    feature: np.ndarray | None = None,
) -> TagScore | None:
    """A photo's score and verdict for ``tag`` (``verdict``) from its sentence scores. None when
    none of the tag's sentences is scored yet, or, for a tag from examples alone, when neither a
    label nor a fit with the photo's ITC vector can say."""
    scored = {s: scores[s] for s in tag.sentences if s in scores}
    if tag.sentences and not scored:
        return None
    best = max(v.itm for v in scored.values()) if scored else None
    z, match = verdict(tag.threshold, calibration, best, feature, label)
    if best is None:  # a tag from examples alone
        if z is None:
            if label is None:
                return None
            return TagScore(float(label), label, scored, label)
        best = float(1.0 / (1.0 + np.exp(-z)))
    return TagScore(best, bool(match), scored, label, z)


def derive_tags(
    tags: Sequence[Tag],
    scores: Mapping[str, SentenceScore],
    labels: Mapping[str, bool] | None = None,
    calibrations: Mapping[str, Calibration] | None = None,
    feature: np.ndarray | None = None,
) -> dict[str, TagScore]:
    """A photo's tags (``tag_score``) from its sentence scores, its labels (tag -> yes/no), the
    tags' calibrations and its ITC vector; tags not scored yet left out."""
    labels = labels or {}
    calibrations = calibrations or {}
    derived = {
        tag.name: tag_score(tag, scores, labels.get(tag.name), calibrations.get(tag.name), feature)
        for tag in tags
    }
    return {name: ts for name, ts in derived.items() if ts is not None}
