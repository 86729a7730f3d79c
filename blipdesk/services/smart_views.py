"""Smart views: a named filter and sort, kept in ``smart-views.json`` in the data folder.

A view keeps the whole filter (``photo_filter.filter_to_json``: chips, minimum score, dates,
types, folder, rating, labels, duplicates, file name) and the sort; never a search's results (a
search is run again, not saved). A view is one flat JSON object: its name, the filter's keys and
"sort", so files written before a criterion existed still load (its key missing: it filters
nothing). A damaged file is set aside as ``smart-views.json.bad`` and reported, never lost
silently. Qt-free; written with the one atomic writer.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blipdesk.infra.atomic import read_regular, write_atomic
from blipdesk.infra.errors import UserError
from blipdesk.services.photo_filter import (
    FilterState,
    SortState,
    filter_from_json,
    filter_to_json,
    parse_filter,
    sort_from_json,
    sort_to_json,
)

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
    """One view from its JSON; ValueError when it is not one."""
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
        raise ValueError("a view without a name")
    return SmartView(item["name"], filter_from_json(item), sort_from_json(item.get("sort")))


class SmartViews:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.views: list[SmartView] = []
        self.problem: str | None = None

    def load(self) -> list[SmartView]:
        self.problem, self.views = None, []
        try:
            views = read_views(self.path)
        except FileNotFoundError:
            return []
        except (OSError, ValueError, RecursionError) as exc:
            self.problem = f"The smart views in {self.path} could not be read ({exc})"
            try:
                os.replace(self.path, f"{self.path}.bad")
                self.problem += f"; kept as {self.path.name}.bad"
            except OSError:
                pass
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
    """The views in ``path``, as they are (FileNotFoundError, OSError, ValueError: see
    ``SmartViews.load``, which sets a damaged file aside)."""
    data = json.loads(read_regular(path, MAX_BYTES).decode("utf-8"))
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
    except (OSError, ValueError, RecursionError) as exc:  # the window sets it aside, not this
        raise UserError(f"The smart views in {views_file} could not be read ({exc}).") from None
    view = views.get(named[0])
    if view is None:
        known = ", ".join(sorted(views)) or "none saved yet"
        raise UserError(f"There is no smart view called {named[0]!r} ({known}).")
    rest = [w for w in words if not w.lower().startswith("view:")]
    return parse_filter(shlex.join(rest), view.filter)
