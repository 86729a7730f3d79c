"""Issue 13: labels in the store, the one tag rule following them, calibration step by step."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from blipdesk.core import calibration as cal
from blipdesk.core.similar import similar
from blipdesk.domain import (
    Calibration,
    PhotoRecord,
    ScoreRow,
    SentenceScore,
    Tag,
    logit,
    logodds,
    logodds_many,
    tag_score,
)
from blipdesk.services.export import export_csv, export_document
from blipdesk.store import Library

KEY = "dir:abc|first=cls|decode=1"
TAG = Tag("cat", ("a cat",), 0.5)


def _fill(lib: Library, itms: list[float], features: np.ndarray | None = None) -> list[str]:
    """Photos /p/0.jpg ... with the given ITM for "a cat"; returns their contents."""
    lib.put_tag(TAG)
    lib.ensure_model(KEY, "/m")
    contents = [f"c{i:04d}" for i in range(len(itms))]
    lib.record_photos([PhotoRecord(f"/p/{i}.jpg", 1, 1, c) for i, c in enumerate(contents)])
    rows = [ScoreRow(c, "a cat", p, 0.0, 0.0, 0.1) for c, p in zip(contents, itms, strict=True)]
    feats = {} if features is None else dict(zip(contents, features, strict=True))
    lib.write_batch(KEY, rows, feats, {})
    return contents


def _matches(lib: Library) -> dict[str, bool]:
    return {r.path: r.tags["cat"].match for r in lib.photo_results(KEY, ["/p"])}


def test_no_labels_is_exactly_todays_rule(library):
    itms = [*list(np.linspace(0.01, 0.99, 41)), 0.5, 0.4999999, 0.5000001]
    _fill(library, itms)
    got = _matches(library)
    for i, p in enumerate(itms):
        assert got[f"/p/{i}.jpg"] == (p >= 0.5)
    data = cal.tag_data(library, KEY, TAG)
    fit = cal.fit_tag(data, TAG)
    assert fit.calibration is None and fit.step == "today"
    assert cal.matches(data, None, 0.5).tolist() == [p >= 0.5 for p in itms]


def test_labels_are_followed_everywhere_and_undoable(library):
    contents = _fill(library, [0.9, 0.1, 0.6])
    before = library.put_labels("cat", {contents[0]: False, contents[1]: True})
    assert before == {contents[0]: None, contents[1]: None}
    results = {r.path: r.tags["cat"] for r in library.photo_results(KEY, ["/p"])}
    assert results["/p/0.jpg"].match is False and results["/p/0.jpg"].label is False
    assert results["/p/1.jpg"].match is True and results["/p/1.jpg"].label is True
    assert results["/p/2.jpg"].label is None and results["/p/2.jpg"].match is True
    doc = export_document(library, KEY, "m", ["/p"])
    tags = {p["path"]: p["tags"]["cat"] for p in doc["photos"]}
    assert tags["/p/0.jpg"]["label"] == "no" and tags["/p/0.jpg"]["match"] is False
    assert tags["/p/1.jpg"]["label"] == "yes" and tags["/p/2.jpg"]["label"] is None
    rows = export_csv(doc).splitlines()
    assert rows[0].endswith(",match,label,precision,vision_cache")
    assert any(r.startswith("/p/0.jpg,cat,") and ",false,no," in r for r in rows)
    # undo: the previous values go back in
    library.put_labels("cat", before)
    assert library.labels() == {}
    assert _matches(library) == {"/p/0.jpg": True, "/p/1.jpg": False, "/p/2.jpg": True}


def test_labels_survive_renames_rescans_and_tag_edits(library):
    contents = _fill(library, [0.9, 0.1])
    library.put_labels("cat", {contents[1]: True})
    library.forget_photos(["/p/1.jpg"])  # renamed: the same content under a new name
    library.record_photos([PhotoRecord("/p/renamed.jpg", 1, 2, contents[1])])
    library.write_batch(KEY, [ScoreRow(contents[1], "a cat", 0.1, 0, 0, 0)], {}, {})  # rescan
    library.put_tag(Tag("cat", ("a cat", "a kitten"), 0.7))  # edited sentences and threshold
    assert _matches(library)["/p/renamed.jpg"] is True
    assert library.tag_labels("cat") == {contents[1]: True}
    library.remove_tag("cat")
    assert library.labels() == {}


def test_one_label_of_each_kind_cannot_give_a_wild_threshold():
    for yes, no in [(6.0, 5.9), (-8.0, -8.5), (12.0, -12.0), (-3.0, 3.0)]:
        for t in (0.1, 0.5, 0.9):
            fit = cal.fit(np.array([yes, no]), np.array([True, False]), None, t)
            if fit.calibration is None:
                continue
            moved = -fit.calibration.bias - logit(t)
            assert abs(moved) <= cal.MAX_MOVE + 1e-9
            assert fit.calibration.slope == 1.0


def _population(n: int, seed: int = 0, dim: int = 256):
    rng = np.random.default_rng(seed)
    truth = rng.random(n) < 0.4
    x = rng.normal(0.0, 1.0, n) + np.where(truth, 1.0, -0.5) + 1.5  # threshold too low
    direction = rng.normal(size=dim)
    f = rng.normal(size=(n, dim)) + np.outer(np.where(truth, 1.5, -1.5), direction / 16)
    f /= np.linalg.norm(f, axis=1, keepdims=True)
    return x, f.astype(np.float32), truth


@pytest.mark.parametrize("per_kind", [1, 2, 3, 5, 8, 12])
def test_each_step_never_flips_a_labelled_photo_nor_does_worse(per_kind):
    x, f, truth = _population(400, seed=per_kind)
    idx = np.concatenate([np.nonzero(truth)[0][:per_kind], np.nonzero(~truth)[0][:per_kind]])
    fit = cal.fit(x[idx], truth[idx], f[idx], 0.5)
    expected = {1: "threshold", 2: "threshold", 3: "logistic", 5: "logistic"}
    assert [s.step for s in fit.steps][: 2 + (per_kind >= 3) + (per_kind >= 8)] == list(
        cal.STEPS[: 2 + (per_kind >= 3) + (per_kind >= 8)]
    )
    accepted = [s for s in fit.steps if s.accepted]
    assert all(b.loo_f1 >= a.loo_f1 for a, b in itertools.pairwise(accepted))
    if per_kind in expected:
        assert fit.step in ("today", "threshold", expected[per_kind])
    contents = tuple(f"c{i}" for i in range(len(x)))
    labels = {contents[i]: bool(truth[i]) for i in idx}
    data = cal.TagData(contents, x, f, labels)
    decided = cal.matches(data, fit.calibration, 0.5)
    assert all(decided[i] == truth[i] for i in idx)
    for i in idx[:3]:  # the store's rule says the same
        ts = tag_score(
            TAG, {"a cat": SentenceScore(float(1 / (1 + np.exp(-x[i]))), 0, 0, 0)},
            bool(truth[i]), fit.calibration, f[i],
        )  # fmt: skip
        assert ts is not None and ts.match == truth[i]


def test_linear_step_with_eight_of_each_and_the_store_agrees_with_numpy():
    x, f, truth = _population(600, seed=3)
    idx = np.concatenate([np.nonzero(truth)[0][:10], np.nonzero(~truth)[0][:10]])
    fit = cal.fit(x[idx], truth[idx], f[idx], 0.5)
    assert [s.step for s in fit.steps] == list(cal.STEPS)
    assert fit.calibration is not None
    z = logodds_many(fit.calibration, x, f, logit(0.5))
    for i in range(0, 600, 37):
        itm = float(1 / (1 + np.exp(-x[i])))
        got = logodds(fit.calibration, logit(itm), f[i])
        assert got == pytest.approx(z[i], abs=1e-4)


def test_calibration_is_stored_per_model_and_read_time(library):
    contents = _fill(library, [0.2, 0.4, 0.6, 0.8])
    library.set_calibration("cat", KEY, Calibration("threshold", 1.0, -logit(0.7)))
    assert _matches(library) == {
        "/p/0.jpg": False, "/p/1.jpg": False, "/p/2.jpg": False, "/p/3.jpg": True
    }  # fmt: skip
    library.put_labels("cat", {contents[2]: True})
    assert _matches(library)["/p/2.jpg"] is True
    library.set_calibration("cat", KEY, None)
    assert _matches(library)["/p/1.jpg"] is False and _matches(library)["/p/3.jpg"] is True
    assert library.calibrations("other-model") == {}


def _store_and_proposal_agree(library, data, tag, calibration):
    """What the store shows for each photo and what a proposal counts (``cal.matches``)."""
    shown = {r.path: r.tags[tag.name].match for r in library.photo_results(KEY, ["/p"])}
    counted = dict(zip(data.contents, cal.matches(data, calibration, tag.threshold), strict=True))
    return shown, {f"/p/{i}.jpg": bool(counted[c]) for i, c in enumerate(data.contents)}


def test_a_threshold_met_exactly_is_met_in_the_store_and_in_a_proposal(library):
    # sigmoid(logit(0.11)) < 0.11: a proposal that compared through log-odds counted the photo
    # at exactly the threshold out while the grid showed it tagged
    _fill(library, [0.11, 0.3, 0.05, 0.11])
    tag = Tag("cat", ("a cat",), 0.11)
    library.put_tag(tag)
    data = cal.tag_data(library, KEY, tag)
    shown, counted = _store_and_proposal_agree(library, data, tag, None)
    assert shown == counted == {
        "/p/0.jpg": True, "/p/1.jpg": True, "/p/2.jpg": False, "/p/3.jpg": True
    }  # fmt: skip


def test_a_photo_without_its_vector_is_tagged_alike_in_the_store_and_in_a_proposal(library):
    # a calibration that leans on the image alone (slope 0) cannot judge a photo without its ITC
    # vector: the store falls back to the threshold, and so does a proposal (it took the missing
    # vector for zeros and judged by the bias alone: 0.1 and 0.2 were counted in)
    contents = _fill(library, [0.1, 0.9, 0.2, 0.8, 0.6])
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(2, 256)).astype(np.float32)
    library.write_batch(KEY, [], {contents[0]: vectors[0], contents[1]: vectors[1]}, {})
    data = cal.tag_data(library, KEY, TAG)
    assert data.features is not None and np.isnan(data.features[2:]).all()
    image_only = Calibration("examples", 0.0, 1.0, np.zeros(256, np.float32))
    linear = Calibration("linear", 1.0, -logit(0.7), np.full(256, 0.01, np.float32))
    for rule in (image_only, linear):
        library.set_calibration("cat", KEY, rule)
        shown, counted = _store_and_proposal_agree(library, data, TAG, rule)
        assert shown == counted
    assert shown["/p/2.jpg"] is False and shown["/p/3.jpg"] is True
    library.set_calibration("cat", KEY, image_only)
    shown, _ = _store_and_proposal_agree(library, data, TAG, image_only)
    assert shown == {
        "/p/0.jpg": True, "/p/1.jpg": True, "/p/2.jpg": False, "/p/3.jpg": True, "/p/4.jpg": True
    }  # fmt: skip


def test_labelled_photos_without_vectors_still_fit_the_linear_step(library):
    x, f, truth = _population(60, seed=5)
    itms = list(1 / (1 + np.exp(-x)))
    contents = _fill(library, itms, f)
    missing = contents[int(np.nonzero(truth)[0][0])]  # a labelled yes, its vector gone
    library.conn.execute(
        "DELETE FROM image_features WHERE content_id=(SELECT id FROM contents WHERE hash=?)",
        (missing,),
    )
    idx = np.concatenate([np.nonzero(truth)[0][:10], np.nonzero(~truth)[0][:10]])
    library.put_labels("cat", {contents[i]: bool(truth[i]) for i in idx})
    data = cal.tag_data(library, KEY, TAG)
    assert np.isnan(data.features[data.contents.index(missing)]).all()
    # the fit reads a missing vector as zeros (no image term), exactly as before it was NaN
    result = cal.fit_tag(data, TAG)
    zeros = dataclasses.replace(data, features=np.nan_to_num(data.features, nan=0.0))
    same = cal.fit_tag(zeros, TAG)
    assert [s.step for s in result.steps] == list(cal.STEPS)
    assert result.steps == same.steps and result.step == same.step
    assert result.estimate is not None and np.isfinite(result.estimate)
    if result.calibration is not None:
        assert result.calibration.bias == same.calibration.bias
        if result.calibration.weights is not None:
            assert np.isfinite(result.calibration.weights).all()
    assert cal.matches(data, result.calibration, 0.5)[data.contents.index(missing)]


def test_the_queue_gallops_past_labels_of_one_kind_and_bisects_a_gap_the_rule_misses():
    # a sentence scored far below its threshold: all 200 photos at ITM 1e-5 .. 1e-3, the top 60
    # true. The queue alone would ask about the top photos one by one, all yes; galloping, each
    # yes doubles how far past the lowest yes the next photo lies, so a no comes within ~log2(60)
    x = np.sort(np.linspace(np.log(1e-5), np.log(1e-3), 200))[::-1]  # logit ~ log at these sizes
    contents = tuple(f"{i:064x}" for i in range(200))
    truth = np.arange(200) < 60
    labels: dict[str, bool] = {}
    asked = []
    while not labels or all(labels.values()):
        data = cal.TagData(contents, x, None, dict(labels))
        pick = cal.borderline(data, None, 0.5, 1, turn=len(labels), every=0)[0]
        i = contents.index(pick)
        asked.append(i)
        labels[pick] = bool(truth[i])
    assert asked[:4] == [0, 2, 6, 14]  # 2^n - 1 places past the lowest yes: 1, 3, 7 on
    assert len(asked) <= 7 and not truth[asked[-1]]  # the first no after 6 answers, not 61
    # scored far above instead, all no so far (the two lowest): it gallops up past the highest no
    up = -x  # ascending: contents[0] the lowest, still far above the threshold
    data = cal.TagData(contents, up, None, {contents[0]: False, contents[1]: False})
    assert cal.borderline(data, None, 0.5, 1, turn=2, every=0) == [contents[5]]  # 3 places past [1]
    # both kinds, every yes above every no, the rule's boundary (far above) outside the gap
    # between them: the middle photo of the gap, halving it with each answer
    both = cal.TagData(contents, x, None, {contents[0]: True, contents[150]: False})
    assert cal.borderline(both, None, 0.5, 1, turn=2, every=0) == [contents[75]]
    # labels that do not separate (a no above a yes): the queue's own order, untouched
    mixed = {contents[0]: False, contents[1]: True, contents[150]: False}
    ref = cal.TagData(contents, x, None, {})
    expect = [c for c in cal.borderline(ref, None, 0.5, 10, turn=3, every=0) if c not in mixed]
    got = cal.borderline(cal.TagData(contents, x, None, mixed), None, 0.5, 5, turn=3, every=0)
    assert got == expect[:5]


def test_every_fourth_photo_of_the_queue_is_drawn_at_random_and_skips_are_never_shown():
    x = np.linspace(-8.0, 8.0, 400)
    contents = tuple(f"{i:064x}" for i in range(400))
    labels = {contents[190]: True, contents[150]: False, contents[260]: True}
    data = cal.TagData(contents, x, None, labels)
    assert [cal.random_turn(t) for t in range(8)] == [False, False, False, True] * 2
    assert not any(cal.random_turn(t, every=0) for t in range(8))
    # off the random turns: the queue's own pick, near the boundary
    own = cal.borderline(data, None, 0.5, 1, turn=2)[0]
    assert abs(x[contents.index(own)]) < 2.5
    # on them: a photo from anywhere, the same one for the same labels and turn, never labelled
    picks = [
        contents.index(cal.borderline(data, None, 0.5, 1, turn=t)[0]) for t in range(3, 400, 4)
    ]
    assert picks[0] == contents.index(cal.borderline(data, None, 0.5, 1, turn=3)[0])
    assert not {contents[i] for i in picks} & set(labels)
    assert min(x[picks]) < -6 and max(x[picks]) > 6  # spread over the library, not its boundary
    assert np.mean(np.abs(x[picks]) > 2.5) > 0.5
    # a skipped photo is never shown, the random one included
    skipped = {own, contents[picks[0]]}
    assert own not in cal.borderline(data, None, 0.5, 5, turn=2, skipped=skipped)
    assert cal.borderline(data, None, 0.5, 1, turn=3, skipped=skipped)[0] not in skipped


def test_the_logistic_step_finds_a_boundary_far_below_todays_threshold():
    # a sentence scored far below its threshold, as people's phrasings are on the miniature: the
    # tag's boundary at logit -6.6 while today's threshold is 0.5 (logit 0). With the prior
    # centred on today's boundary the fit flattened its slope to 0.1 to spare the bias and tagged
    # every photo (F1 0.45); centred on the threshold step's cut it keeps a real slope
    rng = np.random.default_rng(3)
    x = rng.uniform(-7.4, -1.6, 400)
    truth = x > -6.6
    below = np.nonzero(~truth)[0][:6]
    above = np.nonzero(truth)[0][:15]
    idx = np.concatenate([below, above])
    result = cal.fit(x[idx], truth[idx], None, 0.5, population=(x, None))
    assert result.step in ("threshold", "logistic")
    logistic = cal._fit_logistic(x[idx], truth[idx], 0.0)
    assert logistic.slope > 1.0
    assert x[below].max() - 0.5 < -logistic.bias / logistic.slope < x[above].min() + 0.5
    chosen = logodds_many(result.calibration, x, None, 0.0) >= 0
    assert 0.3 < chosen.mean() < 0.95 and cal.f1(chosen, truth) > 0.9


def test_proposal_lists_changes_and_borderline_queue_skips_labels(library):
    itms = [0.05, 0.2, 0.35, 0.45, 0.55, 0.65, 0.8, 0.95]
    contents = _fill(library, itms)
    # the person says the line is higher: 0.55 and 0.65 are not cats, 0.8 and 0.95 are
    library.put_labels(
        "cat", {contents[4]: False, contents[5]: False, contents[6]: True, contents[7]: True}
    )
    data = cal.tag_data(library, KEY, TAG)
    queue = cal.borderline(data, None, 0.5, 8)
    assert set(queue) == set(contents[:4])  # every unlabelled photo, the labelled never
    # one side left (all below): the nearest QUEUE_SPREAD log-odds below first (0.2: z -1.39)
    assert queue[0] == contents[1]
    # with no labels, the two sides in turn: above first on even turns (0.8: z 1.39), else below
    fresh = cal.TagData(data.contents, data.x, data.features, {})
    assert cal.borderline(fresh, None, 0.5, 2) == [contents[6], contents[1]]
    assert cal.borderline(fresh, None, 0.5, 2, turn=1) == [contents[1], contents[6]]
    proposal = cal.propose(data, TAG, None)
    assert proposal.fit.step == "threshold"
    assert proposal.gained == () and proposal.lost == ()  # the only photos above are labelled
    t = proposal.fit.calibration.threshold()
    assert 0.65 < t < 0.8


def test_a_tag_from_examples_alone(library):
    rng = np.random.default_rng(1)
    direction = rng.normal(size=256)
    truth = rng.random(60) < 0.5
    f = rng.normal(size=(60, 256)) + np.outer(np.where(truth, 2.0, -2.0), direction / 6)
    f = (f / np.linalg.norm(f, axis=1, keepdims=True)).astype(np.float32)
    contents = _fill(library, [0.5] * 60, f)
    miso = Tag("Miso", (), 0.5)
    library.put_tag(miso, from_examples=True)
    with pytest.raises(Exception, match="sentence"):
        library.put_tag(Tag("empty", (), 0.5))
    labelled = [*np.nonzero(truth)[0][:4], *np.nonzero(~truth)[0][:4]]
    library.put_labels("Miso", {contents[i]: bool(truth[i]) for i in labelled})
    data = cal.tag_data(library, KEY, miso)
    proposal = cal.propose(data, miso, None)
    assert proposal.fit.step == "examples"
    library.set_calibration("Miso", KEY, proposal.fit.calibration)
    results = {r.path: r.tags.get("Miso") for r in library.photo_results(KEY, ["/p"])}
    right = sum(results[f"/p/{i}.jpg"].match == truth[i] for i in range(60))
    assert right >= 50
    # exported like any tag: JSON with its label, and a CSV row with no sentence
    doc = export_document(library, KEY, "m", ["/p"])
    by_path = {p["path"]: p["tags"]["Miso"] for p in doc["photos"]}
    first = int(labelled[0])
    assert by_path[f"/p/{first}.jpg"]["label"] == ("yes" if truth[first] else "no")
    assert any(",Miso,," in row for row in export_csv(doc).splitlines())


def test_similar_groups_exact_and_near_duplicates():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(5, 256)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    near = v[0] + 0.01 * rng.normal(size=256).astype(np.float32)
    vectors = {f"c{i}": v[i] for i in range(5)} | {"n": near / np.linalg.norm(near)}
    candidates = {f"/f/{i}.jpg": f"c{i}" for i in range(5)} | {"/f/copy.jpg": "c0", "/f/n.jpg": "n"}
    # near-duplicates by the pixels' hashes (a few bits apart), never by the cosine alone
    hashes = {f"c{i}": rng.integers(0, 256, 18, dtype=np.uint8).tobytes() for i in range(5)}
    hashes["n"] = bytes([hashes["c0"][0] ^ 0b101, *hashes["c0"][1:]])
    found = similar({"/f/0.jpg": "c0"}, candidates, vectors, top=3, hashes=hashes)
    assert found.exact == (("/f/0.jpg", "/f/copy.jpg"),)
    assert [p for _, p, _ in found.near] == ["/f/n.jpg"]
    assert len(found.ranked) == 3 and all(
        p not in ("/f/copy.jpg", "/f/n.jpg") for p, _ in found.ranked
    )
    assert [s for _, s in found.ranked] == sorted((s for _, s in found.ranked), reverse=True)


def test_expected_f1_and_the_f1_best_cut():
    p = np.array([0.9, 0.8, 0.4, 0.3, 0.1])
    chosen = np.array([True, True, False, False, False])
    assert cal.expected_f1(p, chosen) == pytest.approx(2 * 1.7 / (2 + 2.5))
    # calibrated log-odds: the F1-best cut keeps the likely ones and sits below 0.5 when the
    # tag is hard (best F1 / 2)
    z = np.log(p / (1 - p))
    shift = cal.f1_shift(z)
    cut = 1 / (1 + np.exp(shift))
    assert 0.05 <= cut < 0.5
    kept = z + shift >= 0
    assert kept[:2].all() and not kept[-1]


def test_the_estimate_comes_with_the_probability_steps():
    x, f, truth = _population(500, seed=7)
    idx = np.concatenate([np.nonzero(truth)[0][:4], np.nonzero(~truth)[0][:4]])
    fit = cal.fit(x[idx], truth[idx], f[idx], 0.5, (x, f))
    assert fit.estimate is not None and 0.0 <= fit.estimate <= 1.0
    assert fit.estimate_today is not None and 0.0 <= fit.estimate_today <= 1.0
    # one label of each kind: a logistic fit for the estimate alone
    few = cal.fit(x[idx[[0, -1]]], truth[idx[[0, -1]]], None, 0.5, (x, None))
    assert few.estimate is not None and few.estimate_today is not None
    one_kind = cal.fit(x[idx[:3]], truth[idx[:3]], None, 0.5, (x, None))
    assert one_kind.estimate is None  # labels of one kind only: nothing to estimate with


def test_the_estimate_is_called_rough_until_there_are_enough_labels_of_each_kind():
    x, f, truth = _population(500, seed=7)
    yes, no = np.nonzero(truth)[0], np.nonzero(~truth)[0]
    few = np.concatenate([yes[:5], no[: cal.ROUGH_BELOW + 3]])  # 5 yes: rough, however many no
    fit = cal.fit(x[few], truth[few], f[few], 0.5, (x, f))
    assert fit.rough and fit.estimate_caveat().startswith(f"rough: from {len(few)} labels")
    many = np.concatenate([yes[: cal.ROUGH_BELOW], no[: cal.ROUGH_BELOW]])
    fit = cal.fit(x[many], truth[many], f[many], 0.5, (x, f))
    assert not fit.rough and fit.estimate_caveat() == f"from {2 * cal.ROUGH_BELOW} labels"


# ----------------------------------------------------------------- the stratified estimate


def _f1_of(chosen: np.ndarray, truth: np.ndarray) -> float:
    return cal.f1(chosen, truth)


def test_the_stratified_estimate_is_unbiased_where_the_fit_is_wrong():
    # a large library whose truth the fitted probabilities get wrong: the tag is confidently
    # wrong (only 70% true even at high scores) and the fit says sigmoid(x)
    rng = np.random.default_rng(11)
    n = 20_000
    x = rng.normal(0.0, 2.5, n)
    truth = rng.random(n) < 0.6 / (1 + np.exp(-2 * x)) + 0.1
    p = 1 / (1 + np.exp(-x))
    chosen = x >= 0.3
    stratum = cal.strata(x, 0.0)
    true_f1 = _f1_of(chosen, truth)
    model_only = cal.expected_f1(p, chosen)
    assert abs(model_only - true_f1) > 0.1  # the fit alone is far off
    got, shrunk = [], []
    for _ in range(100):  # 3 labels drawn at random in each stratum: a stratified sample
        idx = np.concatenate(
            [rng.choice(np.nonzero(stratum == s)[0], 3) for s in np.unique(stratum)]
        )
        args = (chosen, p, stratum, chosen[idx], p[idx], truth[idx], stratum[idx])
        got.append(cal.stratified_f1(*args, shrink=0.0))
        shrunk.append(cal.stratified_f1(*args))
    assert abs(float(np.mean(got)) - true_f1) < 0.02  # unbiased
    # shrunk towards the fit where a stratum has few labels: some bias, far less than the fit's
    assert abs(float(np.mean(shrunk)) - true_f1) < abs(model_only - true_f1) / 2
    # no labels: the fit's own expectation
    empty = np.zeros(0)
    none = cal.stratified_f1(
        chosen, p, stratum, empty.astype(bool), empty, empty, empty.astype(int)
    )
    assert none == pytest.approx(model_only)


def _queue_labels(x: np.ndarray, truth: np.ndarray, per_kind: int) -> np.ndarray:
    """Labels as the review queue takes them: the photos nearest +-QUEUE_SPREAD log-odds."""
    picked: list[int] = []
    order = np.argsort(np.minimum(np.abs(x - cal.QUEUE_SPREAD), np.abs(x + cal.QUEUE_SPREAD)))
    for i in order:
        if sum(truth[j] == truth[i] for j in picked) < per_kind:
            picked.append(int(i))
        if len(picked) == 2 * per_kind:
            break
    return np.asarray(picked)


def test_the_estimate_shown_is_near_the_truth_and_the_labels_f1_is_not():
    rng = np.random.default_rng(5)
    n = 4000
    x = rng.normal(-1.0, 2.0, n)
    truth = rng.random(n) < 1 / (1 + np.exp(-(1.5 * x - 1.0)))  # the threshold is too low
    idx = _queue_labels(x, truth, 10)
    fit = cal.fit(x[idx], truth[idx], None, 0.5, (x, None))
    today = _f1_of(x >= 0, truth)
    assert fit.estimate_today is not None and fit.estimate is not None
    assert abs(fit.estimate_today - today) < 0.06
    after = _f1_of(logodds_many(fit.calibration, x, None, 0.0) >= 0, truth)
    assert abs(fit.estimate - after) < 0.06
    assert [s.estimate is not None for s in fit.steps if s.accepted] == [True] * sum(
        s.accepted for s in fit.steps
    )


def test_the_guard_keeps_todays_rule_when_the_estimate_sees_no_gain():
    # the truth is today's threshold exactly: any move can only lose
    rng = np.random.default_rng(2)
    x = rng.normal(0.0, 2.0, 3000)
    truth = x >= 0
    for per_kind in (5, 10):
        idx = _queue_labels(x, truth, per_kind)
        fit = cal.fit(x[idx], truth[idx], None, 0.5, (x, None))
        assert fit.step == "today" and fit.calibration is None
        assert fit.estimate == fit.estimate_today
        # (below 1: strata with no label keep the fitted, softer probabilities)
        assert fit.estimate_today is not None and fit.estimate_today > 0.8
    # the truth is a higher threshold: the labels support a move, and the estimate says so
    truth = x >= 2.0
    idx = _queue_labels(x, truth, 10)
    fit = cal.fit(x[idx], truth[idx], None, 0.5, (x, None))
    assert fit.step != "today"
    assert fit.estimate is not None and fit.estimate_today is not None
    assert fit.estimate > fit.estimate_today
    assert _f1_of(logodds_many(fit.calibration, x, None, 0.0) >= 0, truth) > _f1_of(x >= 0, truth)


def test_many_labels_are_held_out_in_closed_form_and_agree_with_refitting(monkeypatch):
    # past EXACT_LOO_MAX labels each label's held-out log-odds is one Newton step from the fit on
    # all (no refit per label: Review refits after every answer); it must say what refits say
    rng = np.random.default_rng(2)
    n, photos = 150, 3000
    x = rng.normal(-3, 2, photos)
    f = rng.normal(size=(photos, 256)).astype(np.float32)
    f /= np.linalg.norm(f, axis=1, keepdims=True)
    idx = rng.choice(photos, n, replace=False)
    y = rng.random(n) < 1 / (1 + np.exp(-1.5 * (x[idx] + 3) - 3 * f[idx, 0]))
    assert n > cal.EXACT_LOO_MAX
    for step, feats in (("logistic", None), ("linear", f[idx]), ("examples", f[idx])):
        xs = None if step == "examples" else x[idx]
        fast = cal._loo(step, xs, y, feats, 0.0)
        monkeypatch.setattr(cal, "EXACT_LOO_MAX", 10**9)
        exact = cal._loo(step, xs, y, feats, 0.0)
        monkeypatch.undo()
        assert np.abs(fast[2] - exact[2]).max() < 0.15, step
        assert np.mean((fast[2] >= 0) == (exact[2] >= 0)) >= 0.99, step
        assert fast[0] == pytest.approx(exact[0], abs=0.01) and fast[1] == pytest.approx(
            exact[1], abs=0.01
        )
    # and a whole fit over that many labels still goes through every step
    result = cal.fit(x[idx], y, f[idx], 0.5, population=(x, f))
    assert [s.step for s in result.steps] == list(cal.STEPS)
    assert all(s.estimate is not None for s in result.steps) and result.estimate is not None


def test_the_threshold_search_counts_as_the_plain_table_would():
    rng = np.random.default_rng(4)
    for _ in range(500):
        n = int(rng.integers(2, 30))
        x = np.round(rng.normal(0, 3, n), int(rng.integers(0, 2)))  # ties too
        y = rng.random(n) < 0.5
        t0 = float(rng.normal(0, 2))
        got = cal._fit_threshold(x, y, t0)
        # the plain candidates x labels table
        xs = np.unique(x)
        pairs = min(int(y.sum()), int((~y).sum()))
        cands = np.clip(
            (xs[:-1] + xs[1:]) / 2 if len(xs) > 1 else xs, t0 - 2 * pairs, t0 + 2 * pairs
        )
        scores = [cal.f1(x >= c, y) for c in cands]
        if not scores or max(scores) <= cal.f1(x >= t0, y):
            assert got is None
            continue
        best = cands[np.array(scores) == max(scores)]
        assert got is not None and -got.bias == best[np.argmin(np.abs(best - t0))]
