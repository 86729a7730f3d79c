"""One place that decides where blipdesk keeps its state.

Everything blipdesk writes (settings, tags, the score cache, thumbnails, logs) lives under one
data directory: ``--data-dir DIR`` wins, then ``BLIPDESK_DATA_DIR``, then the platform's user
data directory (platformdirs). Model weights stay in the Hugging Face cache unless the person
points at a local model folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "blipdesk"
ENV_DATA_DIR = "BLIPDESK_DATA_DIR"


@dataclass(frozen=True)
class Paths:
    data_dir: Path

    @property
    def database(self) -> Path:
        return self.data_dir / "library.sqlite3"

    @property
    def settings_file(self) -> Path:
        return self.data_dir / "settings.json"

    @property
    def thumbnails_dir(self) -> Path:
        return self.data_dir / "thumbnails"

    @property
    def features_dir(self) -> Path:
        return self.data_dir / "features"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "blipdesk.log"

    def ensure(self) -> Paths:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self


def resolve_paths(data_dir: str | os.PathLike[str] | None = None) -> Paths:
    """The data directory from the command line, the environment, or the platform default."""
    if data_dir is None:
        data_dir = os.environ.get(ENV_DATA_DIR) or None
    if data_dir is None:
        from platformdirs import user_data_dir

        data_dir = user_data_dir(APP_NAME, appauthor=False)
    return Paths(Path(data_dir).expanduser().resolve())
