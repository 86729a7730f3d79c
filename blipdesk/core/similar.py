"""More like this (issue 13): rank photos by ITC image-to-image similarity, from the cache.

The cache keeps each photo's 256-value ITC image vector (L2-normalised, per content and model).
The query is the normalised mean of the chosen photos' vectors; every other photo is ranked by
its cosine to it, one matrix-vector product. Exact duplicates (the same content hash as a chosen
photo, under another path) and near-duplicates (burst frames and re-exports: the pixels'
perceptual hashes and the capture times, by ``domain.near``'s rule; never the embedding, which
finds photos of the same *thing*) are reported as their own groups, apart from the ranking.
numpy only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from blipdesk.domain.near import near_duplicates


def _unknown(_path: str) -> float | None:
    return None


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
    hashes: Mapping[str, bytes] | None = None,
    taken: Callable[[str], float | None] = _unknown,
) -> Similar:
    """``chosen``: path -> content of the query photos; ``candidates``: path -> content of the
    photos to rank (the folder); ``vectors``: content -> ITC vector; ``hashes``: content -> the
    pixels' perceptual hash (photos without one are never near-duplicates); ``taken``: path ->
    capture time, asked only of photos whose hashes are near. Photos without a vector are left
    out; the chosen photos and their exact duplicates are not ranked."""
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
    columns = {c: j for j, c in enumerate(queries)}  # content -> its column of per_query
    near_pairs = _near(chosen, paths, candidates, hashes or {}, taken, per_query, columns)
    near_set = {p for _q, p, _s in near_pairs}
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


def _near(
    chosen: Mapping[str, str],
    paths: Sequence[str],
    candidates: Mapping[str, str],
    hashes: Mapping[str, bytes],
    taken: Callable[[str], float | None],
    per_query: np.ndarray,
    columns: Mapping[str, int],
) -> tuple[tuple[str, str, float], ...]:
    """(chosen path, path, cosine) of each candidate that is a near-duplicate of a chosen photo
    (of the first, when of several), the most alike first."""
    queries = [(q, hashes[c]) for q, c in chosen.items() if c in hashes and c in columns]
    if not queries:
        return ()
    when: dict[str, float | None] = {}

    def at(path: str) -> float | None:
        if path not in when:
            when[path] = taken(path)
        return when[path]

    found = []
    for i, path in enumerate(paths):
        bits = hashes.get(candidates[path])
        if bits is None:
            continue
        for q, qbits in queries:
            if near_duplicates(qbits, bits, None, None) and near_duplicates(
                qbits, bits, at(q), at(path)
            ):
                found.append((q, path, float(per_query[i, columns[chosen[q]]])))
                break
    return tuple(sorted(found, key=lambda t: -t[2]))


def by_content(records: Sequence[tuple[str, str | None]]) -> dict[str, str]:
    """path -> content for the records that have one."""
    return {p: c for p, c in records if c}
