"""Smart views: a named filter and sort, kept in ``smart-views.json`` in the data folder.

A view keeps the whole filter (``photo_filter.filter_to_json``: chips, minimum score, dates,
types, folder, rating, labels, duplicates, file name) and the sort; never a search's results (a
search is run again, not saved). A view is one flat JSON object: its name, the filter's keys and
"sort", so files written before a criterion existed still load (its key missing: it filters
nothing). Every field is checked by type and range when read (``check_view``); a damaged file is
set aside whole as ``smart-views.json.bad`` (``.2.bad``… beside earlier ones: ``json_file``'s
one way, as ``settings.json``'s) and reported, never lost silently, and never stops the window.
Qt-free; written with the one atomic writer.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blipdesk.infra.atomic import write_atomic
from blipdesk.infra.display import display_path
from blipdesk.infra.errors import UserError
from blipdesk.infra.json_file import Damaged, load_json, set_aside
from blipdesk.services.photo_filter import (
    LABELS,
    MAX_NAME,
    MODES,
    SORT_KEYS,
    FilterState,
    SortState,
    filter_from_json,
    filter_to_json,
    parse_filter,
    sort_from_json,
    sort_to_json,
)
from blipdesk.services.ratings import FLAGS

log = logging.getLogger(__name__)

MAX_BYTES = 1 << 20
FILE_NAME = "smart-views.json"


@dataclass(frozen=True)
class SmartView:
    name: str
    filter: FilterState
    sort: SortState


def to_json(view: SmartView) -> dict[str, Any]:
    return {"name": view.name, **filter_to_json(view.filter), "sort": sort_to_json(view.sort)}


def from_json(item: Any) -> SmartView:
    """One view from its JSON, every field checked by type and range (``check_view``);
    ValueError, naming the field, when it is not one."""
    check_view(item)
    return SmartView(item["name"], filter_from_json(item), sort_from_json(item.get("sort")))


MAX_VIEW_NAME = 200


def check_view(item: Any) -> None:
    """ValueError, naming the field, unless ``item`` is a view as ``to_json`` writes it: each key
    present has the type and range blipdesk writes (a key missing is a criterion an older
    blipdesk did not have: it filters nothing; keys it does not know are a newer one's)."""
    if not isinstance(item, dict):
        raise ValueError("a view that is not a JSON object")
    name = item.get("name")
    if not isinstance(name, str) or not 0 < len(name) <= MAX_VIEW_NAME:
        raise ValueError("a view without a name")

    def wrong(key: str) -> ValueError:
        return ValueError(f"view {name!r}: {key} is not what blipdesk writes")

    def number(key: str, value: Any, low: float, high: float) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise wrong(key)
        if not low <= float(value) <= high:  # float(10**400) raises OverflowError: damaged
            raise wrong(key)

    def text(key: str, value: Any, limit: int = 4096) -> None:
        if not isinstance(value, str) or len(value) > limit:
            raise wrong(key)

    for key, value in item.items():
        if key == "chips":
            if not isinstance(value, list) or not all(
                isinstance(c, list) and len(c) == 2 and isinstance(c[0], str) and c[1] in MODES
                for c in value
            ):
                raise wrong(key)
        elif key == "min_score":
            number(key, value, 0.0, 1.0)
        elif key in ("date_from", "date_to"):
            if value is not None:
                number(key, value, -math.inf, math.inf)
                if not math.isfinite(value):
                    raise wrong(key)
        elif key == "kinds":
            if not isinstance(value, list):
                raise wrong(key)
            for kind in value:
                text(key, kind, 32)
        elif key == "folder":
            if value is not None:
                text(key, value)
        elif key == "rating":
            if not isinstance(value, dict):
                raise wrong(key)
            if "min_stars" in value:
                stars = value["min_stars"]
                if type(stars) is not int or not 0 <= stars <= 5:
                    raise wrong("rating")
            flag = value.get("flag")
            if flag is not None and (not isinstance(flag, str) or flag not in FLAGS):
                raise wrong("rating")
        elif key == "labels":
            if value is not None and (not isinstance(value, str) or value not in LABELS):
                raise wrong(key)
        elif key == "duplicates":
            if not isinstance(value, bool):
                raise wrong(key)
        elif key == "file_name":
            text(key, value, MAX_NAME)
        elif key == "sort":
            if not isinstance(value, dict):
                raise wrong(key)
            sort_key, tag = value.get("key", "name"), value.get("tag")
            if not isinstance(sort_key, str) or sort_key not in SORT_KEYS:
                raise wrong("sort")
            if tag is not None and not isinstance(tag, str):
                raise wrong("sort")
            if not isinstance(value.get("descending", False), bool):  # "false" is not true
                raise wrong("sort")


class SmartViews:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.views: list[SmartView] = []
        self.problem: str | None = None

    def load(self) -> list[SmartView]:
        """The views in the file. A damaged one (not JSON, or any field of any view not what
        blipdesk writes) is set aside whole, never over an earlier copy, and ``problem`` says
        so; the window starts with no views. One that cannot be read is left where it is."""
        self.problem, self.views = None, []
        try:
            views = read_views(self.path)
        except FileNotFoundError:
            return []
        except Damaged as exc:  # what happened first: a status bar cuts a long line's end
            try:
                kept = set_aside(self.path, ".bad")
                done = f"The smart views were set aside as {kept.name}"
            except OSError as err:
                done = f"The smart views were left in place ({err.strerror or err})"
            where = display_path(self.path)
            self.problem = f"{done}: {where} was damaged ({exc}); no views are shown."
            log.warning(self.problem)
            return []
        except OSError as exc:
            self.problem = (
                f"The smart views in {self.path} could not be read ({exc.strerror or exc})"
            )
            log.warning(self.problem)
            return []
        self.views = list({v.name: v for v in views}.values())
        return list(self.views)

    def with_view(self, view: SmartView) -> list[SmartView]:
        """The views with ``view`` added, or replacing the one of the same name."""
        return [*(v for v in self.views if v.name != view.name), view]

    def without(self, name: str) -> list[SmartView]:
        return [v for v in self.views if v.name != name]

    def save(self, views: list[SmartView]) -> None:
        write_views(self.path, views)
        self.views = list(views)


def read_views(path: Path) -> list[SmartView]:
    """The views in ``path``, each checked whole (FileNotFoundError; OSError: it cannot be
    read; ``Damaged``: it is not what blipdesk writes; see ``SmartViews.load``, which sets a
    damaged file aside)."""
    return load_json(path, MAX_BYTES, _views)


def _views(data: Any) -> list[SmartView]:
    if not isinstance(data, list):
        raise ValueError("not a list of views")
    return [from_json(item) for item in data]


def write_views(path: Path, views: list[SmartView]) -> None:
    """The views as the whole of ``path``, atomically (any thread: the window writes off the
    GUI thread)."""
    text = json.dumps([to_json(v) for v in views], indent=1, ensure_ascii=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text.encode("utf-8"))


def filter_option(text: str, views_file: Path) -> FilterState:
    """The command line's ``--filter``: words or a JSON object (``photo_filter.parse_filter``),
    where a word ``view:NAME`` starts from the smart view of that name saved in the window
    (``views_file``) and the other words add to it. UserError when it names no saved view or is
    not a filter."""
    import shlex

    try:
        words = shlex.split(text) if not text.lstrip().startswith("{") else []
    except ValueError:
        words = []  # parse_filter says what is wrong with it
    named = [w.partition(":")[2] for w in words if w.lower().startswith("view:")]
    if not named:
        return parse_filter(text)
    if len(named) > 1:
        raise UserError("The filter names more than one smart view; name one.")
    try:
        views = {v.name: v for v in read_views(views_file)}
    except FileNotFoundError:
        views = {}
    except (OSError, ValueError) as exc:  # the window sets a damaged one aside, not this
        raise UserError(
            f"The smart views in {display_path(views_file)} could not be read ({exc})."
        ) from None
    view = views.get(named[0])
    if view is None:
        known = ", ".join(sorted(views)) or "none saved yet"
        raise UserError(f"There is no smart view called {named[0]!r} ({known}).")
    rest = [w for w in words if not w.lower().startswith("view:")]
    return parse_filter(shlex.join(rest), view.filter)
