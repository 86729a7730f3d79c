"""Reading the score cache for the GUI: through the store's public API, off the GUI thread.

Each call opens its own read-only ``Library`` in the calling thread (the store's threading rule)
and closes it again. ``CacheLoader`` runs the read in a ``QThreadPool`` and delivers the scores
as one batch; reopening a folder thereby shows cached results at once without loading the model.

The score key is the one scans with the settings' model choice write (``services.options.
read_key``: the model, its revision, the first token, the decoding rule): cheap, and needs neither
torch nor the weights.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from blipdesk.domain import Tag, duplicate_groups
from blipdesk.qt.common.values import PhotoScores
from blipdesk.services.options import ModelChoice, read_key
from blipdesk.store import Library

log = logging.getLogger(__name__)


def _open(database: str | Path) -> Library | None:
    if not Path(database).is_file():
        return None
    return Library.open(database, readonly=True)


def read_tags(database: str | Path) -> list[Tag]:
    lib = _open(database)
    if lib is None:
        return []
    try:
        return lib.tags()
    finally:
        lib.close()


@dataclass(frozen=True)
class CachedScores:
    folder: str
    score_key: str | None
    scores: tuple[PhotoScores, ...]
    calibrations: dict = field(default_factory=dict)  # tag -> domain.Calibration
    # path -> how many files under the folder hold its content (2 or more): the same photo twice
    duplicates: Mapping[str, int] = field(default_factory=dict)


def read_scores(
    database: str | Path,
    model: ModelChoice,
    folder: str,
    recursive: bool,
    score_key: str | None = None,
) -> CachedScores:
    """Every cached sentence score of the photos under ``folder``, and the decode errors."""
    lib = _open(database)
    if lib is None:
        return CachedScores(folder, None, ())
    try:
        records = lib.photos_under([folder], recursive)
        duplicates = duplicate_groups(records)
        key = score_key or read_key(lib, model)
        contents = [r.content for r in records if r.content]
        # a person's yes / no belongs to the content, whatever model scored it (or none yet)
        labels = lib.labels(contents)
        scores, errors, calibrations, features = {}, {}, {}, {}
        if key is not None:
            scores = lib.sentence_scores(key, contents)
            errors = lib.decode_errors(key, contents)
            calibrations = lib.calibrations(key)
            if any(c.needs_features for c in calibrations.values()):
                features = lib.image_features(key, contents)
        out = []
        for r in records:
            error = r.read_error or (errors.get(r.content) if r.content else None)
            got = scores.get(r.content, {}) if r.content else {}
            mine = labels.get(r.content, {}) if r.content else {}
            if got or error or mine:
                feature = features.get(r.content) if r.content else None
                out.append(PhotoScores(r.path, got, error, mine, feature))
        return CachedScores(folder, key, tuple(out), calibrations, duplicates)
    finally:
        lib.close()


def read_duplicates(database: str | Path, folder: str, recursive: bool) -> dict[str, int]:
    """Which photos under ``folder`` are the same photo as another file (path -> files)."""
    lib = _open(database)
    if lib is None:
        return {}
    try:
        return duplicate_groups(lib.photos_under([folder], recursive))
    finally:
        lib.close()


class _Relay(QObject):
    loaded = Signal(int, object)  # request id, CachedScores


class _ReadTask(QRunnable):
    def __init__(self, relay: _Relay, request: int, args: tuple) -> None:
        super().__init__()
        self.relay, self.request, self.args = relay, request, args

    def run(self) -> None:
        try:
            result = read_scores(*self.args)
        except Exception:
            log.exception("reading the cache failed")
            result = CachedScores(self.args[2], None, ())
        self.relay.loaded.emit(self.request, result)


class CacheLoader(QObject):
    """Loads cached scores of a folder off the GUI thread; stale answers carry an old request id."""

    loaded = Signal(int, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._relay = _Relay(self)
        self._relay.loaded.connect(self.loaded)
        self._request = 0

    def load(self, database: str | Path, model: ModelChoice, folder: str, recursive: bool) -> int:
        self._request += 1
        self.pool.start(_ReadTask(self._relay, self._request, (database, model, folder, recursive)))
        return self._request

    def shutdown(self) -> None:
        self.pool.clear()
        self.pool.waitForDone(5000)
