"""The values the window's models and widgets use, in one import: the Qt-free ones live in
``blipdesk.services.scoreboard`` (scores, tag colours) and ``blipdesk.core.files`` (photos as listed)."""

from __future__ import annotations

from blipdesk.core.files import Photo, sidecar_targets
from blipdesk.services.scoreboard import (
    DEFAULT_COLOURS,
    PhotoScores,
    ScoreBoard,
    SentenceScore,
    Tag,
    tag_colour,
)

SCAN_ACTION = "Scan folder"  # File > Scan folder and the toolbar's button: what messages name
PRESS_SCAN = f"choose {SCAN_ACTION} (Ctrl+R)"

__all__ = [
    "DEFAULT_COLOURS",
    "PRESS_SCAN",
    "SCAN_ACTION",
    "Photo",
    "PhotoScores",
    "ScoreBoard",
    "SentenceScore",
    "Tag",
    "sidecar_targets",
    "tag_colour",
]
