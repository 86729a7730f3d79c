"""What the grid shows and in what order: the filter rule and the sort keys, as plain values.

Qt-free (the grid model applies them; tests property-test them without a QApplication).

**The one place that composes filter predicates.** ``FilterState`` holds every criterion the
person set; ``RULES`` turns each criterion into a predicate over a ``Photo`` (or ``None`` when the
criterion is not set); ``compile_filter`` ANDs them. A new criterion (a star rating, a pick flag)
is one field (or one ``extra`` key) plus one rule appended to ``RULES`` with ``add_rule``.

The tag rule, said once (the filter bar's tooltip says the same):

- a photo *carries* a tag by the store's rule (``tag_score``: a person's label first, then the
  tag's calibration, else its score reaching the threshold);
- AND chips: the photo carries every one of them, each at the minimum score or more;
- OR chips: the photo carries at least one of them at the minimum score or more;
- NOT chips: the photo carries none of them (at its threshold: the minimum score never lets a
  photo that carries a NOT tag through);
- the minimum score with no AND / OR chip (and no search): the photo carries *some* tag at the
  minimum score or more; with a search, it applies to the search's match score.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from blipdesk.core.files import Photo
from blipdesk.domain import Tag

MODES = ("and", "or", "not")

TagScore = Callable[[str, Tag], "float | None"]


@dataclass(frozen=True)
class FilterState:
    """Tag chips (tag name, "and" | "or" | "not"), a minimum score, a search ranking, and the
    photo's own facts: date range, file types, folder."""

    chips: tuple[tuple[str, str], ...] = ()  # (tag name, mode)
    min_score: float = 0.0
    # The search's photos, path -> order (higher first). The best candidates are checked by ITM
    # while the ranking shows: ``search_itm`` holds their match probability (shown, and what the
    # minimum score applies to); the others are ordered by ITC cosine only.
    search: Mapping[str, float] | None = field(default=None, compare=False)
    search_text: str = ""
    search_itm: Mapping[str, float] = field(default_factory=dict, compare=False)
    date_from: float | None = None  # timestamps (date taken, else modified), inclusive
    date_to: float | None = None  # exclusive
    kinds: tuple[str, ...] = ()  # file suffixes (".jpg"); empty: every type
    folder: str | None = None  # only photos directly in this folder
    # Criteria added by other features (a rating, a flag): name -> value, read by their rules.
    extra: tuple[tuple[str, object], ...] = ()

    @property
    def active(self) -> bool:
        return (
            bool(self.chips)
            or self.search is not None
            or self.min_score > 0
            or self.facts_active
            or bool(self.extra)
        )

    @property
    def facts_active(self) -> bool:
        return (
            self.date_from is not None
            or self.date_to is not None
            or bool(self.kinds)
            or self.folder is not None
        )


@dataclass(frozen=True)
class SortState:
    key: str = "name"  # one of SORT_KEYS
    tag: str | None = None  # the tag of "score"
    descending: bool = False


# key -> what the sort box says; "score" is offered once per tag ("Score: cat").
SORT_KEYS = {
    "name": "Name",
    "date": "Date taken",
    "size": "File size",
    "folder": "Folder",
    "search": "Search match",
    "score": "Score",
}


@dataclass(frozen=True)
class FilterContext:
    """What the rules read besides the state: the tags by name, a photo's tag score, and
    whether a photo carries a tag by the store's rule (a person's label first, then the tag's
    calibration, else its threshold); without ``carries``, the score reaching the threshold."""

    tags: Mapping[str, Tag]
    tag_score: TagScore
    carries: Callable[[str, Tag], bool] | None = None

    def carried(self, path: str, tag: Tag, at_least: float = 0.0) -> bool:
        if self.carries is None:
            return _carries(self.tag_score(path, tag), tag, at_least)
        if not self.carries(path, tag):
            return False
        # A labelled photo carries its tag whatever its score; the minimum score still applies
        # (the score is read only then: this runs per photo and tag on every refilter).
        return at_least <= 0 or (self.tag_score(path, tag) or 0.0) >= at_least


Predicate = Callable[[Photo], bool]
Rule = Callable[[FilterState, FilterContext], "Predicate | None"]


def _carries(score: float | None, tag: Tag, at_least: float = 0.0) -> bool:
    return score is not None and score >= tag.threshold and score >= at_least


def search_rule(state: FilterState, ctx: FilterContext) -> Predicate | None:
    if state.search is None:
        return None
    ranked, itm, low = state.search, state.search_itm, state.min_score

    def accept(photo: Photo) -> bool:
        if photo.path not in ranked:
            return False
        if low > 0:
            score = itm.get(photo.path)
            return score is not None and score >= low
        return True

    return accept


def tag_rule(state: FilterState, ctx: FilterContext) -> Predicate | None:
    chips = [(ctx.tags[n], m) for n, m in state.chips if n in ctx.tags]  # unknown: ignored
    ands = [t for t, m in chips if m == "and"]
    ors = [t for t, m in chips if m == "or"]
    nots = [t for t, m in chips if m == "not"]
    low = state.min_score
    any_tag = low > 0 and not ands and not ors and state.search is None
    if not chips and not any_tag:
        return None
    everything = list(ctx.tags.values())
    carried = ctx.carried

    def accept(photo: Photo) -> bool:
        p = photo.path
        if any(carried(p, t) for t in nots):
            return False
        if not all(carried(p, t, low) for t in ands):
            return False
        if ors and not any(carried(p, t, low) for t in ors):
            return False
        if any_tag:
            return any(carried(p, t, low) for t in everything if t not in nots)
        return True

    return accept


