"""More like this (issue 13): rank photos by ITC image-to-image similarity, from the cache.

The cache keeps each photo's 256-value ITC image vector (L2-normalised, per content and model).
The query is the normalised mean of the chosen photos' vectors; every other photo is ranked by
its cosine to it, one matrix-vector product. Exact duplicates (the same content hash as a chosen
photo, under another path) and near-duplicates (cosine to a chosen photo at least ``NEAR``) are
reported as their own groups, apart from the ranking. numpy only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

NEAR = 0.97  # cosine between ITC vectors at or above which two photos are near-duplicates


@dataclass(frozen=True)
class Similar:
    ranked: tuple[tuple[str, float], ...]  # (path, cosine to the query), best first
    exact: tuple[tuple[str, str], ...]  # (chosen path, another path with the same content)
    near: tuple[tuple[str, str, float], ...]  # (chosen path, path, cosine)


def similar(
    chosen: Mapping[str, str],
    candidates: Mapping[str, str],
    vectors: Mapping[str, np.ndarray],
    top: int = 10,
    near: float = NEAR,
) -> Similar:
    """``chosen``: path -> content of the query photos; ``candidates``: path -> content of the
    photos to rank (the folder); ``vectors``: content -> ITC vector. Photos without a vector are
    left out; the chosen photos and their exact duplicates are not ranked."""
    queries = [c for c in chosen.values() if c in vectors]
    if not queries:
        return Similar((), (), ())
    chosen_contents = set(chosen.values())
    exact = tuple(
        (q, p)
        for q, qc in chosen.items()
        for p, c in candidates.items()
        if c == qc and p not in chosen
    )
    paths = [p for p, c in candidates.items() if c in vectors and c not in chosen_contents]
    if not paths:
        return Similar((), exact, ())
    matrix = np.stack([vectors[candidates[p]] for p in paths]).astype(np.float32)
    q = np.stack([vectors[c] for c in queries]).astype(np.float32)
    centre = q.mean(0)
    centre /= max(float(np.linalg.norm(centre)), 1e-12)
    scores = matrix @ centre
    per_query = matrix @ q.T  # cosine of each candidate to each chosen photo
    best_q = per_query.argmax(1)
    best = per_query.max(1)
    names = list(chosen)
    qpaths = [next(p for p in names if chosen[p] == c) for c in queries]
    near_idx = np.nonzero(best >= near)[0]
    near_pairs = tuple(
        sorted(
            ((qpaths[int(best_q[i])], paths[i], float(best[i])) for i in near_idx),
            key=lambda t: -t[2],
        )
    )
    near_set = {paths[i] for i in near_idx}
    k = min(top, len(paths))
    # only the best k (plus the near-duplicates, which are left out of the ranking) are sorted:
    # argpartition is linear, a full sort of 10,000 scores is not needed for 10 of them
    want = min(k + len(near_set), len(paths))
    best_idx = (
        np.argpartition(-scores, want - 1)[:want] if want < len(paths) else np.arange(len(paths))
    )
    order = best_idx[np.lexsort((best_idx, -scores[best_idx]))]
    ranked = []
    for i in order:
        if paths[i] in near_set:
            continue
        ranked.append((paths[i], float(scores[i])))
        if len(ranked) >= k:
            break
    return Similar(tuple(ranked), exact, near_pairs)


def by_content(records: Sequence[tuple[str, str | None]]) -> dict[str, str]:
    """path -> content for the records that have one."""
    return {p: c for p, c in records if c}
