"""A person's own keywords, the use cases both shells share (issue 26): read them from the photos'
XMP (sidecars in either naming, and the photo's own embedded XMP and IPTC), learn each one from the
photos that carry it (``core.keywords``) and suggest it for the photos that don't yet.

Reading is per photo: one unreadable sidecar or photo is that photo's problem, listed, and the rest
are read. A photo's imported keywords are replaced by what its files say now (a keyword removed in
another app goes); keywords typed in blipdesk stay until removed there.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from blipdesk.core.embedded import read_embedded
from blipdesk.core.keywords import (
    MIN_EXAMPLES,
    KeywordData,
    LearntKeyword,
    carried,
    learn,
    probabilities,
)
from blipdesk.domain.calibration import logits
from blipdesk.domain.keywords import KeywordError, keyword, keywords_of, sentence
from blipdesk.infra.display import display_path
from blipdesk.services.sidecars import (
    SidecarError,
    SidecarPlan,
    per_item,
    plan_keywords,
    read_packet,
    read_sidecar,
    sidecar_path,
)
from blipdesk.store import Library

DEFAULT_MIN_PRECISION = 0.9


@dataclass(frozen=True)
class PhotoKeywords:
    keywords: tuple[str, ...]
    problems: tuple[str, ...] = ()  # one line per file that could not be read, or entry refused


def read_photo_keywords(photo: str) -> PhotoKeywords:
    """Everything ``photo``'s files say its keywords are: its sidecars (``photo.jpg.xmp`` and
    ``photo.xmp``), its embedded XMP packet and, in a JPEG, its IPTC-IIM Keywords. blipdesk's own
    ``blipdesk|...`` entries are not the person's keywords."""
    subjects: list[str] = []
    hierarchical: list[str] = []
    tags_list: list[str] = []
    problems: list[str] = []
    for naming in ("jpg.xmp", "xmp"):
        try:
            found = read_sidecar(sidecar_path(photo, naming))
        except SidecarError as exc:
            problems.append(str(exc))
            continue
        subjects += found.user_subjects
        hierarchical += found.hierarchical
        tags_list += found.tags_list
    try:
        embedded = read_embedded(photo)
    except OSError as exc:
        problems.append(f"{display_path(photo)}: cannot be read ({exc.strerror or exc})")
    else:
        if embedded.xmp is not None:
            try:
                packet = read_packet(embedded.xmp, photo)
            except SidecarError as exc:
                problems.append(f"its embedded XMP: {exc}")
            else:
                subjects += packet.user_subjects
                hierarchical += packet.hierarchical
                tags_list += packet.tags_list
        subjects += embedded.iptc_keywords
    names, refused = keywords_of(subjects, hierarchical, tags_list)
    problems += [f"{display_path(photo)}: not a keyword: {entry!r}" for entry in refused]
    return PhotoKeywords(names, tuple(problems))


@dataclass(frozen=True)
class ImportReport:
    photos: int  # photos read
    keyworded: int  # of them, with at least one keyword
    keywords: int  # distinct keywords found
    added: int  # photo keywords new in the library
    dropped: int  # imported photo keywords no longer in the photos' files
    problems: tuple[str, ...] = field(default_factory=tuple)


def import_keywords(library: Library, photos: Iterable[tuple[str, str]]) -> ImportReport:
    """Read the keywords of ``photos`` ((path, content) pairs) into ``library``. Copies of one
    content share their keywords (the union of what their files say)."""
    found: dict[str, list[str]] = {}
    problems: list[str] = []
    count = 0
    for path, content in photos:
        count += 1
        read = read_photo_keywords(path)
        found.setdefault(content, []).extend(read.keywords)
        problems += read.problems
    added, dropped = library.replace_imported(found)
    distinct = {name for names in found.values() for name in names}
    keyworded = sum(1 for names in found.values() if names)
    return ImportReport(count, keyworded, len(distinct), added, dropped, tuple(problems))


def checked(name: str) -> str:
    """A keyword typed by a person, in the one spelling; ``UserError`` when it cannot be one."""
    from blipdesk.infra.errors import UserError

    try:
        return keyword(name)
    except KeywordError as exc:
        raise UserError(f"Not a keyword: {exc}.") from None


# ----------------------------------------------------------------------------- learn, suggest


