"""Free-text search over what is scanned: BLIP's retrieval recipe, never scanning.

``iter_search`` ranks every scanned photo under the folders by ITC cosine at once (cached image
vectors: only the sentence goes through the text encoder), then refines the best by ITM a step
at a time, from the vision cache, and counts what is not scanned. One search encodes its
sentence once, reads the ITC vectors once and walks the folders once, however many steps it
takes. Qt-free; torch is imported by the scorer when it runs.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Container, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from blipdesk.core.engine import ModelKey, ScanOptions, WorkItem, feature_store, plan, run_work
from blipdesk.core.files import absolute, find_photos
from blipdesk.core.inventory import unchanged
from blipdesk.core.runner import Runner, score_cached
from blipdesk.domain import PhotoRecord
from blipdesk.store import Library

if TYPE_CHECKING:
    from blipdesk.core.feature_cache import FeatureStore
    from blipdesk.core.scorer import Scorer, Sentences

DEFAULT_OPTIONS = ScanOptions()


@dataclass(frozen=True)
class SearchHit:
    path: str
    cosine: float
    itm: float | None  # None outside the ITM-reranked candidates


@dataclass(frozen=True)
class SearchUpdate:
    """Where a search stands: the cosine ranking at once, then refined by ITM step by step."""

    sentence: str
    hits: tuple[SearchHit, ...]  # the ITM-checked candidates (best ITM first), then by cosine
    refined: int  # candidates checked by ITM so far
    candidates: int  # candidates that will be checked
    ranked: int  # scanned photos ranked by cosine
    unscanned: int  # photos under the folders not scanned yet: not in the ranking
    done: bool


def iter_search(
    library: Library,
    folders: Sequence[str | os.PathLike[str]],
    sentence: str,
    key: ModelKey,
    scorer: Callable[[], Scorer],
    top: int = 10,
    candidates: int | None = None,
    options: ScanOptions = DEFAULT_OPTIONS,
    cancel: threading.Event | None = None,
    step: int = 16,
    only: Container[str] | None = None,
) -> Iterator[SearchUpdate]:
    """BLIP's retrieval recipe over what is scanned, best first, never scanning.

    The first update ranks every scanned photo under ``folders`` by ITC cosine (cached image
    vectors: only the sentence goes through the text encoder). Each later update has checked
    ``step`` more of the best ``candidates`` by ITM, from the vision cache (no decoding, no
    vision pass; a candidate whose vision output is not cached is decoded once and cached), and
    re-orders them. ITM scores are stored, so asking again is free. Photos not scanned yet are
    counted (``unscanned``), never scanned here.

    The sentence is encoded once and the ITC vectors read once, for the ranking and every step
    (the steps score with the same ``Runner``, given the vectors already read). ``only``: rank
    just these paths (what a filter keeps: ``--filter``); the rest are neither ranked nor
    counted as not scanned."""
    cancel = cancel or threading.Event()
    the_scorer = scorer()
    roots = [absolute(f) for f in folders]
    # Only files as they were scanned: one changed or deleted since would answer for bytes it
    # no longer holds (a stat each: ~20 ms for 10,000 files, no hashing, no decoding).
    known = library.photos_under(roots, options.recursive)
    records = [p for p in known if (only is None or p.path in only) and unchanged(p)]
    itc = library.image_features(key.score_key, [p.content for p in records if p.content])
    # The sentence encoded once, for the ranking and every step (none when nothing is ranked).
    runner = Runner(the_scorer, (sentence,)) if any(p.content in itc for p in records) else None
    text = runner.text if runner is not None else None
    ranked = cosine_ranking(library, records, sentence, key, the_scorer, text, itc)
    # Not scanned: on disk, but neither ranked nor known to be unreadable.
    bad = library.decode_errors(key.score_key, [p.content for p in records if p.content])
    seen = {p.path for p, _ in ranked}
    seen.update(p.path for p in records if p.read_error or p.content in bad)
    if only is not None:  # what the filter leaves out is not "not scanned yet"
        seen.update(p.path for p in known if p.path not in only)
    unscanned = sum(1 for p in find_photos(roots, options.recursive) if p not in seen)
    k = min(len(ranked), candidates or max(top, 32))
    best = [photo for photo, _ in ranked[:k]]
    itm: dict[str, float] = {}

    def update(done: bool) -> SearchUpdate:
        checked = sorted(
            (SearchHit(p.path, c, itm[str(p.content)]) for p, c in ranked[:k] if p.content in itm),
            key=lambda h: -(h.itm or 0.0),
        )
        rest = (SearchHit(p.path, c, None) for p, c in ranked if p.content not in itm)
        hits = tuple(itertools.islice(itertools.chain(checked, rest), top))
        return SearchUpdate(sentence, hits, len(checked), k, len(ranked), unscanned, done)

    def collect(contents: Sequence[str]) -> None:
        scores = library.sentence_scores(key.score_key, list(contents), (sentence,))
        itm.update((c, got[sentence].itm) for c, got in scores.items() if sentence in got)

    collect([str(p.content) for p in best])  # asked before: known at once
    work = plan(library, best, (sentence,), key)  # the rest, in cosine order
    yield update(not work)
    # Decoding, when a candidate's vision output is not cached, in threads: a process pool's
    # start-up would cost more than a step.
    threads = replace(options, use_processes=False)
    store = feature_store(library, key, options)  # one for every step
    for start in range(0, len(work), step):
        assert runner is not None  # work comes from the ranking
        if cancel.is_set():
            return
        chunk = work[start : start + step]
        if library.readonly:  # a read-only data folder: from the vision cache, kept in memory
            itm.update(_match_in_memory(store, runner, itc, chunk))
        else:
            run_work(
                library, chunk, key, lambda: runner.scorer, threads, cancel=cancel, store=store,
                runner=runner, itc=itc,
            )  # fmt: skip
            collect([w.content for w in chunk])
        yield update(start + step >= len(work))


def _match_in_memory(
    store: FeatureStore | None,
    runner: Runner,
    itc: Mapping[str, np.ndarray],
    items: Sequence[WorkItem],
) -> dict[str, float]:
    """ITM of the runner's sentence for the items whose vision output is cached, written nowhere
    (the cache cannot be written). Items without one stay ranked by cosine alone."""
    vision = store.load_many(w.content for w in items) if store is not None else {}
    contents = [c for c in vision if c in itc]
    if not contents:
        return {}
    _, scores = score_cached(
        runner.scorer,
        np.stack([vision[c] for c in contents]),
        np.stack([itc[c] for c in contents]),
        runner.text,
    )
    return {c: float(scores.itm[i, 0]) for i, c in enumerate(contents)}


def search(
    library: Library,
    folders: Sequence[str | os.PathLike[str]],
    sentence: str,
    key: ModelKey,
    scorer: Callable[[], Scorer],
    top: int = 10,
    candidates: int | None = None,
    options: ScanOptions = DEFAULT_OPTIONS,
    on_update: Callable[[SearchUpdate], None] | None = None,
    cancel: threading.Event | None = None,
    only: Container[str] | None = None,
) -> SearchUpdate:
    """``iter_search`` run to its end (or until ``cancel``); returns the last update."""
    last = None
    for last in iter_search(
        library, folders, sentence, key, scorer, top, candidates, options, cancel, only=only
    ):
        if on_update is not None:
            on_update(last)
    assert last is not None  # iter_search always yields its ranking first
    return last


def cosine_ranking(
    library: Library,
    records: Sequence[PhotoRecord],
    sentence: str,
    key: ModelKey,
    scorer: Scorer,
    text: Sentences | None = None,
    itc: Mapping[str, np.ndarray] | None = None,
) -> list[tuple[PhotoRecord, float]]:
    """``records`` with cached image features, best ITC cosine first. Instant: only the sentence
    goes through the (text) encoder; photos without features are left out. ``text``: the
    sentence already encoded; ``itc``: the records' ITC vectors already read (content -> vector)."""
    if itc is None:
        itc = library.image_features(key.score_key, [p.content for p in records if p.content])
    photos = [p for p in records if p.content in itc]
    if not photos:
        return []
    if text is None:
        text = scorer.encode_sentences([sentence])
    cosine = np.stack([itc[str(p.content)] for p in photos]) @ text.itc.float().cpu().numpy()[0]
    order = np.argsort(-cosine, kind="stable")
    return [(photos[i], float(cosine[i])) for i in order]
