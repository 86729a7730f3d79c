"""Teaching a tag: a calibrated rule from a person's yes / no labels (issue 13). numpy only.

BLIP's ITM probability is not calibrated for tagging: the right threshold differs from tag to tag.
The labels a person gives (``Library.put_labels``) calibrate a tag per model, in log-odds, in
steps that never do worse than the step before (judged by leave-one-out F1 over the labels):

0. no labels of both kinds: today's threshold, exactly (no calibration at all);
1. ``threshold``: a few of each: the threshold (in log-odds) that best separates them by F1, the
   one nearest today's among the best, moved at most ``MAX_MOVE`` log-odds per label pair, so one
   label of each kind cannot produce a wild threshold;
2. ``logistic``: ``LOGISTIC_MIN`` or more of each: slope and bias on logit(ITM), pulled by a
   Gaussian prior towards slope 1 with the boundary at the threshold step's cut (``_centre``);
3. ``linear``: ``LINEAR_MIN`` or more of each: plus a strongly regularised linear term on the
   256-value ITC image vector, so the sentence score stays the prior.

A tag from examples alone (no sentence) has one step, ``examples``: a bias and the linear term.
A labelled photo always follows its label at read time, whatever the fit. The rule is a
``domain.Calibration``, applied at read time by the one tagging rule (``domain.tagging``): never a
rescan.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from blipdesk.domain.calibration import Calibration, logit
from blipdesk.domain.tagging import logodds_many, verdicts
from blipdesk.domain.tags import Tag
from blipdesk.store import Library

LOGISTIC_MIN = 3  # labels of each kind for the two-parameter logistic step
LINEAR_MIN = 8  # labels of each kind for the ITC linear term
MAX_MOVE = 2.0  # log-odds a threshold may move per pair of labels (yes + no)
PRIOR_AB = 1.0  # precision of the prior on slope and bias (towards today's rule)
PRIOR_W = 1.0  # precision of the prior on the ITC weights (towards 0): strong, the vectors are
# unit length, so |w . f| <= |w|
PRIOR_W_EXAMPLES = 0.1  # weaker for a tag from examples alone: no sentence score to lean on
QUEUE_SPREAD = 1.54  # log-odds from the boundary where the review queue looks (D-optimal)
# every RANDOM_EVERY-th photo the review queue shows is drawn at random from the unlabelled ones:
# the queue's own picks sit near the boundary, so without these no label says what the photos far
# from it are, and the estimate and the fit had to guess there. bench_teach.py, people-phrased
# tags on the miniature, exactly 5 + 5: held-out F1 0.56-0.63 -> 0.66-0.70, the estimate's error
# 0.15-0.16 -> 0.10-0.11; every photo answered: 14-31 answers a tag -> 14-15 (1 in 3, 5, 6 were
# no better: docs/notes/issue13-random.md)
RANDOM_EVERY = 4
# more labels than this, and the fitted steps' leave-one-out predictions are one Newton step from
# the fit on all (``_approximate_loo``) instead of a refit per label
EXACT_LOO_MAX = 80
MIN_SLOPE = 0.05  # the rule stays increasing in the sentence score
STRATUM = 1.0  # log-odds width of the strata of the prior (sentence) score, for the estimate
# how much better the estimate must say a proposal is to move off today's rule: the estimate is
# noisy (bench_teach.py: 0.1 per tag at 5 + 5), a tie or a hair better is not worth a change
MARGIN = 0.02
# a stratum's labels correct the fit by n / (n + SHRINK) of what they say: one label standing
# for 200 photos is mostly noise (bench_teach.py: it drove an estimate to 0 where the truth was
# 0.59); with many labels the correction is nearly whole
SHRINK = 2.0
# fewer labels of either kind than this, and the estimate is said to be rough where it is shown:
# per tag at 5 + 5 on the miniature it is off the held-out F1 by 0.04-0.05 on average for tags
# in its caption grammar and by 0.08-0.11 for tags as people write them (half what as many random
# answers would allow), but one tag by 0.38 (bench_teach.py)
ROUGH_BELOW = LINEAR_MIN
STEPS = ("today", "threshold", "logistic", "linear")


@dataclass(frozen=True)
class StepReport:
    step: str
    loo_f1: float  # F1 of the held-out-one-at-a-time predictions over the labels
    loo_agreement: float  # the share of labels those predictions agree with
    accepted: bool
    # the stratified estimate of the step's F1 over the photos (``stratified_f1``); None without
    # a population or labels of both kinds
    estimate: float | None = None


@dataclass(frozen=True)
class Fit:
    calibration: Calibration | None  # None: today's threshold
    step: str
    steps: tuple[StepReport, ...]
    yes: int
    no: int
    # the stratified estimate of the proposed rule's F1 over the photos (``stratified_f1``) and
    # of today's rule's: what the person can expect on photos like these ("today ~ X, proposed
    # ~ Y"); None without a population or without labels of both kinds
    estimate: float | None = None
    estimate_today: float | None = None

    @property
    def loo(self) -> StepReport:
        return next(s for s in self.steps if s.step == self.step)

    @property
    def rough(self) -> bool:
        """Too few labels of a kind for the estimate to be more than a rough guide."""
        return min(self.yes, self.no) < ROUGH_BELOW

    def estimate_caveat(self) -> str:
        """What the estimate rests on, said beside it wherever it is shown."""
        labels = f"{self.yes + self.no} label{'s' if self.yes + self.no != 1 else ''}"
        if self.rough:
            return f"rough: from {labels}, most near the boundary; more labels make it firmer"
        return f"from {labels}"


@dataclass(frozen=True)
class TagData:
    """What calibrating one tag needs, for every scored photo content: logit(best ITM) (NaN for a
    tag from examples alone), the ITC vectors (rows; None when none cached, a row of NaN for a
    photo without one), the labels, and the best ITM itself (``score``: the threshold is met or
    not on it, exactly as the store reads it; None: taken back from ``x``, for data made up in
    tests and benchmarks)."""

    contents: tuple[str, ...]
    x: np.ndarray
    features: np.ndarray | None
    labels: Mapping[str, bool] = field(default_factory=dict)
    score: np.ndarray | None = None

    def scores(self) -> np.ndarray:
        """The best ITM of each content (NaN: none)."""
        return self.score if self.score is not None else _sigmoid(self.x)

    def labelled(self) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the labelled contents and their labels."""
        index = {c: i for i, c in enumerate(self.contents)}
        idx = [index[c] for c in self.labels if c in index]
        return np.asarray(idx, np.int64), np.asarray([self.labels[self.contents[i]] for i in idx])


