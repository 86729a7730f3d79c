"""What the model says about a photo: one score per sentence, and per tag the score and the
verdict derived from them (``blipdesk.domain.tagging``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SentenceScore:
    itm: float
    cosine: float
    logit_no: float
    logit_yes: float
    # what computed it (``ScoreRow``): not part of the value, so not compared
    precision: str | None = field(default=None, compare=False)
    vision_cache: bool | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ScoreRow:
    """One (photo content, sentence) result to store."""

    content: str
    sentence: str
    itm: float
    logit_no: float
    logit_yes: float
    cosine: float
    # What computed it: the model's precision ("fp32", "bf16", "fp16") and whether the photo's
    # vision output came from the vision cache (8-bit or fp16 on disk) instead of a decode.
    # None: not known (scores stored before blipdesk kept it, or imported from a results file).
    precision: str | None = None
    vision_cache: bool = False


@dataclass(frozen=True)
class TagScore:
    score: float  # best ITM probability over the tag's scored sentences (a label's 1/0 for a
    # tag from examples that has no fit yet)
    match: bool
    sentences: Mapping[str, SentenceScore]
    label: bool | None = None  # a person's yes / no for this photo: the match follows it
    logodds: float | None = None  # the calibrated rule's log-odds, when a calibration applies
