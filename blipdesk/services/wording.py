"""How both shells write a score and a tag's rule for people: one formatter for a match (a
percentage, never 0.40 here and 40% there) and one wording for a calibrated tag, so the window's
tags panel and the CLI's ``tags list`` say the same thing.

A calibration (Teach > Calibrate, ``blipdesk tags calibrate --apply``) replaces the tag's
threshold in the tagging rule (``blipdesk.store.tag_score``): while it holds, the threshold (the
window's slider) is not used, and the people looking at it must be told so.
"""

from __future__ import annotations

from typing import Any

from blipdesk.domain import Calibration


def percent(value: float) -> str:
    """``40%``: a match, or a threshold on the match."""
    return f"{value * 100:.0f}%"


def calibration_text(calibration: Calibration) -> str:
    """What a calibrated tag's rule does, in a line: "calibrated from your labels: tagged from
    match 62%"."""
    threshold = calibration.threshold()
    if calibration.kind == "examples":
        return "learned from your examples: tagged by how much a photo looks like them"
    if threshold is not None:
        return f"calibrated from your labels: tagged from match {percent(threshold)}"
    return "calibrated from your labels: tagged by the match and how the photo looks"


def calibrated_note(calibration: Calibration, threshold: float) -> str:
    """The line shown wherever a calibrated tag's threshold would be (tooltip, ``tags list``)."""
    return (
        f"{calibration_text(calibration)}; its threshold ({percent(threshold)}) is not used while "
        "the calibration holds"
    )


def calibration_json(calibration: Calibration | None) -> dict[str, Any] | None:
    """``tags list --json``'s "calibration": None, or the rule and its wording."""
    if calibration is None:
        return None
    return {
        "kind": calibration.kind,
        "threshold": calibration.threshold(),
        "image_term": calibration.weights is not None,
        "text": calibration_text(calibration),
    }