def f1(pred: np.ndarray, truth: np.ndarray) -> float:
    tp = float(np.sum(pred & truth))
    wrong = float(np.sum(pred != truth))
    return 1.0 if tp + wrong == 0 else 2 * tp / (2 * tp + wrong)


# ----------------------------------------------------------------------------- the steps


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -30, 30))))


def expected_f1(p: np.ndarray, chosen: np.ndarray) -> float:
    """F1 of the decisions ``chosen`` when each photo is a true one with probability ``p``
    (the ratio of expectations: 2 E[TP] / (E[chosen] + E[positives]))."""
    total = float(p.sum()) + float(chosen.sum())
    return 1.0 if total == 0 else 2.0 * float(p[chosen].sum()) / total


def strata(x: np.ndarray, t0: float, width: float | None = None) -> np.ndarray:
    """The stratum of each photo: its prior log-odds (logit ITM - logit threshold) in bins of
    ``width`` log-odds."""
    width = STRATUM if width is None else width
    return np.floor((np.asarray(x, np.float64) - t0) / width).astype(np.int64)


def stratified_f1(
    chosen: np.ndarray,
    p: np.ndarray,
    stratum: np.ndarray,
    chosen_labelled: np.ndarray,
    p_labelled: np.ndarray,
    y: np.ndarray,
    stratum_labelled: np.ndarray,
    shrink: float | None = None,
) -> float:
    """F1 of a rule over the photos, estimated from labels that are a *stratified* sample.

    The review queue picks hard photos on purpose, so F1 over the labels says little about F1
    over the library. But within a stratum of the prior score the labelled photos are photos like
    the others there. The difference estimator of survey sampling: start from the counts the
    fitted probabilities ``p`` expect for the rule's decisions ``chosen`` (E[TP] = sum of p over
    the chosen, E[FP] = sum of 1 - p over them, E[FN] = sum of p over the rest), then correct
    each stratum by what its labels say the fit gets wrong there: each label stands for
    N_s / n_s photos of its stratum (N_s photos, n_s labels), and adds its residual
    (y - p) to TP and FN, and takes it from FP, according to the rule's decision on it. A stratum
    with no label keeps the fitted counts. ``p_labelled`` and ``chosen_labelled`` must be the
    leave-one-out ones (the fit and the rule without that label), or the residuals shrink
    towards the fit that learnt them. Unbiased for TP, FP and FN when the labels of a stratum
    are a random sample of it, whatever the fit, with ``shrink`` 0; F1 is their ratio (a ratio
    estimator: nearly unbiased when the counts are not tiny). With ``shrink`` k (``SHRINK``) a
    label stands for N_s / (n_s + k) photos: a stratum with few labels corrects the fit only in
    part (less variance, some bias towards the fit)."""
    chosen = np.asarray(chosen, bool)
    p = np.asarray(p, np.float64)
    tp = float(p[chosen].sum())
    fp = float(chosen.sum()) - tp
    fn = float(p.sum()) - tp
    if len(y):
        lo = int(min(stratum.min(initial=0), stratum_labelled.min()))
        size = int(max(stratum.max(initial=0), stratum_labelled.max())) - lo + 1
        photos = np.bincount(stratum - lo, minlength=size)
        labels = np.bincount(stratum_labelled - lo, minlength=size)
        k = SHRINK if shrink is None else shrink
        weight = photos[stratum_labelled - lo] / (labels[stratum_labelled - lo] + k)
        residual = weight * (np.asarray(y, np.float64) - np.asarray(p_labelled, np.float64))
        picked = np.asarray(chosen_labelled, bool)
        tp += float(residual[picked].sum())
        fp -= float(residual[picked].sum())
        fn += float(residual[~picked].sum())
    tp, fp, fn = max(tp, 0.0), max(fp, 0.0), max(fn, 0.0)
    return 1.0 if tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn)


