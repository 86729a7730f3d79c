"""Values and rules, with no I/O: tags and sentences, ratings and labels, calibration values, the one tagging rule (scalar and vector), name validation. Imports nothing of blipdesk but infra."""

from blipdesk.domain.calibration import Calibration, logit, logits
from blipdesk.domain.photos import PhotoRecord, PhotoResult, duplicate_groups
from blipdesk.domain.ratings import COLOURS, Rating
from blipdesk.domain.scores import ScoreRow, SentenceScore, TagScore
from blipdesk.domain.tagging import (
    derive_tags,
    logodds,
    logodds_many,
    tag_score,
    verdict,
    verdicts,
)
from blipdesk.domain.tags import (
    DEFAULT_COLOURS,
    DEFAULT_THRESHOLD,
    Tag,
    new_tag_colour,
    tag_colour,
    tag_sentences,
)

__all__ = [
    "COLOURS",
    "DEFAULT_COLOURS",
    "DEFAULT_THRESHOLD",
    "Calibration",
    "PhotoRecord",
    "PhotoResult",
    "Rating",
    "ScoreRow",
    "SentenceScore",
    "Tag",
    "TagScore",
    "derive_tags",
    "duplicate_groups",
    "logit",
    "logits",
    "logodds",
    "logodds_many",
    "new_tag_colour",
    "tag_colour",
    "tag_score",
    "tag_sentences",
    "verdict",
    "verdicts",
]
