"""Smart views: a named filter and sort, kept in ``smart-views.json`` in the data folder.

A view keeps what the filter bar sets (chips, minimum score, dates, types, folder, other
features' criteria) and the sort; never a search's results (a search is run again, not saved).
A damaged file is set aside as ``smart-views.json.bad`` and reported, never lost silently.
Qt-free; written with the one atomic writer.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blipdesk.infra.atomic import read_regular, write_atomic
from blipdesk.services.photo_filter import MODES, SORT_KEYS, FilterState, SortState

log = logging.getLogger(__name__)

MAX_BYTES = 1 << 20


@dataclass(frozen=True)
class SmartView:
    name: str
    filter: FilterState
    sort: SortState


def to_json(view: SmartView) -> dict[str, Any]:
    f, s = view.filter, view.sort
    return {
        "name": view.name,
        "chips": [list(c) for c in f.chips],
        "min_score": f.min_score,
        "date_from": f.date_from,
        "date_to": f.date_to,
        "kinds": list(f.kinds),
        "folder": f.folder,
        "extra": [[k, v] for k, v in f.extra],
        "sort": {"key": s.key, "tag": s.tag, "descending": s.descending},
    }


def from_json(item: Any) -> SmartView:
    """One view from its JSON; ValueError when it is not one."""
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
        raise ValueError("a view without a name")

    def number(key: str) -> float | None:
        value = item.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{key} is not a number")
        return float(value)

    chips = tuple(
        (str(c[0]), str(c[1]))
        for c in item.get("chips", [])
        if isinstance(c, list) and len(c) == 2 and c[1] in MODES
    )
    raw = item.get("sort")
    sort: dict[str, Any] = raw if isinstance(raw, dict) else {}
    key = str(sort.get("key")) if sort.get("key") in SORT_KEYS else "name"
    tag = sort.get("tag") if isinstance(sort.get("tag"), str) else None
    folder = item.get("folder") if isinstance(item.get("folder"), str) else None
    return SmartView(
        item["name"],
        FilterState(
            chips=chips,
            min_score=min(1.0, max(0.0, number("min_score") or 0.0)),
            date_from=number("date_from"),
            date_to=number("date_to"),
            kinds=tuple(str(k) for k in item.get("kinds", []) if isinstance(k, str)),
            folder=folder,
            extra=tuple(
                (str(e[0]), e[1])
                for e in item.get("extra", [])
                if isinstance(e, list) and len(e) == 2
            ),
        ),
        SortState(key, tag, bool(sort.get("descending", False))),
    )


class SmartViews:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.views: list[SmartView] = []
        self.problem: str | None = None

    def load(self) -> list[SmartView]:
        self.problem, self.views = None, []
        try:
            data = json.loads(read_regular(self.path, MAX_BYTES).decode("utf-8"))
            if not isinstance(data, list):
                raise ValueError("not a list of views")
            views = [from_json(item) for item in data]
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


def write_views(path: Path, views: list[SmartView]) -> None:
    """The views as the whole of ``path``, atomically (any thread: the window writes off the
    GUI thread)."""
    text = json.dumps([to_json(v) for v in views], indent=1, ensure_ascii=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text.encode("utf-8"))