def learnable(library: Library) -> list[str]:
    """The keywords photos carry with at least ``MIN_EXAMPLES`` photos, those under them counted
    in (a level above that no photo carries itself is implied by the ones below, not learnt)."""
    own = library.photo_keywords()
    used = {name for names in own.values() for name in names}
    counts: dict[str, int] = {}
    for names in carried(own).values():
        for name in names & used:
            counts[name] = counts.get(name, 0) + 1
    return sorted(k for k, n in counts.items() if n >= MIN_EXAMPLES)


def sentences(names: Iterable[str]) -> tuple[str, ...]:
    """The sentences that say the keywords' own words (their ITM comes from the vision cache)."""
    return tuple(dict.fromkeys(sentence(n) for n in names))


def keyword_data(
    library: Library, score_key: str, contents: Sequence[str], names: Sequence[str]
) -> KeywordData:
    """The photos' ITC vectors and each keyword's sentence score from the cache; contents
    without a vector are left out (the probe cannot read them)."""
    feats = library.image_features(score_key, contents)
    kept = tuple(c for c in dict.fromkeys(contents) if c in feats)
    dim = next((len(v) for v in feats.values()), 0)
    features = np.stack([feats[c] for c in kept]) if kept else np.zeros((0, dim), np.float32)
    wanted = {n: sentence(n) for n in names}
    scores = library.sentence_scores(score_key, kept, tuple(set(wanted.values())))
    x = {}
    for name, text in wanted.items():
        itm = np.array([s.itm if (s := scores[c].get(text)) else np.nan for c in kept])
        if not np.isnan(itm).all():
            x[name] = logits(itm)  # NaN stays NaN
    return KeywordData(kept, features, x)


@dataclass(frozen=True)
class Suggestion:
    path: str
    keyword: str
    probability: float
    content: str


def learn_keywords(
    library: Library, score_key: str, names: Sequence[str] | None = None
) -> tuple[list[LearntKeyword], KeywordData, dict[str, set[str]]]:
    """Every learnable keyword (or ``names``) learnt from every keyworded photo of the library:
    (the learnt keywords, the data over every photo with a vector, content -> its keywords)."""
    names = learnable(library) if names is None else list(names)
    keywords = carried(library.photo_keywords())
    everyone = [p.content for p in library.photos_under([os.path.abspath(os.sep)]) if p.content]
    data = keyword_data(library, score_key, [*everyone, *keywords], names)
    rejections = library.keyword_rejections()
    learnt = [learn(n, data, keywords, rejections.get(n, set())) for n in names]
    return learnt, data, keywords


def suggest(
    library: Library,
    score_key: str,
    paths: dict[str, str],
    names: Sequence[str] | None = None,
    min_precision: float = DEFAULT_MIN_PRECISION,
    on_learnt: Callable[[LearntKeyword], None] | None = None,
) -> tuple[list[LearntKeyword], list[Suggestion]]:
    """For the photos ``paths`` (path -> content), the keywords they probably carry and do not
    yet, from the keywords whose estimated precision is at least ``min_precision``; most probable
    first within each photo."""
    learnt, data, keywords = learn_keywords(library, score_key, names)
    rejections = library.keyword_rejections()
    index = {c: i for i, c in enumerate(data.contents)}
    out: list[Suggestion] = []
    for model in learnt:
        if on_learnt is not None:
            on_learnt(model)
        if model.calibration is None or (model.estimated_precision or 0.0) < min_precision:
            continue
        p = probabilities(model, data)
        likely = {data.contents[i] for i in np.flatnonzero(p >= model.cut)}  # NaN: never
        likely -= rejections.get(model.keyword, set())
        for path, content in paths.items():
            if content in likely and model.keyword not in keywords.get(content, ()):
                out.append(Suggestion(path, model.keyword, float(p[index[content]]), content))
    out.sort(key=lambda s: (s.path, -s.probability, s.keyword))
    return learnt, out


def plan_accepted(
    accepted: Sequence[Suggestion], naming: str = "jpg.xmp"
) -> list[SidecarPlan | SidecarError]:
    """One plan per sidecar that writes the accepted suggestions' keywords under the person's
    own hierarchy (photos sharing a ``photo.xmp`` sidecar share a plan); a bad sidecar is its
    item's error."""
    groups: dict[str, tuple[str, list[str]]] = {}
    out: list[SidecarPlan | SidecarError] = []
    for s in accepted:
        try:
            where = str(sidecar_path(s.path, naming))
        except SidecarError as exc:
            out.append(exc)
            continue
        groups.setdefault(where, (s.path, []))[1].append(s.keyword)
    for photo, names in groups.values():
        out.append(per_item(photo, functools.partial(plan_keywords, photo, names, naming)))
    return out
