"""Scores written for people: "match 40%" for BLIP's image-text matching probability (ITM) and
"similarity 0.12" for the cosine of its image and text embeddings (ITC). One place, so the tag
editor's "Try", the detail panel and the viewer say the same thing the same way."""

from __future__ import annotations

from blipdesk.services.wording import percent

MATCH_HELP = (
    "Match: how likely the model thinks the sentence describes the photo (its image-text "
    "matching probability). A tag is given when its best sentence reaches the tag's threshold."
)
SIMILARITY_HELP = (
    "Similarity: how close the photo and the sentence lie in the model's embedding space "
    "(cosine, −1 to 1; photos that match usually reach 0.3–0.5). Search ranks by it first."
)


def percent_text(value: float) -> str:
    """``40%``: a match, or a threshold on the match, always as a percentage (never 0.40); the
    CLI's formatter too (``blipdesk.services.wording.percent``)."""
    return percent(value)


def match_text(itm: float | None) -> str:
    """``match 40%``; ``not scored yet`` when there is no score."""
    return "not scored yet" if itm is None else f"match {percent_text(itm)}"


def similarity_text(cosine: float) -> str:
    return f"similarity {cosine:.2f}".replace("-", "−")