def f1_shift(z: np.ndarray) -> float:
    """The log-odds shift that maximises the expected F1 over photos with fitted log-odds ``z``.
    F1 is not accuracy: its best threshold on calibrated probabilities is half the best F1
    (Lipton et al. 2014), below 0.5 whenever the tag is hard, so a probability fit alone would
    tag too few. The threshold stays within [0.05, 0.95]."""
    if not len(z):
        return 0.0
    p = _sigmoid(z)
    order = np.argsort(-p, kind="stable")
    gains = 2.0 * np.cumsum(p[order]) / (np.arange(1, len(p) + 1) + p.sum())
    j = int(np.argmax(gains))
    below = p[order][j + 1] if j + 1 < len(p) else 0.0
    tau = float(np.clip((p[order][j] + below) / 2, 0.05, 0.95))
    return -logit(tau)


def _fit_threshold(x: np.ndarray, y: np.ndarray, t0: float) -> Calibration | None:
    """The F1-best threshold between the labels, nearest today's, moved at most MAX_MOVE per
    label pair; None when it separates the labels no better than today's."""
    base = f1(x >= t0, y)
    pairs = min(int(y.sum()), int((~y).sum()))
    xs = np.unique(x)
    candidates = (xs[:-1] + xs[1:]) / 2 if len(xs) > 1 else xs
    candidates = np.clip(candidates, t0 - MAX_MOVE * pairs, t0 + MAX_MOVE * pairs)
    # per candidate, the labels at or above it, counted in the sorted labels: O(n log n), not a
    # candidates x labels table (n^2: 0.3 ms at 40 labels, but it runs once per held-out fit)
    yes, no = np.sort(x[y]), np.sort(x[~y])
    tp = len(yes) - np.searchsorted(yes, candidates, side="left")
    wrong = (len(no) - np.searchsorted(no, candidates, side="left")) + (len(yes) - tp)
    scores = np.where(tp + wrong == 0, 1.0, 2 * tp / np.maximum(2 * tp + wrong, 1))
    if not len(scores) or scores.max() <= base:
        return None
    best = candidates[scores == scores.max()]
    t = float(best[np.argmin(np.abs(best - t0))])
    return Calibration("threshold", 1.0, -t)


def _newton(
    design: np.ndarray,
    y: np.ndarray,
    prior: np.ndarray,
    precision: np.ndarray,
    slope: int | None,
    start: np.ndarray | None = None,
) -> np.ndarray:
    """Penalised logistic regression (MAP under a Gaussian prior) by Newton's method; ``start``:
    where to begin (the fit on all labels, for the leave-one-out fits: a step or two each)."""
    theta = (prior if start is None else start).astype(np.float64).copy()
    target = y.astype(np.float64)
    for _ in range(30):
        z = np.clip(design @ theta, -30, 30)
        p = 1.0 / (1.0 + np.exp(-z))
        grad = design.T @ (p - target) + precision * (theta - prior)
        hess = (design.T * (p * (1 - p))) @ design + np.diag(precision)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if slope is not None and theta[slope] < MIN_SLOPE:
            theta[slope] = MIN_SLOPE
        if np.max(np.abs(step)) < 1e-6:
            break
    return theta


