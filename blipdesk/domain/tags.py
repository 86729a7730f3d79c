"""A tag: the name a person gives, the sentences that describe it, and where its score starts to
count. A tag from examples has no sentence at all: its labels define it (issue 13)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class Tag:
    name: str
    sentences: tuple[str, ...]
    threshold: float = DEFAULT_THRESHOLD
    colour: str | None = None
