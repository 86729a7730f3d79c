"""The library cache (SQLite). Every SQL statement of blipdesk lives in this package."""

from blipdesk.store.library import (
    DEFAULT_THRESHOLD,
    Calibration,
    Library,
    PhotoRecord,
    PhotoResult,
    Rating,
    ScoreRow,
    SentenceScore,
    Tag,
    TagScore,
    database_bytes,
    derive_tags,
    duplicate_groups,
    logit,
    tag_score,
)
from blipdesk.store.schema import SCHEMA_VERSION, DatabaseTooNewError

__all__ = [
    "DEFAULT_THRESHOLD",
    "SCHEMA_VERSION",
    "Calibration",
    "DatabaseTooNewError",
    "Library",
    "PhotoRecord",
    "PhotoResult",
    "Rating",
    "ScoreRow",
    "SentenceScore",
    "Tag",
    "TagScore",
    "database_bytes",
    "derive_tags",
    "duplicate_groups",
    "logit",
    "tag_score",
]