def _centre(x: np.ndarray, y: np.ndarray, t0: float) -> float:
    """Where the logistic and linear steps' prior puts the boundary: the threshold step's cut
    (today's threshold when that step finds none), so the prior says "the sentence's score with
    the boundary the labels show", and the threshold step's guard (at most ``MAX_MOVE`` per label
    pair) holds for these steps too. Centred on today's threshold instead, a boundary far from it
    cost the prior a bias of slope x distance, and the fit paid by flattening the slope: on the
    miniature, people-phrased tags whose boundary lay 6.6 log-odds below 0.5 got slope 0.1 and
    every photo tagged (bench_teach.py)."""
    found = _fit_threshold(x, y, t0)
    return t0 if found is None else -found.bias


@dataclass(frozen=True)
class _Problem:
    """A fitted step as a penalised logistic regression: the labels' ``design`` rows, the Gaussian
    prior's mean and precision, and how its unknowns map to a ``Calibration``. With a sentence:
    slope and bias on logit(ITM) - ``centre`` (``_centre``), then the image weights, if any, in
    ``basis`` coordinates; from examples alone: a bias and the weights."""

    kind: str
    design: np.ndarray
    prior: np.ndarray
    precision: np.ndarray
    centre: float | None  # None: from examples alone (no sentence score)
    basis: np.ndarray | None  # None: no image term

    def theta(self, start: Calibration | None) -> np.ndarray | None:
        """``start`` in this problem's unknowns (None: begin at the prior)."""
        if start is None:
            return None
        head = (
            [start.bias]
            if self.centre is None
            else [start.slope, start.bias + start.slope * self.centre]
        )
        if self.basis is None:
            return np.array(head)
        weights = start.weights if start.weights is not None else np.zeros(len(self.basis))
        return np.concatenate([head, self.basis.T @ weights])

    def calibration(self, theta: np.ndarray) -> Calibration:
        k = 1 if self.centre is None else 2
        w = None if self.basis is None else (self.basis @ theta[k:]).astype(np.float32)
        if self.centre is None:
            return Calibration(self.kind, 0.0, float(theta[0]), w)
        slope = float(theta[0])
        return Calibration(self.kind, slope, float(theta[1] - slope * self.centre), w)


def _problem(
    kind: str,
    x: np.ndarray | None,
    y: np.ndarray,
    features: np.ndarray | None,
    t0: float,
    basis: np.ndarray | None = None,
) -> _Problem:
    """The step ``kind`` ("logistic", "linear" or "examples") over these labels."""
    n = len(y)
    proj = np.zeros((n, 0))
    v = None
    if kind != "logistic":
        assert features is not None, f"the {kind} step needs the ITC vectors"
        v = _basis(features) if basis is None else basis
        proj = features.astype(np.float64) @ v
    weights = np.full(proj.shape[1], PRIOR_W if x is not None else PRIOR_W_EXAMPLES)
    if x is None:
        design = np.concatenate([np.ones((n, 1)), proj], axis=1)
        precision = np.concatenate([[PRIOR_AB], weights])
        return _Problem(kind, design, np.zeros(design.shape[1]), precision, None, v)
    c = _centre(x, y, t0)
    design = np.concatenate([(x - c)[:, None], np.ones((n, 1)), proj], axis=1)
    prior = np.zeros(design.shape[1])
    prior[0] = 1.0
    precision = np.concatenate([[PRIOR_AB, PRIOR_AB], weights])
    return _Problem(kind, design, prior, precision, c, v)


def _solve(problem: _Problem, y: np.ndarray, start: Calibration | None = None) -> np.ndarray:
    slope = None if problem.centre is None else 0
    return _newton(problem.design, y, problem.prior, problem.precision, slope, problem.theta(start))


