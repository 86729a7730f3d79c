"""The window's view of scores, as plain values: Qt-free, so it lives outside ``qt/``.

Tags and sentence scores are domain values (``blipdesk.domain.Tag``, ``SentenceScore``); a tag
is known by its name. Whether a photo carries a tag is the one tagging rule (``tag_score``), applied
here at view time to the scores in memory, so moving a threshold re-tags instantly.
``PhotoScores`` batches cross threads (frozen: safe to share, never mutated); ``ScoreBoard`` is the
GUI thread's own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from blipdesk.domain import (
    DEFAULT_COLOURS,
    Calibration,
    SentenceScore,
    Tag,
    TagScore,
    tag_colour,
    tag_score,
)

__all__ = [
    "DEFAULT_COLOURS",
    "PhotoScores",
    "ScoreBoard",
    "SentenceScore",
    "Tag",
    "tag_colour",
]


@dataclass(frozen=True)
class PhotoScores:
    """Scores of one photo for some sentences, as a batch from the worker or the cache carries them."""

    path: str
    scores: Mapping[str, SentenceScore] = field(default_factory=dict)
    error: str | None = None  # the photo could not be read: why
    labels: Mapping[str, bool] | None = None  # tag -> a person's yes / no (None: not read)
    feature: np.ndarray | None = None  # the ITC vector, when a calibration needs it


class ScoreBoard:
    """The GUI thread's view of cached scores: path -> sentence -> score. GUI thread only."""

    def __init__(self) -> None:
        self._scores: dict[str, dict[str, SentenceScore]] = {}
        self.errors: dict[str, str] = {}
        self.labels: dict[str, dict[str, bool]] = {}  # path -> tag -> yes / no
        self.calibrations: dict[str, Calibration] = {}  # tag -> its rule for the model shown
        self.features: dict[str, np.ndarray] = {}  # path -> ITC vector (for calibrations)
        # a grouped pair's picture path -> its RAW paths: when the picture cannot be read, the
        # scan scores its RAW (engine.scan), and the pair, one photo, shows the RAW's scores
        self.pairs: dict[str, tuple[str, ...]] = {}

    def clear(self) -> None:
        self._scores.clear()
        self.errors.clear()
        self.labels.clear()
        self.features.clear()
        self.calibrations = {}

    def merge(self, batch: Iterable[PhotoScores]) -> list[str]:
        changed = []
        for item in batch:
            if item.error:
                self.errors[item.path] = item.error
            if item.scores:
                self._scores.setdefault(item.path, {}).update(item.scores)
            if item.labels is not None:
                if item.labels:
                    self.labels[item.path] = dict(item.labels)
                else:
                    self.labels.pop(item.path, None)
            if item.feature is not None:
                self.features[item.path] = item.feature
            changed.append(item.path)
        faces = {raw: face for face, raws in self.pairs.items() for raw in raws}
        return changed + [faces[p] for p in changed if p in faces]

    def _scored_as(self, path: str) -> str:
        """Whose scores ``path`` shows: its own, or, for a pair whose picture cannot be read, its
        RAW's."""
        if path in self.errors and not self._scores.get(path):
            return next((raw for raw in self.pairs.get(path, ()) if self._scores.get(raw)), path)
        return path

    def set_label(self, paths: Iterable[str], tag: str, value: bool | None) -> list[str]:
        """A label given in the window, shown at once (the write follows in the background)."""
        changed = []
        for path in paths:
            mine = self.labels.setdefault(path, {})
            if value is None:
                mine.pop(tag, None)
            else:
                mine[tag] = value
            if not mine:
                del self.labels[path]
            changed.append(path)
        return changed

    def label(self, path: str, tag: str) -> bool | None:
        return self.labels.get(path, {}).get(tag)

    def derived(self, path: str, tag: Tag) -> TagScore | None:
        """The one tagging rule (``blipdesk.domain.tag_score``): label, calibration, threshold."""
        scored = self._scored_as(path)
        return tag_score(
            tag,
            self._scores.get(scored, {}),
            self.labels.get(path, {}).get(tag.name),
            self.calibrations.get(tag.name),
            self.features.get(scored),
        )

    def sentences_of(self, path: str) -> Mapping[str, SentenceScore]:
        return self._scores.get(self._scored_as(path), {})

    def has_any(self, path: str) -> bool:
        return bool(self._scores.get(self._scored_as(path)))

    def tag_score(self, path: str, tag: Tag) -> float | None:
        """The best ITM among the tag's sentences, or None when none is scored yet."""
        derived = self.derived(path, tag)
        return None if derived is None else derived.score

    def matches(self, path: str, tag: Tag) -> bool:
        """Whether the photo carries the tag: the one rule (``blipdesk.domain.tag_score``)."""
        derived = self.derived(path, tag)
        return derived is not None and derived.match

    def matched_tags(self, paths: Iterable[str], tags: Iterable[Tag]) -> dict[str, list[str]]:
        """path -> the tags it carries. Photos not scored yet, or unreadable, are left out: their
        sidecars are left alone."""
        tags = list(tags)
        return {
            p: [t.name for t in tags if self.matches(p, t)]
            for p in paths
            if (self.has_any(p) or p in self.labels)
            and (p not in self.errors or self._scored_as(p) != p)
        }

    def missing(self, paths: Iterable[str], sentences: Iterable[str]) -> list[str]:
        wanted = tuple(dict.fromkeys(sentences))
        out = []
        for p in paths:
            got = self._scores.get(self._scored_as(p), {})
            if (p not in self.errors or self._scored_as(p) != p) and any(
                s not in got for s in wanted
            ):
                out.append(p)
        return out
