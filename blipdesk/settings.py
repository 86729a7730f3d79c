"""User preferences: one typed place, with their defaults.

Stored as JSON in the data directory (``paths.settings_file``), written atomically (a temporary
file, fsync, ``os.replace``), so a crash mid-save leaves the old file. A file that cannot be parsed
is never wiped silently: it is kept as ``settings.json.bak``, defaults are used, and
``SettingsFile.problem`` says what happened so the shell can tell the person. A single value of the
wrong type falls back to its default and is reported the same way; unknown keys are kept on save
(a newer blipdesk's preferences survive a round trip through an older one).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from blipdesk.core.feature_cache import DEFAULT_BUDGET, DEFAULT_FORMAT, FORMATS
from blipdesk.core.model import DEFAULT_MODEL

log = logging.getLogger(__name__)


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
}


def _valid(key: str, value: Any) -> bool:
    if key in ("batch_size", "feature_budget"):  # bool is an int subclass: true is no number
        return type(value) is int and value >= 0
    if key == "feature_format":
        return value in FORMATS
    return isinstance(value, _TYPES[key])


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
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return Settings()
        except OSError as exc:
            self.problem = f"The settings file {self.path} cannot be read ({exc}); using defaults."
            log.warning(self.problem)
            return Settings()
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            backup = self.path.with_name(self.path.name + ".bak")
            os.replace(self.path, backup)
            self.problem = (
                f"The settings file {self.path} was damaged ({exc}); it was kept as {backup} "
                "and the defaults are used."
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

    def save(self, settings: Settings) -> None:
        data = {**self._extra, **asdict(settings)}
        data["folders"] = list(settings.folders)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".json", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=2, sort_keys=True)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