def _approximate_loo(problem: _Problem, theta: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The held-out log-odds of every label at once, without refitting: one Newton step from the
    fit on all labels (``theta``) to the fit without label i, in closed form (Sherman-Morrison):
    z_-i = z_i + (p_i - y_i) h_i / (1 - w_i h_i), with w_i = p_i (1 - p_i) and h_i the label's
    leverage x_i' H^-1 x_i under the full fit's Hessian H (prior included). Exact refits cost n
    Newton solves of up to 258 unknowns: 0.6 s at 200 labels, 3 s at 500, on every answer in
    Review; this costs one solve. The centre of the prior stays the full fit's."""
    design = problem.design
    z = design @ theta
    p = _sigmoid(z)
    w = p * (1 - p)
    hessian = (design.T * w) @ design + np.diag(problem.precision)
    leverage = np.einsum("ij,ji->i", design, np.linalg.solve(hessian, design.T))
    return np.asarray(z + (p - y.astype(np.float64)) * leverage / (1 - w * leverage))


def _fit_logistic(
    x: np.ndarray, y: np.ndarray, t0: float, start: Calibration | None = None
) -> Calibration:
    problem = _problem("logistic", x, y, None, t0)
    return problem.calibration(_solve(problem, y, start))


def _basis(features: np.ndarray) -> np.ndarray:
    """An orthonormal basis (256 x r) of the labelled vectors' span: the MAP weights lie in it
    (an L2 prior never adds a component no label asks for), so Newton works in r + 2 unknowns.
    From the n x n Gram matrix (n labels, a few dozen): cheaper than an SVD of n x 256."""
    f = features.astype(np.float64)
    values, vectors = np.linalg.eigh(f @ f.T)
    keep = values > 1e-9 * max(float(values.max()), 1e-12)
    return np.asarray((f.T @ vectors[:, keep]) / np.sqrt(values[keep]))


def _fit_linear(
    x: np.ndarray | None,
    y: np.ndarray,
    features: np.ndarray,
    t0: float,
    kind: str,
    basis: np.ndarray | None = None,
    start: Calibration | None = None,
) -> Calibration:
    problem = _problem(kind, x, y, features, t0, basis)
    return problem.calibration(_solve(problem, y, start))


def _fitter(
    step: str, t0: float, basis: np.ndarray | None = None, start: Calibration | None = None
) -> Callable[[np.ndarray | None, np.ndarray, np.ndarray | None], Calibration | None]:
    """The step's fit. ``basis``: the span of all the labels' vectors, computed once (the MAP
    weights of any subset lie in it, so leave-one-out fits share it)."""

    def fit_one(x: np.ndarray | None, y: np.ndarray, f: np.ndarray | None) -> Calibration | None:
        if step == "threshold":
            return _fit_threshold(x, y, t0)  # type: ignore[arg-type]
        if step == "logistic":
            return _fit_logistic(x, y, t0, start)  # type: ignore[arg-type]
        return _fit_linear(x, y, f, t0, step, basis, start)  # type: ignore[arg-type]

    return fit_one


def _loo(
    step: str,
    x: np.ndarray | None,
    y: np.ndarray,
    f: np.ndarray | None,
    t0: float,
    shift: float = 0.0,
) -> tuple[float, float, np.ndarray]:
    """Each label predicted by the step fitted on the others: (F1, agreement, the held-out
    log-odds of each label, ``shift`` included)."""
    basis = None if f is None else _basis(f)
    start = None
    if step in ("logistic", "linear", "examples") and y.any() and not y.all():
        problem = _problem(step, x, y, f, t0, basis)
        theta = _solve(problem, y)  # the fit on all: each held-out fit's start
        if len(y) > EXACT_LOO_MAX:
            z = _approximate_loo(problem, theta, y) + shift
            pred = z >= 0
            return f1(pred, y), float(np.mean(pred == y)), z
        start = problem.calibration(theta)
    fit_one = _fitter(step, t0, basis, start)
    z = np.full(len(y), -1.0)
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        xi = None if x is None else x[keep]
        fi = None if f is None else f[keep]
        if step == "today" or y[keep].all() or not y[keep].any():
            cal = None
        else:
            cal = fit_one(xi, y[keep], fi)
            if cal is not None and shift:
                cal = Calibration(cal.kind, cal.slope, cal.bias + shift, cal.weights)
        xo = np.zeros(1) if x is None else x[i : i + 1]
        fo = None if f is None else f[i : i + 1]
        if cal is not None or x is not None:
            z[i] = float(logodds_many(cal, xo, fo, t0)[0])
    pred = z >= 0
    return f1(pred, y), float(np.mean(pred == y)) if len(y) else 1.0, z


def fit_held_out(
    x: np.ndarray | None, y: np.ndarray, features: np.ndarray, threshold: float, rank: int = 64
) -> tuple[Calibration, np.ndarray]:
    """The image step ("linear" over the sentence score, "examples" without one) fitted on all
    the labels, and each label's held-out log-odds (``_loo``'s, Newton-approximated past
    ``EXACT_LOO_MAX``): what a keyword learns from its photos (``core.keywords``). With more
    labels than ``rank``, the weights live in the labels' ``rank`` principal directions (a d x d
    eigenproblem, not n x n; Newton in rank + 2 unknowns: hundreds of labels fit in
    milliseconds)."""
    y = np.asarray(y, bool)
    t0, kind = logit(threshold), "examples" if x is None else "linear"
    if len(y) > rank:
        f = features.astype(np.float64)
        basis = np.linalg.eigh(f.T @ f)[1][:, -rank:]
    else:
        basis = _basis(features)
    problem = _problem(kind, x, y, features, t0, basis)
    theta = _solve(problem, y)
    if len(y) > EXACT_LOO_MAX:
        return problem.calibration(theta), _approximate_loo(problem, theta, y)
    return problem.calibration(theta), _loo(kind, x, y, features, t0)[2]


def fit(
    x: np.ndarray | None,
    y: np.ndarray,
    features: np.ndarray | None,
    threshold: float,
    population: tuple[np.ndarray, np.ndarray | None] | None = None,
) -> Fit:
    """The calibration the labels support. ``x``: logit(best ITM) per labelled photo (None for a
    tag from examples alone); ``y``: their labels; ``features``: their ITC vectors (or None);
    ``threshold``: the tag's threshold today (a probability); ``population``: (logit(ITM), ITC
    vectors) of all the photos, for the logistic and linear steps' F1-best cut and the estimate."""
    y = np.asarray(y, bool)
    t0 = logit(threshold)
    yes, no = int(y.sum()), int((~y).sum())
    pairs = min(yes, no)
    if x is None:
        if features is None or pairs < 1:
            return Fit(None, "today", (StepReport("today", 0.0, 0.0, True),), yes, no)
        cal = _fit_linear(None, y, features, t0, "examples")
        score, agree, _z = _loo("examples", None, y, features, t0)
        return Fit(cal, "examples", (StepReport("examples", score, agree, True),), yes, no)
    x = np.asarray(x, np.float64)
    # (step, rule, LOO F1, LOO agreement, held-out log-odds); rule None past "today": not found
    tried: list[tuple[str, Calibration | None, float, float, np.ndarray]] = [
        ("today", None, *_loo("today", x, y, None, t0))
    ]
    model: Calibration | None = None  # the richest probability fit: the estimate's
    model_loo = np.zeros(0)  # its held-out log-odds of each label
    eligible = [
        ("threshold", pairs >= 1),
        ("logistic", pairs >= LOGISTIC_MIN),
        ("linear", pairs >= LINEAR_MIN and features is not None),
    ]
    for step, ok in eligible:
        if not ok:
            break
        proposed = _fitter(step, t0)(x, y, features)
        if proposed is None:  # the threshold step found nothing better than today's
            tried.append((step, None, 0.0, 0.0, np.zeros(0)))
            continue
        shift = 0.0
        if step != "threshold":
            model = proposed
            if population is not None:
                shift = f1_shift(logodds_many(proposed, population[0], population[1], t0))
                proposed = Calibration(
                    step, proposed.slope, proposed.bias + shift, proposed.weights
                )
        score, agree, z = _loo(step, x, y, features if step == "linear" else None, t0, shift)
        if step != "threshold":
            model_loo = z - shift
        tried.append((step, proposed, score, agree, z))
    estimates = _estimates(tried, x, y, t0, population, model, model_loo) if pairs else None

    def at(i: int) -> float | None:
        return None if estimates is None else estimates[i]

    reports = [StepReport("today", tried[0][2], tried[0][3], True, at(0))]
    best = 0  # index into tried
    for i, (step, rule, score, agree, _z) in enumerate(tried[1:], 1):
        if rule is None:
            reports.append(StepReport(step, tried[best][2], reports[-1].loo_agreement, False))
            continue
        if estimates is None:  # no population: judged by F1 over the labels, held out
            accepted = score >= tried[best][2]
        elif best == 0:  # moving off today's rule: only when the estimate says it is better
            accepted = estimates[i] > estimates[0] + MARGIN
        else:
            accepted = estimates[i] >= estimates[best]
        reports.append(StepReport(step, score, agree, accepted, at(i)))
        if accepted:
            best = i
    return Fit(
        tried[best][1],
        tried[best][0],
        tuple(reports),
        yes,
        no,
        at(best),
        at(0),
    )


def _estimates(
    tried: Sequence[tuple[str, Calibration | None, float, float, np.ndarray]],
    x: np.ndarray,
    y: np.ndarray,
    t0: float,
    population: tuple[np.ndarray, np.ndarray | None] | None,
    model: Calibration | None,
    model_loo: np.ndarray,
) -> list[float] | None:
    """The stratified estimate of each tried rule's F1 over the population (0.0 for a step that
    found nothing). The probabilities are the richest probability fit's (a logistic fit for the
    estimate alone when the labels are too few for that step)."""
    if population is None or not len(population[0]) or np.isnan(population[0]).any():
        return None
    px, pf = population
    if model is None:
        model = _fit_logistic(x, y, t0)
        model_loo = _loo("logistic", x, y, None, t0)[2]
    p = _sigmoid(logodds_many(model, px, pf, t0))
    stratum, stratum_labelled = strata(px, t0), strata(x, t0)
    p_labelled = _sigmoid(model_loo)
    out = []
    for step, rule, _score, _agree, z in tried:
        if rule is None and step != "today":
            out.append(0.0)
            continue
        chosen = logodds_many(rule, px, pf, t0) >= 0
        out.append(stratified_f1(chosen, p, stratum, z >= 0, p_labelled, y, stratum_labelled))
    return out


# ----------------------------------------------------------------------------- with the cache


def tag_data(
    lib: Library, score_key: str, tag: Tag, contents: Sequence[str] | None = None
) -> TagData:
    """The tag's data over ``contents`` (every photo the cache knows when None) that are scored
    for it (or, from examples alone, have an ITC vector)."""
    if contents is None:
        contents = sorted({p.content for p in lib.all_photos() if p.content})
    labels = lib.tag_labels(tag.name)
    wanted = list(dict.fromkeys([*contents, *labels]))
    feats = lib.image_features(score_key, wanted)
    if tag.sentences:
        scores = lib.sentence_scores(score_key, wanted, tag.sentences)
        kept = [c for c in wanted if scores.get(c)]
        best = np.array([max(v.itm for v in scores[c].values()) for c in kept], np.float64)
        x = np.array([logit(b) for b in best])
    else:
        kept = [c for c in wanted if c in feats]
        x = np.full(len(kept), np.nan)
        best = x.copy()
    features = None
    if kept and all(c in feats for c in kept):
        features = np.stack([feats[c] for c in kept]).astype(np.float32)
    elif kept and any(c in feats for c in kept):  # a few vectors missing: NaN rows (none)
        dim = next(len(v) for v in feats.values())
        features = np.stack([feats.get(c, np.full(dim, np.nan, np.float32)) for c in kept])
    labelled = {c: v for c, v in labels.items() if c in set(kept)}
    return TagData(tuple(kept), x, features, labelled, best)


def fit_tag(data: TagData, tag: Tag) -> Fit:
    idx, y = data.labelled()
    x = None if not tag.sentences else data.x[idx]
    # a labelled photo without an ITC vector: zeros in the fit, where it adds no image term
    f = None if data.features is None else np.nan_to_num(data.features[idx], nan=0.0)
    population = None if not tag.sentences else (data.x, data.features)
    return fit(x, y, f, tag.threshold, population)


@dataclass(frozen=True)
class Proposal:
    """A fit and what applying it would change (photos not labelled that gain or lose the tag)."""

    tag: str
    fit: Fit
    gained: tuple[str, ...]  # content hashes
    lost: tuple[str, ...]
    carried_before: int
    carried_after: int


def matches(data: TagData, calibration: Calibration | None, threshold: float) -> np.ndarray:
    """Whether each content carries the tag under a rule, labels followed: the one tagging rule
    (``domain.tagging.verdicts``), as the store applies it to each photo."""
    labels = np.array([float(data.labels.get(c, np.nan)) for c in data.contents])
    return verdicts(threshold, calibration, data.scores(), data.features, labels)[1]


def propose(data: TagData, tag: Tag, current: Calibration | None) -> Proposal:
    result = fit_tag(data, tag)
    before = matches(data, current, tag.threshold)
    after = matches(data, result.calibration, tag.threshold)
    gained = tuple(c for c, b, a in zip(data.contents, before, after, strict=True) if a and not b)
    lost = tuple(c for c, b, a in zip(data.contents, before, after, strict=True) if b and not a)
    return Proposal(tag.name, result, gained, lost, int(before.sum()), int(after.sum()))


def random_turn(turn: int, every: int = RANDOM_EVERY) -> bool:
    """Whether the review queue's first photo at this ``turn`` (answers and skips so far) is one
    drawn at random: every ``every``-th (0: never)."""
    return every > 0 and turn % every == every - 1


def borderline(
    data: TagData,
    calibration: Calibration | None,
    threshold: float,
    k: int,
    turn: int = 0,
    every: int = RANDOM_EVERY,
    skipped: Collection[str] = (),
) -> list[str]:
    """The ``k`` unlabelled contents whose labels teach the fit the most, in order: the photos
    nearest the boundary's two sides at ``QUEUE_SPREAD`` log-odds (the fitted probabilities 0.18
    and 0.82, where a two-parameter logistic fit learns most: its D-optimal design), one side
    after the other, starting above the boundary on even ``turn``s (the count of answers so far)
    and below on odd ones. On the miniature, right at the boundary the labels all land where the
    tag is a coin toss and teach the slope nothing (benchmarks/bench_teach.py). While the labels
    are all of one kind, the search gallops past them (``_gallop``); when they separate but the
    rule's boundary misses the gap between them, it halves the gap (``_bisect``). On every
    ``every``-th turn (``random_turn``) the first photo is drawn at random from the unlabelled
    ones instead (seeded by the turn: the same labels give the same queue), so that some labels
    stand for the whole library and not only its boundary. Photos ``skipped`` are never picked.
    For a tag from examples alone with no fit yet, the photos nearest the yes examples' mean
    come first."""
    if np.isnan(data.x).all() and calibration is None:
        idx, y = data.labelled()
        if data.features is None:
            return []
        centre = data.features[idx[y]].mean(0) if y.any() else data.features.mean(0)
        order = np.argsort(-(data.features @ centre), kind="stable")
        shown = (data.contents[int(i)] for i in order)
        return [c for c in shown if c not in data.labels and c not in skipped][:k]
    z = logodds_many(calibration, data.x, data.features, logit(threshold))
    free = np.array([c not in data.labels and c not in skipped for c in data.contents], bool)
    above = np.nonzero(free & (z >= 0))[0]
    below = np.nonzero(free & (z < 0))[0]
    above = above[np.argsort(np.abs(z[above] - QUEUE_SPREAD), kind="stable")]
    below = below[np.argsort(np.abs(z[below] + QUEUE_SPREAD), kind="stable")]
    sides = [above, below] if turn % 2 == 0 else [below, above]
    picks: list[int] = []
    for i in range(max(len(above), len(below))):
        for side in sides:
            if i < len(side):
                picks.append(int(side[i]))
        if len(picks) >= k:
            break
    idx, y = data.labelled()
    chance = None
    if random_turn(turn, every) and free.any():
        unlabelled = np.nonzero(free)[0]
        chance = int(unlabelled[np.random.default_rng(turn).integers(len(unlabelled))])
    for first in (_gallop(z, free, idx, y, picks), _bisect(z, free, idx, y), chance):
        if first is not None:
            picks = [first, *(i for i in picks if i != first)]
    return [data.contents[i] for i in picks[:k]]


def _bisect(z: np.ndarray, free: np.ndarray, idx: np.ndarray, y: np.ndarray) -> int | None:
    """Labels (at ``idx``, answers ``y``) of both kinds that the rule's log-odds ``z`` separate
    (every yes above every no) while the rule's boundary lies outside the gap between them (a
    threshold step may move only ``MAX_MOVE`` per label pair, far less than a sentence scored far
    off its threshold needs): the boundary is somewhere in the gap, so ``borderline`` asks next
    about the middle photo of the gap, halving it with each answer. None otherwise."""
    if not len(y) or y.all() or not y.any():
        return None
    lo, hi = float(z[idx[~y]].max()), float(z[idx[y]].min())
    if lo >= hi or lo < 0 < hi:  # not separable, or the boundary already in the gap
        return None
    inside = np.nonzero(free & (z > lo) & (z < hi))[0]
    if not len(inside):
        return None
    inside = inside[np.argsort(z[inside], kind="stable")]
    return int(inside[len(inside) // 2])


def _gallop(
    z: np.ndarray, free: np.ndarray, idx: np.ndarray, y: np.ndarray, order: list[int]
) -> int | None:
    """With labels of one kind only (n of them, all yes say), the boundary lies past them all, maybe
    far past: when a sentence's scores sit far from its threshold, every photo near the rule's
    boundary is a yes, and the queue alone would ask about them one by one (over a hundred on the
    miniature, bench_teach.py). So ``borderline`` asks next about the photo 2^n - 1 places past
    the furthest label (in the order of the rule's log-odds ``z``: down past the lowest yes, or up
    past the highest no) when that lies further than the queue's own first pick (``order[0]``):
    the other kind is found in about log2 of its distance in answers. None when both kinds are
    labelled, or none lies past, or the queue's pick is further."""
    if not len(y) or (y.any() and not y.all()) or not order:
        return None
    down = bool(y[0])  # all yes: look down, past the lowest yes; all no: up, past the highest no
    past = np.nonzero(free & ((z < z[idx].min()) if down else (z > z[idx].max())))[0]
    if not len(past):
        return None
    past = past[np.argsort(-z[past] if down else z[past], kind="stable")]
    pick = int(past[min(2 ** min(len(y), 30) - 1, len(past) - 1)])
    return pick if ((z[pick] < z[order[0]]) if down else (z[pick] > z[order[0]])) else None
