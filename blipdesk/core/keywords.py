"""Learning a person's keywords from the photos they keyworded (issue 26). numpy only.

For every keyword with at least ``MIN_EXAMPLES`` photos, its examples are the photos that carry it
(or a keyword under it: ``Places|Lisbon`` is a photo of ``Places``), its counter-examples the
keyworded photos that do not, and the photos a suggestion of it was rejected on; a photo with no
keyword at all says nothing. What the keyword's own words mean to BLIP (its leaf as a sentence,
``domain.keywords.sentence``, whose ITM score comes from the vision cache) and what its examples
show (a probe on the photos' ITC vectors) are combined by teach a tag's image step
(``calibration.fit_held_out``: logistic on logit(ITM) plus a linear term on the vector, a
Gaussian prior towards the sentence alone). A photo is suggested when the rule's probability
reaches the keyword's cut (``CUTS``). Precision and recall are estimated on the held-out
predictions of the labelled photos (each predicted by the rule fitted without it), and said to be
rough with too few labels of a kind (``calibration.Fit.rough``'s rule).
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass

import numpy as np

from blipdesk.core.calibration import Fit, StepReport, _sigmoid, fit_held_out
from blipdesk.domain.calibration import Calibration, logit
from blipdesk.domain.keywords import ancestors
from blipdesk.domain.tagging import logodds_many

MIN_EXAMPLES = 5  # photos a keyword needs before it is learnt
CUT = 0.5  # the probability from which the rule says yes, for choosing with or without words
# where a keyword's suggestions start: the cut of these whose held-out F0.5 (precision weighs
# twice recall: a wrong suggestion costs a person more than a missed one) is best. One choice
# among few, so the held-out estimate at it stays nearly unbiased.
CUTS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
# labels a keyword learns from at most (a fixed draw beyond): past a few hundred the rule hardly
# moves, and the fit's cost grows with them (bench_keywords.py: suggest over 10,000 photos)
MAX_LABELS = 1000
PRIOR_THRESHOLD = 0.5  # where the sentence's prior puts the boundary, before any label


@dataclass(frozen=True)
class KeywordData:
    """What learning needs for every photo content in view: logit(ITM) of each keyword's
    sentence (``x[keyword]``, NaN where not scored; no entry: not scored at all) and the ITC
    vectors (rows, NaN rows for photos without one)."""

    contents: tuple[str, ...]
    features: np.ndarray
    x: Mapping[str, np.ndarray]


@dataclass(frozen=True)
class LearntKeyword:
    keyword: str
    examples: int
    counter_examples: int
    calibration: Calibration | None  # None: too few examples to learn
    cut: float  # the probability from which the keyword is suggested
    estimated_precision: float | None  # held out; None when nothing was suggested held out
    estimated_recall: float | None
    fit: Fit | None = None

    @property
    def rough(self) -> bool:
        return self.fit is None or self.fit.rough


def carried(keywords: Mapping[str, Set[str]]) -> dict[str, set[str]]:
    """content -> every keyword it carries, those above its own included."""
    return {
        c: set(names) | {a for n in names for a in ancestors(n)} for c, names in keywords.items()
    }


def learn(
    keyword: str,
    data: KeywordData,
    keywords: Mapping[str, Set[str]],
    rejected: Set[str] = frozenset(),
) -> LearntKeyword:
    """Learn ``keyword`` from ``keywords`` (content -> everything it carries: ``carried``) and
    the contents a suggestion of it was rejected on."""
    index = {c: i for i, c in enumerate(data.contents)}
    usable = ~np.isnan(data.features).any(axis=1) if len(data.contents) else np.zeros(0, bool)
    x_all = data.x.get(keyword)
    if x_all is not None:
        usable &= ~np.isnan(x_all)
    labels: dict[int, bool] = {}
    for content, names in keywords.items():
        i = index.get(content)
        if i is not None and usable[i] and names:
            labels[i] = keyword in names
    for content in rejected:
        i = index.get(content)
        if i is not None and usable[i] and not labels.get(i):
            labels[i] = False
    idx = np.array(sorted(labels), np.int64)
    y = np.array([labels[i] for i in idx], bool)
    yes, no = int(y.sum()), int((~y).sum())
    if yes < MIN_EXAMPLES or no < 1:
        return LearntKeyword(keyword, yes, no, None, CUT, None, None)
    if len(idx) > MAX_LABELS:  # a fixed draw of each kind: the same labels give the same rule
        draw = np.random.default_rng(len(idx))
        n_yes = min(yes, max(MAX_LABELS // 2, MAX_LABELS - no))
        keep = np.concatenate(
            [
                draw.permutation(np.flatnonzero(y))[:n_yes],
                draw.permutation(np.flatnonzero(~y))[: MAX_LABELS - n_yes],
            ]
        )
        idx, y = idx[np.sort(keep)], y[np.sort(keep)]
    # with its words and without them (examples alone, a weaker prior on the probe): the better
    # held-out F1 wins, so words that mean nothing to BLIP ("Portfolio") cannot hold the probe back
    tries = [fit_held_out(None, y, data.features[idx], PRIOR_THRESHOLD)]
    if x_all is not None:
        tries.insert(0, fit_held_out(x_all[idx], y, data.features[idx], PRIOR_THRESHOLD))
    calibration, z = max(tries, key=lambda t: _f1(_sigmoid(t[1]) >= CUT, y))
    held = _sigmoid(z)
    cut = max(CUTS, key=lambda c: _f_half(held >= c, y))  # the first of the best
    chosen = held >= cut
    tp = int((chosen & y).sum())
    precision = tp / int(chosen.sum()) if chosen.any() else None
    recall = tp / int(y.sum())
    agree = float(np.mean(chosen == y))
    f1 = 2 * tp / (2 * tp + int((chosen != y).sum()))
    fit = Fit(
        calibration, calibration.kind, (StepReport(calibration.kind, f1, agree, True),), yes, no
    )
    return LearntKeyword(keyword, yes, no, calibration, cut, precision, recall, fit)


def _f1(chosen: np.ndarray, y: np.ndarray) -> float:
    tp = int((chosen & y).sum())
    return 2 * tp / max(2 * tp + int((chosen != y).sum()), 1)


def _f_half(chosen: np.ndarray, y: np.ndarray) -> float:
    tp = int((chosen & y).sum())
    fp, fn = int((chosen & ~y).sum()), int((~chosen & y).sum())
    return 1.25 * tp / max(1.25 * tp + 0.25 * fn + fp, 1)


def probabilities(learnt: LearntKeyword, data: KeywordData) -> np.ndarray:
    """Each content's probability of carrying the keyword under its learnt rule (NaN: cannot
    say, or nothing learnt)."""
    if learnt.calibration is None:
        return np.full(len(data.contents), np.nan)
    x = data.x.get(learnt.keyword)
    if x is None:
        x = np.full(len(data.contents), np.nan)
    z = logodds_many(learnt.calibration, x, data.features, logit(PRIOR_THRESHOLD))
    if learnt.calibration.slope:
        z[np.isnan(x)] = np.nan  # no sentence score: the rule was learnt with one
    return _sigmoid(z)  # NaN stays NaN