def date_rule(state: FilterState, ctx: FilterContext) -> Predicate | None:
    lo, hi = state.date_from, state.date_to
    if lo is None and hi is None:
        return None
    return lambda p: (lo is None or p.date >= lo) and (hi is None or p.date < hi)


def kind_rule(state: FilterState, ctx: FilterContext) -> Predicate | None:
    if not state.kinds:
        return None
    kinds = {k.lower() for k in state.kinds}
    return lambda p: file_kind(p.name) in kinds


def folder_rule(state: FilterState, ctx: FilterContext) -> Predicate | None:
    if state.folder is None:
        return None
    folder = state.folder.rstrip(os.sep) or os.sep
    return lambda p: os.path.dirname(p.path) == folder


RULES: list[Rule] = [search_rule, tag_rule, date_rule, kind_rule, folder_rule]


def add_rule(rule: Rule) -> None:
    """Another feature's criterion (read from ``FilterState.extra``), ANDed with the rest."""
    if rule not in RULES:
        RULES.append(rule)


def compile_filter(state: FilterState, ctx: FilterContext) -> Predicate:
    """The one predicate the grid applies: every set criterion's rule, ANDed."""
    predicates = [p for rule in RULES if (p := rule(state, ctx)) is not None]
    if not predicates:
        return lambda _photo: True
    if len(predicates) == 1:
        return predicates[0]
    return lambda photo: all(p(photo) for p in predicates)


def accepts(
    state: FilterState,
    tags: Mapping[str, Tag],
    tag_score: TagScore,
    photo: Photo,
    carries: Callable[[str, Tag], bool] | None = None,
) -> bool:
    """Whether the grid shows ``photo`` under ``state`` (see the module's docstring)."""
    return compile_filter(state, FilterContext(tags, tag_score, carries))(photo)


def file_kind(name: str) -> str:
    """The file type a filter names: the suffix, lower case, with ``.jpeg``/``.jpe``/``.jfif``
    as ``.jpg`` and ``.tif`` as ``.tiff``."""
    suffix = os.path.splitext(name)[1].lower()
    return {".jpeg": ".jpg", ".jpe": ".jpg", ".jfif": ".jpg", ".tif": ".tiff"}.get(suffix, suffix)


def describe_chips(chips: Sequence[tuple[str, str]], min_score: float = 0.0) -> str:
    """The chips as they are evaluated: "all of (astronaut) · any of (cat, dog) · none of (car)",
    and where the minimum score applies."""
    groups = []
    for mode, word in (("and", "all of"), ("or", "any of"), ("not", "none of")):
        names = [n for n, m in chips if m == mode]
        if names:
            groups.append(f"{word} ({', '.join(names)})")
    text = " · ".join(groups)
    if min_score > 0:
        where = "their scores" if any(m != "not" for _, m in chips) else "any tag"
        text = f"{text} · {where} ≥ {min_score:.2f}" if text else f"any tag ≥ {min_score:.2f}"
    return text


def sort_function(
    sort: SortState,
    state: FilterState,
    tags: Mapping[str, Tag],
    tag_score: TagScore,
) -> tuple[Callable[[Photo], object], bool]:
    """``(key, reverse)`` for ``sorted``; ties break by name. ``descending`` flips each key's
    natural order (``direction_text`` names both): names and folders A→Z, dates oldest first,
    sizes smallest first, scores and search matches best first. A "search" sort with no search
    shown sorts by name."""
    key = sort.key
    if key == "search" and state.search is not None:
        search = state.search
        return (lambda p: (-search.get(p.path, -1.0), p.name.lower())), sort.descending
    if key == "date":
        return (lambda p: (p.date, p.name.lower())), sort.descending
    if key == "size":
        return (lambda p: (p.size, p.name.lower())), sort.descending
    if key == "folder":
        return (lambda p: (os.path.dirname(p.path).lower(), p.name.lower())), sort.descending
    if key == "score" and sort.tag is not None and sort.tag in tags:
        tag = tags[sort.tag]

        def by_score(p: Photo) -> tuple[float, str]:
            score = tag_score(p.path, tag)
            return (-1.0 if score is None else score, p.name.lower())

        return by_score, not sort.descending  # best first unless asked otherwise
    return (lambda p: (p.name.lower(), p.path)), sort.descending


NATURAL = {
    "name": ("A → Z", "Z → A"),
    "folder": ("A → Z", "Z → A"),
    "date": ("Oldest first", "Newest first"),
    "size": ("Smallest first", "Largest first"),
    "score": ("Best first", "Worst first"),
    "search": ("Best first", "Worst first"),
}


def direction_text(sort: SortState) -> str:
    """What the direction button says for this sort: "Newest first", "Z → A"…"""
    natural, flipped = NATURAL.get(sort.key, NATURAL["name"])
    return flipped if sort.descending else natural
