"""User preferences: one typed place, with their defaults.

Stored as JSON in the data directory (``paths.settings_file``), written atomically (a temporary
file, fsync, ``os.replace``), so a crash mid-save leaves the old file. A file that cannot be parsed
is never wiped silently: it is kept as ``settings.json.bak`` (``settings.json.2.bak`` when
that is taken), defaults are used, and
``SettingsFile.problem`` says what happened so the shell can tell the person. A single value of the
wrong type falls back to its default and is reported the same way; unknown keys are kept on save
(a newer blipdesk's preferences survive a round trip through an older one).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from blipdesk.core.feature_cache import DEFAULT_BUDGET, DEFAULT_FORMAT, FORMATS
from blipdesk.core.model import DEFAULT_MODEL
from blipdesk.infra.atomic import write_atomic
from blipdesk.infra.json_file import Damaged, load_json, set_aside

log = logging.getLogger(__name__)

MAX_SETTINGS_BYTES = 4 << 20  # preferences and a list of folders: never near this


@dataclass(frozen=True)
class Settings:
    model: str = DEFAULT_MODEL  # hub id or local folder
    model_revision: str | None = None
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    precision: str = "auto"  # auto | fp32 | bf16 | fp16
    first_token: str = "cls"  # ITM first token: cls (model card) | enc (original BLIP retrieval)
    batch_size: int = 0  # photos per batch; 0: automatic (64 on a GPU, 8 on the CPU)
    recursive: bool = True
    feature_cache: bool = True  # keep the vision tower's output on disk (the vision cache)
    feature_format: str = DEFAULT_FORMAT  # compact (8-bit, 0.6 MB per photo) | fp16 (1.2 MB)
    feature_budget: int = DEFAULT_BUDGET  # bytes; least recently used files go first past it
    folders: tuple[str, ...] = ()  # library folders the app shows
    watch_folders: bool = True  # follow the library folders while the window is open
    scan_new_photos: bool = True  # scan new and changed photos in the background
    group_pairs: bool = True  # RAW + JPEG side by side: one photo, the JPEG scored
    pair_sidecars: str = "raw"  # where a pair's sidecar goes: "raw" (Lightroom's) | "jpeg"

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)


_TYPES: dict[str, tuple[type, ...]] = {
    "model": (str,),
    "model_revision": (str, type(None)),
    "device": (str,),
    "precision": (str,),
    "first_token": (str,),
    "batch_size": (int,),
    "recursive": (bool,),
    "feature_cache": (bool,),
    "feature_format": (str,),
    "feature_budget": (int,),
    "folders": (list, tuple),
    "watch_folders": (bool,),
    "scan_new_photos": (bool,),
    "group_pairs": (bool,),
    "pair_sidecars": (str,),
}


MAX_BATCH_SIZE = 1024  # photos per batch; more only runs out of memory
MAX_FEATURE_BUDGET = 1 << 60  # bytes (an exabyte): a larger number is no disk's size


def _valid(key: str, value: Any) -> bool:
    if key == "batch_size":  # bool is an int subclass: true is not a batch size
        return type(value) is int and 0 <= value <= MAX_BATCH_SIZE
    if key == "feature_budget":
        return type(value) is int and 0 <= value <= MAX_FEATURE_BUDGET
    if key == "feature_format":
        return value in FORMATS
    if key == "pair_sidecars":
        return value in ("raw", "jpeg")
    if key == "first_token":
        return value in ("cls", "enc")
    if key == "model":  # "" would be taken for a hub id
        return isinstance(value, str) and bool(value.strip())
    if key == "folders":
        return isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
    return isinstance(value, _TYPES[key])


def _an_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


class SettingsFile:
    """Loads and saves ``Settings`` at ``path``. ``problem`` holds the last load's complaint."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.problem: str | None = None
        self._extra: dict[str, Any] = {}

    def load(self) -> Settings:
        self.problem = None
        self._extra = {}
        try:
            data = load_json(self.path, MAX_SETTINGS_BYTES, _an_object)
        except FileNotFoundError:
            return Settings()
        except Damaged as exc:  # not UTF-8 JSON, nested too deeply, not an object
            self.problem = f"The settings file {self.path} was damaged ({exc}); {self._keep_bad()}"
            log.warning(self.problem)
            return Settings()
        except OSError as exc:
            self.problem = (
                f"The settings file {self.path} cannot be read ({exc.strerror or exc}); "
                "using defaults."
            )
            log.warning(self.problem)
            return Settings()
        known = {f.name for f in fields(Settings)}
        values: dict[str, Any] = {}
        bad = []
        for key, value in data.items():
            if key not in known:
                self._extra[key] = value
            elif _valid(key, value):
                values[key] = tuple(str(v) for v in value) if key == "folders" else value
            else:
                bad.append(key)
        if bad:
            self.problem = (
                f"Ignored invalid settings ({', '.join(bad)}) in {self.path}; defaults used."
            )
            log.warning(self.problem)
        return Settings(**values)

    def _keep_bad(self) -> str:
        """Move the damaged file aside (never over an earlier one); say where it is."""
        try:
            backup = set_aside(self.path, ".bak")
        except OSError as exc:
            return f"it was left in place ({exc.strerror or exc}) and the defaults are used."
        return f"it was kept as {backup} and the defaults are used."

    def save(self, settings: Settings) -> None:
        data = {**self._extra, **asdict(settings)}
        data["folders"] = list(settings.folders)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
        write_atomic(self.path, text.encode("utf-8"))
