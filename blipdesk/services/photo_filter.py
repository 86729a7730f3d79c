"""What the grid shows and in what order: the filter and the sort keys, as plain values.

Qt-free: the window's grid model, smart views and the command line all apply the one filter
through this module, and tests property-test it without a QApplication.

**The one filter mechanism.** A filter is a value, ``FilterState``: every criterion a person can
set (tag chips, a minimum score, dates, file types, a folder, a star rating, pick flag or colour
label, their
own yes / no labels, duplicates only, a file name) is one of its fields. ``RULES`` turns each set
criterion into a predicate over a ``Photo`` (pure data in, predicate out); ``compile_filter`` ANDs
them. What a rule reads besides the photo (tag scores, ratings, labels, copies) comes in a
``FilterContext`` of lookups, so the window (its in-memory board) and the command line (the
library) give the same answers. ``filter_to_json`` / ``filter_from_json`` are the value's saved
form (``smart-views.json``), ``parse_filter`` / ``format_filter`` its form in words (the CLI's
``--filter``). A new criterion is one field, one rule, and its JSON and words, all here.

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

import json
import math
import os
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from blipdesk.core.exif import NO_FACTS, ShotFacts
from blipdesk.core.files import Photo
from blipdesk.domain import Tag
from blipdesk.infra.errors import UserError
from blipdesk.services.ratings import COLOURS, FLAGS, NO_COLOUR, Rating, RatingFilter

MODES = ("and", "or", "not")

TagScore = Callable[[str, Tag], "float | None"]

# A person's own yes / no labels (any tag): the key a filter keeps -> the test of a photo's
# labels (tag name -> yes / no). Teach > Show only offers them.
LABELS: dict[str, Callable[[Mapping[str, bool]], bool]] = {
    "labelled": lambda mine: bool(mine),
    "confirmed": lambda mine: True in mine.values(),
    "rejected": lambda mine: False in mine.values(),
    "unlabelled": lambda mine: not mine,
}
LABEL_TEXT = {
    "labelled": "labelled by me",
    "confirmed": "✓ confirmed by me",
    "rejected": "✗ rejected by me",
    "unlabelled": "not labelled",
}
ANY_RATING = RatingFilter()  # frozen: one value every filter shares
MAX_NAME = 200  # a file-name criterion longer than this is no file name
FIRST_DAY, LAST_DAY = -2208988800.0, 253402214400.0  # 1900-01-01 .. 9999-12-31 (UTC)


@dataclass(frozen=True)
class FilterState:
    """Every criterion of the grid's filter. Tag chips (tag name, "and" | "or" | "not"), a
    minimum score and a search ranking; the photo's own facts (date range, file types, folder,
    file name); what a person said of it (a star rating or flag, yes / no labels); and whether
    another file holds the same photo. A field at its default filters nothing."""

    chips: tuple[tuple[str, str], ...] = ()  # (tag name, mode)
    min_score: float = 0.0
    # The search's photos, path -> order (higher first). The best candidates are checked by ITM
    # while the ranking shows: ``search_itm`` holds their match probability (shown, and what the
    # minimum score applies to); the others are ordered by ITC cosine only. A search is run
    # again, never saved: these three are not part of the saved value.
    search: Mapping[str, float] | None = field(default=None, compare=False)
    search_text: str = ""
    search_itm: Mapping[str, float] = field(default_factory=dict, compare=False)
    date_from: float | None = None  # timestamps (date taken, else modified), inclusive
    date_to: float | None = None  # exclusive
    kinds: tuple[str, ...] = ()  # file suffixes (".jpg"); empty: every type
    folder: str | None = None  # only photos directly in this folder
    rating: RatingFilter = ANY_RATING  # at least so many stars, a flag, colour labels
    labels: str | None = None  # one of LABELS: the person's own yes / no, any tag
    duplicates: bool = False  # only photos another file repeats (the same content)
    file_name: str = ""  # the file name holds this text (case ignored)
    # The metadata filter's columns (as Lightroom's): a photo whose EXIF value is one of these
    # (empty: any). Read by ``core/exif.shot_facts`` off the GUI thread (``FilterContext.facts``).
    cameras: tuple[str, ...] = ()
    lenses: tuple[str, ...] = ()
    isos: tuple[int, ...] = ()
    focals: tuple[float, ...] = ()  # mm, as recorded
    apertures: tuple[float, ...] = ()  # f-numbers

    @property
    def active(self) -> bool:
        return (
            bool(self.chips)
            or self.search is not None
            or self.min_score > 0
            or self.facts_active
            or bool(criteria(self))
        )

    @property
    def facts_active(self) -> bool:
        """Whether the "More filters" row (date, type, folder, camera, lens, ISO, focal length,
        aperture) filters anything."""
        return (
            self.date_from is not None
            or self.date_to is not None
            or bool(self.kinds)
            or self.folder is not None
            or self.shot_active
        )

    @property
    def shot_active(self) -> bool:
        """Whether a metadata column (camera, lens, ISO, focal length, aperture) filters."""
        return any(getattr(self, key) for key in SHOT_KEYS)


# The metadata columns: FilterState field -> (ShotFacts field, the filter word, what the column
# is called, how a value reads).
SHOT_KEYS = ("cameras", "lenses", "isos", "focals", "apertures")
SHOT_COLUMNS: dict[str, tuple[str, str, str, Callable[[Any], str]]] = {
    "cameras": ("camera", "camera", "Camera", str),
    "lenses": ("lens", "lens", "Lens", str),
    "isos": ("iso", "iso", "ISO", lambda v: f"ISO {v}"),
    "focals": ("focal", "focal", "Focal length", lambda v: f"{v:g} mm"),
    "apertures": ("aperture", "aperture", "Aperture", lambda v: f"f/{v:g}"),
}


@dataclass(frozen=True)
class FolderFacts:
    """What a folder's photos offer the filter: per metadata column, value -> photos; per day
    taken (the file's day when the photo does not say), photos; per file type (``file_kind``)
    and per folder, photos."""

    columns: Mapping[str, Mapping[Any, int]] = field(default_factory=dict)
    days: Mapping[date, int] = field(default_factory=dict)
    kinds: Mapping[str, int] = field(default_factory=dict)
    folders: Mapping[str, int] = field(default_factory=dict)


def folder_facts(photos: Sequence[Photo], facts: Callable[[str], ShotFacts]) -> FolderFacts:
    """Count what ``photos`` offer (run off the GUI thread: a pass over every photo)."""
    columns: dict[str, dict[Any, int]] = {key: {} for key in SHOT_KEYS}
    days: dict[date, int] = {}
    kinds: dict[str, int] = {}
    folders: dict[str, int] = {}
    for photo in photos:
        kind, folder = file_kind(photo.name), os.path.dirname(photo.path)
        kinds[kind] = kinds.get(kind, 0) + 1
        folders[folder] = folders.get(folder, 0) + 1
        found = facts(photo.path)
        for key in SHOT_KEYS:
            value = shot_value(found, key)
            if value:
                counts = columns[key]
                counts[value] = counts.get(value, 0) + 1
        when = found.taken if found.taken is not None else photo.date
        try:
            day = datetime.fromtimestamp(when).date()
        except (OverflowError, OSError, ValueError):
            continue
        days[day] = days.get(day, 0) + 1
    return FolderFacts(columns, days, kinds, folders)


def shot_value(facts: ShotFacts, key: str) -> object:
    """The value of the metadata column ``key`` (a FilterState field) in ``facts`` (None or
    "" when the photo does not say)."""
    return getattr(facts, SHOT_COLUMNS[key][0])


# The criteria set outside the chips and the "More filters" row (a menu, a saved view, the
# command line), each shown as a chip of its own: key (a FilterState field) -> its wording.
CRITERIA: dict[str, Callable[[FilterState], str | None]] = {
    "rating": lambda s: s.rating.describe() if s.rating.active else None,
    "labels": lambda s: LABEL_TEXT.get(s.labels or ""),
    "duplicates": lambda s: "duplicates only" if s.duplicates else None,
    "file_name": lambda s: f"name has “{s.file_name}”" if s.file_name else None,
}


def criteria(state: FilterState) -> list[tuple[str, str]]:
    """The criteria of ``CRITERIA`` that ``state`` sets, as (key, what it keeps)."""
    return [(key, text) for key, say in CRITERIA.items() if (text := say(state)) is not None]


def without(state: FilterState, key: str) -> FilterState:
    """``state`` with the criterion ``key`` (a field) back at its default: it filters nothing."""
    defaults: dict[str, Any] = {f.name: f.default for f in fields(FilterState)}
    return replace(state, **{key: defaults[key]})


@dataclass(frozen=True)
class SortState:
    key: str = "name"  # one of SORT_KEYS
    tag: str | None = None  # the tag of "score"
    descending: bool = False


# key -> what the sort box says; "score" is offered once per tag ("Score: cat"). A colour
# label sort (issue 25 item 16) is one more key here, its rule in ``sort_function`` and its
# lookup a ``FilterContext`` field, as "rating" and "flag" are.
SORT_KEYS = {
    "name": "Name",
    "date": "Capture time",
    "size": "File size",
    "folder": "Folder",
    "rating": "Rating",
    "flag": "Pick flag",
    "search": "Search match",
    "score": "Score",
}


def _no_rating(_path: str) -> Rating | None:
    return None


def _no_labels(_path: str) -> Mapping[str, bool]:
    return {}


def _no_copies(_path: str) -> int:
    return 0


def _no_facts(_path: str) -> ShotFacts:
    return NO_FACTS


@dataclass(frozen=True)
class FilterContext:
    """What the rules read besides the state and the photo, by path: the tags by name, a
    photo's tag score, whether it carries a tag by the store's rule (a person's label first,
    then the tag's calibration, else its threshold; without ``carries``, the score reaching the
    threshold), its rating, its labels (tag -> yes / no), how many files hold its content, what
    its EXIF says (``ShotFacts``), and whether it lies under the top photo of a collapsed stack
    (a burst, in the window's grid)."""

    tags: Mapping[str, Tag]
    tag_score: TagScore
    carries: Callable[[str, Tag], bool] | None = None
    rating: Callable[[str], Rating | None] = _no_rating
    labels: Callable[[str], Mapping[str, bool]] = _no_labels
    copies: Callable[[str], int] = _no_copies
    stacked: Callable[[str], bool] | None = None
    facts: Callable[[str], ShotFacts] = _no_facts  # EXIF, read off the GUI thread

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


def rating_rule(state: FilterState, ctx: FilterContext) -> Predicate | None:
    """Stars and flags: ``ratings.RatingFilter``'s rule (an unrated photo has 0 stars, no flag)."""
    wanted, rating = state.rating, ctx.rating
    if not wanted.active:
        return None
    return lambda p: wanted.accepts(rating(p.path))


def label_rule(state: FilterState, ctx: FilterContext) -> Predicate | None:
    test, labels = LABELS.get(state.labels or ""), ctx.labels
    if test is None:
        return None
    return lambda p: test(labels(p.path))


def duplicate_rule(state: FilterState, ctx: FilterContext) -> Predicate | None:
    if not state.duplicates:
        return None
    copies = ctx.copies
    return lambda p: copies(p.path) >= 2


def name_rule(state: FilterState, ctx: FilterContext) -> Predicate | None:
    if not state.file_name:
        return None
    needle = state.file_name.casefold()
    return lambda p: needle in p.name.casefold()


def stack_rule(state: FilterState, ctx: FilterContext) -> Predicate | None:
    """A collapsed stack shows its top photo only (not a criterion: the grid's stacks)."""
    stacked = ctx.stacked
    if stacked is None:
        return None
    return lambda p: not stacked(p.path)


def shot_rule(state: FilterState, ctx: FilterContext) -> Predicate | None:
    """The metadata columns: each set column keeps the photos whose value is one of its own (a
    photo that does not say is not kept); the columns are ANDed."""
    wanted = [(key, set(getattr(state, key))) for key in SHOT_KEYS if getattr(state, key)]
    if not wanted:
        return None
    facts = ctx.facts
    return lambda p: all(shot_value(facts(p.path), key) in values for key, values in wanted)


RULES: tuple[Rule, ...] = (
    search_rule,
    tag_rule,
    date_rule,
    kind_rule,
    folder_rule,
    rating_rule,
    label_rule,
    duplicate_rule,
    name_rule,
    stack_rule,
    shot_rule,
)


def compile_filter(state: FilterState, ctx: FilterContext) -> Predicate:
    """The one predicate the grid and the command line apply: every set criterion's rule, ANDed."""
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


# ----------------------------------------------------------------------------- saved form (JSON)


def filter_to_json(state: FilterState) -> dict[str, Any]:
    """The filter as JSON values (never its search: a search is run again, not saved)."""
    return {
        "chips": [list(c) for c in state.chips],
        "min_score": state.min_score,
        "date_from": state.date_from,
        "date_to": state.date_to,
        "kinds": list(state.kinds),
        "folder": state.folder,
        "rating": {
            "min_stars": state.rating.min_stars,
            "flag": state.rating.flag,
            "colours": list(state.rating.colours),
        },
        "labels": state.labels,
        "duplicates": state.duplicates,
        "file_name": state.file_name,
        **{key: list(getattr(state, key)) for key in SHOT_KEYS},
    }


def filter_from_json(item: Mapping[str, Any]) -> FilterState:
    """The filter of a JSON object written by ``filter_to_json`` (or by an older blipdesk: keys
    it lacks filter nothing, and its ``extra`` list is ignored). Read from files, so untrusted:
    odd entries are left out and values clamped; ValueError when a number is not one."""

    def number(key: str) -> float | None:
        value = item.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise ValueError(f"{key} is not a number")
        return float(value)

    def moment(key: str) -> float | None:  # a day the date boxes can show, else no bound
        value = number(key)
        return value if value is not None and FIRST_DAY <= value <= LAST_DAY else None

    raw_chips = item.get("chips", [])
    chips = tuple(
        (str(c[0]), str(c[1]))
        for c in (raw_chips if isinstance(raw_chips, list) else [])
        if isinstance(c, list) and len(c) == 2 and isinstance(c[0], str) and c[1] in MODES
    )
    raw_kinds = item.get("kinds", [])
    kinds = tuple(
        k for k in (raw_kinds if isinstance(raw_kinds, list) else []) if isinstance(k, str)
    )
    folder = item.get("folder")
    rating = item.get("rating")
    rating = rating if isinstance(rating, dict) else {}
    stars = rating.get("min_stars", 0)
    stars = 0 if isinstance(stars, bool) or not isinstance(stars, int) else min(5, max(0, stars))
    flag = rating.get("flag") if rating.get("flag") in FLAGS else None
    raw_colours = rating.get("colours", [])
    colours = tuple(
        dict.fromkeys(
            c
            for c in (raw_colours if isinstance(raw_colours, list) else [])
            if isinstance(c, str) and c in (*COLOURS, NO_COLOUR)
        )
    )
    labels = item.get("labels")
    name = item.get("file_name")

    def column(key: str, kind: type) -> tuple[Any, ...]:
        raw = item.get(key, [])
        values = raw if isinstance(raw, list) else []
        if kind is str:
            return tuple(v[:MAX_NAME] for v in values if isinstance(v, str) and v)
        numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        return tuple(kind(v) for v in numbers if math.isfinite(v) and v > 0)

    return FilterState(
        chips=chips,
        min_score=min(1.0, max(0.0, number("min_score") or 0.0)),
        date_from=moment("date_from"),
        date_to=moment("date_to"),
        kinds=kinds,
        folder=folder if isinstance(folder, str) else None,
        rating=RatingFilter(stars, flag, colours),
        labels=labels if isinstance(labels, str) and labels in LABELS else None,
        duplicates=item.get("duplicates") is True,
        file_name=name[:MAX_NAME] if isinstance(name, str) else "",
        cameras=column("cameras", str),
        lenses=column("lenses", str),
        isos=column("isos", int),
        focals=column("focals", float),
        apertures=column("apertures", float),
    )


def sort_to_json(sort: SortState) -> dict[str, Any]:
    return {"key": sort.key, "tag": sort.tag, "descending": sort.descending}


def sort_from_json(item: object) -> SortState:
    """The sort of ``sort_to_json``'s object; read from files, so untrusted: an unknown key sorts
    by name."""
    sort: Mapping[str, Any] = item if isinstance(item, dict) else {}
    key = str(sort.get("key")) if sort.get("key") in SORT_KEYS else "name"
    tag = sort.get("tag") if isinstance(sort.get("tag"), str) else None
    return SortState(key, tag, bool(sort.get("descending", False)))


# ----------------------------------------------------------------------------- words (the CLI's)

WORDS_HELP = (
    "words, each KEY:VALUE, ANDed: all:TAG (also tag:TAG), any:TAG, none:TAG, min-score:0.5, "
    "stars:3 (at least), flag:picked|rejected|unflagged, colour:red|yellow|green|blue|purple|none "
    "(any of those given), labels:labelled|confirmed|rejected|"
    "unlabelled, duplicates, kind:jpg, from:2024-01-31, to:2024-12-31 (both days included), "
    "folder:PATH (photos directly in it), name:TEXT (in the file name), camera:TEXT, lens:TEXT, "
    "iso:200, focal:50 (mm), aperture:2.8 (a column repeated: any of its values); quote a value "
    "with spaces (all:'a dog', camera:'Canon EOS R5'); or a smart view's filter as a JSON object"
)
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_CHIP_WORDS = {"all": "and", "tag": "and", "any": "or", "none": "not", "not": "not"}
_MODE_WORDS = {"and": "all", "or": "any", "not": "none"}


def parse_filter(text: str, base: FilterState | None = None) -> FilterState:
    """A filter from words (``WORDS_HELP``) or from a JSON object (``filter_from_json``'s form).
    Each word sets its criterion on ``base`` (tag words add chips; kinds add up). UserError,
    saying which word and why, when the text is not a filter."""
    state = base or FilterState()
    if text.lstrip().startswith("{"):
        try:
            item = json.loads(text)
            if not isinstance(item, dict):
                raise ValueError("not a JSON object")
            return filter_from_json(item)
        except (ValueError, RecursionError) as exc:
            raise UserError(f"The filter is not a filter's JSON object ({exc}).") from None
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise UserError(f"The filter {text!r} cannot be read: {exc}.") from None
    for word in words:
        state = _word(state, word)
    return state


def _word(state: FilterState, word: str) -> FilterState:
    key, colon, value = word.partition(":")
    key = key.lower()
    if key == "duplicates" and (not colon or value.lower() in ("yes", "no")):
        return replace(state, duplicates=not colon or value.lower() == "yes")
    if not colon or not value:
        raise UserError(f"The filter word {word!r} is not KEY:VALUE; a filter is {WORDS_HELP}.")
    try:
        if key in _CHIP_WORDS:
            chips = [c for c in state.chips if c[0] != value]
            return replace(state, chips=(*chips, (value, _CHIP_WORDS[key])))
        if key == "min-score":
            score = float(value)
            if not 0.0 <= score <= 1.0:
                raise ValueError("not between 0 and 1")
            return replace(state, min_score=score)
        if key == "stars":
            return replace(state, rating=replace(state.rating, min_stars=_stars(value)))
        if key == "flag":
            if value not in FLAGS:
                raise ValueError(f"one of {', '.join(FLAGS)}")
            return replace(state, rating=replace(state.rating, flag=value))
        if key in ("colour", "color"):
            colour = value.lower()
            if colour not in (*COLOURS, NO_COLOUR):
                raise ValueError(f"one of {', '.join((*COLOURS, NO_COLOUR))}")
            colours = (*(c for c in state.rating.colours if c != colour), colour)
            return replace(state, rating=replace(state.rating, colours=colours))
        if key == "labels":
            if value not in LABELS:
                raise ValueError(f"one of {', '.join(LABELS)}")
            return replace(state, labels=value)
        if key == "kind":
            kind = file_kind("x." + value.lstrip("."))
            return replace(state, kinds=(*(k for k in state.kinds if k != kind), kind))
        if key in ("from", "to"):
            when = _day(value, key == "to")
            if key == "from":
                return replace(state, date_from=when)
            return replace(state, date_to=when)
        if key == "folder":
            return replace(state, folder=os.path.abspath(os.path.expanduser(value)))
        if key == "name":
            if len(value) > MAX_NAME:
                raise ValueError(f"longer than {MAX_NAME} characters")
            return replace(state, file_name=value)
        if key in _SHOT_WORDS:
            field_name = _SHOT_WORDS[key]
            parsed = _shot_word(field_name, value)
            kept = tuple(v for v in getattr(state, field_name) if v != parsed)
            changes: dict[str, Any] = {field_name: (*kept, parsed)}
            return replace(state, **changes)
    except ValueError as exc:
        raise UserError(f"The filter word {word!r} is not right: {exc}.") from None
    raise UserError(f"The filter word {word!r} names no criterion; a filter is {WORDS_HELP}.")


_SHOT_WORDS = {word: key for key, (_f, word, _c, _t) in SHOT_COLUMNS.items()}


def _shot_word(key: str, value: str) -> object:
    if key in ("cameras", "lenses"):
        if len(value) > MAX_NAME:
            raise ValueError(f"longer than {MAX_NAME} characters")
        return value
    text = value.lower().removeprefix("f/").removeprefix("iso").removesuffix("mm").strip()
    number = float(text)
    if not math.isfinite(number) or number <= 0:
        raise ValueError("not a positive number")
    if key == "isos":
        if number != int(number):
            raise ValueError("an ISO is a whole number")
        return int(number)
    return round(number, 1)


def _stars(value: str) -> int:
    stars = int(value)
    if not 0 <= stars <= 5:
        raise ValueError("stars go from 0 to 5")
    return stars


def _day(value: str, end: bool) -> float:
    """A day (YYYY-MM-DD, local time: its first moment, or for ``to`` the next day's, the bound
    being exclusive) or a timestamp, as the date filter keeps it."""
    try:
        if not _DAY.fullmatch(value):  # fromisoformat would take "20240301" for a day too
            raise ValueError(value)
        day = date.fromisoformat(value)
    except ValueError:
        try:
            stamp = float(value)
        except ValueError:
            raise ValueError("a day is written YYYY-MM-DD") from None
        if not math.isfinite(stamp):
            raise ValueError("not a time") from None
        return stamp
    return datetime.combine(day + timedelta(days=int(end)), time()).timestamp()


def _day_text(stamp: float, end: bool) -> str:
    try:
        moment = datetime.fromtimestamp(stamp)
    except (OverflowError, OSError, ValueError):
        return repr(stamp)
    if moment.time() != time():
        return repr(stamp)
    return (moment.date() - timedelta(days=int(end))).isoformat()


def format_filter(state: FilterState) -> str:
    """The filter in words: what ``parse_filter`` reads back as the same filter."""
    words = [f"{_MODE_WORDS[m]}:{n}" for n, m in state.chips]
    if state.min_score > 0:
        words.append(f"min-score:{state.min_score!r}")
    if state.rating.min_stars:
        words.append(f"stars:{state.rating.min_stars}")
    if state.rating.flag:
        words.append(f"flag:{state.rating.flag}")
    words += [f"colour:{c}" for c in state.rating.colours]
    if state.labels:
        words.append(f"labels:{state.labels}")
    if state.duplicates:
        words.append("duplicates")
    words += [f"kind:{k.lstrip('.')}" for k in state.kinds]
    if state.date_from is not None:
        words.append(f"from:{_day_text(state.date_from, False)}")
    if state.date_to is not None:
        words.append(f"to:{_day_text(state.date_to, True)}")
    if state.folder is not None:
        words.append(f"folder:{state.folder}")
    if state.file_name:
        words.append(f"name:{state.file_name}")
    for key in SHOT_KEYS:
        word = SHOT_COLUMNS[key][1]
        words += [
            f"{word}:{v:g}" if isinstance(v, float) else f"{word}:{v}" for v in getattr(state, key)
        ]
    return " ".join(shlex.quote(w) for w in words)


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
    rating: Callable[[str], Rating | None] = _no_rating,
) -> tuple[Callable[[Photo], object], bool]:
    """``(key, reverse)`` for ``sorted``; ties break by name. ``descending`` flips each key's
    natural order (``direction_text`` names both): names and folders A→Z, capture times oldest
    first (to the second; the file's time when the photo does not say), sizes smallest first,
    ratings most stars first, flags picked first (then unflagged, then rejected), scores and
    search matches best first. A "search" sort with no search shown sorts by name."""
    key = sort.key
    if key in ("rating", "flag"):

        def by_rating(p: Photo) -> tuple[int, int, str]:
            r = rating(p.path)
            stars, flag = (0, 0) if r is None else (r.stars, r.flag)
            first, second = (flag, stars) if key == "flag" else (stars, flag)
            return (-first, -second, p.name.lower())

        return by_rating, sort.descending
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
    "rating": ("Most stars first", "Fewest stars first"),
    "flag": ("Picked first", "Rejected first"),
    "score": ("Best first", "Worst first"),
    "search": ("Best first", "Worst first"),
}


def direction_text(sort: SortState) -> str:
    """What the direction button says for this sort: "Newest first", "Z → A"…"""
    natural, flipped = NATURAL.get(sort.key, NATURAL["name"])
    return flipped if sort.descending else natural
