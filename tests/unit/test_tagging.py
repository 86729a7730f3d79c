"""The one tagging rule (``blipdesk.domain.tagging``): its scalar form, which the store, the
export, the sidecars and the window apply one photo at a time, and its vector form, which the
teaching maths applies to thousands, say the same thing, on random inputs and on the edges."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blipdesk.domain import (
    Calibration,
    SentenceScore,
    Tag,
    logit,
    logits,
    logodds,
    logodds_many,
    tag_score,
    verdict,
    verdicts,
)

DIM = 4
finite = st.floats(-8.0, 8.0, allow_nan=False)
vector = st.lists(st.floats(-1.0, 1.0, allow_nan=False), min_size=DIM, max_size=DIM).map(
    lambda v: np.asarray(v, np.float32)
)
probability = st.one_of(
    st.sampled_from([0.0, 1e-7, 0.11, 0.3, 0.5, 0.7, 1.0 - 1e-7, 1.0]), st.floats(0.0, 1.0)
)


@st.composite
def calibrations(draw: st.DrawFn) -> Calibration | None:
    kind = draw(st.sampled_from(["none", "threshold", "logistic", "linear", "examples"]))
    if kind == "none":
        return None
    bias = draw(finite)
    if kind == "threshold":
        return Calibration(kind, 1.0, bias)
    slope = 0.0 if kind == "examples" else draw(st.floats(0.05, 5.0))
    if kind == "logistic":
        return Calibration(kind, slope, bias)
    # a vector of another length than the photos' (another model's, say) is as good as none
    dim = draw(st.sampled_from([DIM, DIM, DIM, DIM - 1]))
    weights = draw(st.lists(finite, min_size=dim, max_size=dim))
    return Calibration(kind, slope, bias, np.asarray(weights, np.float32))


@st.composite
def photos(
    draw: st.DrawFn,
) -> tuple[float, list[tuple[float | None, np.ndarray | None, bool | None]]]:
    threshold = draw(probability)
    score = st.one_of(st.none(), st.just(threshold), probability)  # exactly met, often
    feature = st.one_of(st.none(), vector)
    label = st.sampled_from([None, None, True, False])
    return threshold, draw(st.lists(st.tuples(score, feature, label), min_size=1, max_size=12))


def _vector_inputs(rows):
    scores = np.array([math.nan if s is None else s for s, _, _ in rows])
    if all(f is None for _, f, _ in rows):
        features = None
    else:
        features = np.stack(
            [np.full(DIM, np.nan, np.float32) if f is None else f for _, f, _ in rows]
        )
    labels = np.array([math.nan if y is None else float(y) for _, _, y in rows])
    return scores, features, labels


@settings(max_examples=400, deadline=None)
@given(calibrations(), photos())
def test_scalar_and_vector_verdicts_agree(calibration, case):
    threshold, rows = case
    scores, features, labels = _vector_inputs(rows)
    z_many, carries_many = verdicts(threshold, calibration, scores, features, labels)
    assert z_many.shape == carries_many.shape == (len(rows),)
    for i, (score, feature, label) in enumerate(rows):
        z, carries = verdict(threshold, calibration, score, feature, label)
        if z is None:
            assert np.isnan(z_many[i])
        else:
            assert z_many[i] == pytest.approx(z, rel=1e-5, abs=1e-5)
        if carries is None:  # nothing can say: the vector form says no
            assert not carries_many[i]
        elif z is None or abs(z) > 1e-6:  # a hair from the boundary, rounding may differ
            assert carries_many[i] == carries


@settings(max_examples=300, deadline=None)
@given(calibrations(), photos(), finite)
def test_scalar_and_vector_logodds_agree(calibration, case, t0):
    _threshold, rows = case
    _scores, features, _labels = _vector_inputs(rows)
    x = np.array([math.nan if s is None else logit(s) for s, _, _ in rows])
    z_many = logodds_many(calibration, x, features, t0)
    for i, (score, feature, _label) in enumerate(rows):
        z = logodds(calibration, None if score is None else logit(score), feature, t0)
        if z is None:
            assert np.isnan(z_many[i])
        else:
            assert z_many[i] == pytest.approx(z, rel=1e-5, abs=1e-5)


def test_today_rule_compares_probabilities_exactly():
    """Uncalibrated, the threshold is met on the ITM itself: log-odds would round it away. For
    0.11 (and 14 more of 0.01, 0.02 ... 0.99), sigmoid(logit(t)) < t."""
    t = 0.11
    assert 1.0 / (1.0 + np.exp(-logit(t))) < t  # why the vector form takes probabilities
    assert verdict(t, None, t, None) == (None, True)
    assert verdict(t, None, np.nextafter(t, 0.0), None) == (None, False)
    z, carries = verdicts(t, None, np.array([t, np.nextafter(t, 0.0), 1.0, 0.0]), None)
    assert np.isnan(z).all() and carries.tolist() == [True, False, True, False]
    # threshold 1.0 means only a perfect score: no clipping of the log-odds lets 0.9999999 in
    assert verdicts(1.0, None, np.array([0.9999999, 1.0]), None)[1].tolist() == [False, True]
    assert verdict(1.0, None, 0.9999999, None)[1] is False


def test_a_calibrated_rule_met_exactly_carries_the_tag():
    cal = Calibration("threshold", 1.0, -logit(0.3))  # the boundary at ITM 0.3
    z, carries = verdict(0.9, cal, 0.3, None)
    assert z == 0.0 and carries is True  # the calibration, not the threshold of 0.9, decides
    z_many, carries_many = verdicts(0.9, cal, np.array([0.3, 0.2, 0.8]), None)
    assert z_many[0] == 0.0 and carries_many.tolist() == [True, False, True]


def test_missing_scores_and_vectors():
    logistic = Calibration("logistic", 2.0, -1.0)
    linear = Calibration("linear", 1.0, 0.5, np.ones(DIM, np.float32))
    examples = Calibration("examples", 0.0, -0.5, np.ones(DIM, np.float32))
    f = np.full(DIM, 0.25, np.float32)
    # no score: nothing to say, unless the rule needs none (slope 0) and has the vector
    assert verdict(0.5, None, None, f) == (None, None)
    assert verdict(0.5, logistic, None, f) == (None, None)
    assert verdict(0.5, examples, None, f) == (0.5, True)
    assert verdict(0.5, examples, None, None) == (None, None)
    # no vector: the image term is left out, or, for slope 0, the threshold decides
    assert verdict(0.5, linear, 0.5, None) == (0.5, True)
    assert verdict(0.5, examples, 0.2, None) == (None, False)
    assert verdict(0.5, examples, 0.7, None) == (None, True)
    # a label says it all
    assert verdict(0.5, None, None, None, label=True) == (None, True)
    assert verdict(0.5, logistic, 0.99, None, label=False)[1] is False
    # the vector form: NaN scores, NaN rows for missing vectors, None for no vectors at all
    scores = np.array([np.nan, 0.2, 0.7, np.nan])
    rows = np.stack([f, np.full(DIM, np.nan, np.float32), np.full(DIM, np.nan, np.float32), f])
    labels = np.array([np.nan, np.nan, np.nan, 0.0])
    z, carries = verdicts(0.5, examples, scores, rows, labels)
    assert z[0] == 0.5 and np.isnan(z[1:3]).all() and z[3] == 0.5
    assert carries.tolist() == [True, False, True, False]
    z, carries = verdicts(0.5, examples, scores, None)
    assert np.isnan(z).all() and carries.tolist() == [False, False, True, False]
    assert np.isnan(logodds_many(None, np.array([np.nan]), None, 0.0)).all()
    assert logodds(None, None, None, 0.0) is None


def test_logits_matches_logit_and_keeps_nan():
    p = np.array([0.0, 1e-9, 0.11, 0.5, 0.9, 1.0, np.nan])
    got = logits(p)
    assert np.isnan(got[-1])
    assert got[:-1] == pytest.approx([logit(v) for v in p[:-1]], abs=1e-12)


def test_tag_score_applies_the_rule():
    tag = Tag("cat", ("a cat", "a kitten"), 0.5)
    scores = {"a cat": SentenceScore(0.4, 0, 0, 0), "a kitten": SentenceScore(0.5, 0, 0, 0)}
    ts = tag_score(tag, scores)
    assert ts is not None and ts.score == 0.5 and ts.match and ts.logodds is None
    assert tag_score(tag, {}) is None  # none of its sentences scored yet: unknown, not "no"
    cal = Calibration("threshold", 1.0, -logit(0.6))
    ts = tag_score(tag, scores, calibration=cal)
    assert ts is not None and not ts.match and ts.logodds == pytest.approx(logit(0.5) - logit(0.6))
    ts = tag_score(tag, scores, label=False)
    assert ts is not None and ts.match is False and ts.label is False
    examples = Tag("mine", ())
    assert tag_score(examples, {}) is None
    ts = tag_score(examples, {}, label=True)
    assert ts is not None and ts.score == 1.0 and ts.match
    fit = Calibration("examples", 0.0, 0.0, np.ones(DIM, np.float32))
    ts = tag_score(examples, {}, calibration=fit, feature=np.full(DIM, 0.5, np.float32))
    assert ts is not None and ts.match and ts.score == pytest.approx(1 / (1 + math.exp(-2.0)))
