"""What the model says about a photo: one score per sentence, and per tag the score and the
verdict derived from them (``blipdesk.domain.tagging``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class SentenceScore:
    itm: float
    cosine: float
    logit_no: float
    logit_yes: float


@dataclass(frozen=True)
class ScoreRow:
    """One (photo content, sentence) result to store."""

    content: str
    sentence: str
    itm: float
    logit_no: float
    logit_yes: float
    cosine: float


@dataclass(frozen=True)
class TagScore:
    score: float  # best ITM probability over the tag's scored sentences (a label's 1/0 for a
    # tag from examples that has no fit yet)
    match: bool
    sentences: Mapping[str, SentenceScore]
    label: bool | None = None  # a person's yes / no for this photo: the match follows it
    logodds: float | None = None  # the calibrated rule's log-odds, when a calibration applies
