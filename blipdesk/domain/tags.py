"""A tag: the name a person gives, the sentences that describe it, and where its score starts to
count. A tag from examples has no sentence at all: its labels define it (issue 13).

Two rules both shells follow (the window's tag editor and ``blipdesk tags add``):

- ``tag_sentences``: a tag written with no sentence is scored by its name ("beach" by "beach");
- ``tag_colour`` / ``new_tag_colour``: a tag whose words name a colour ("blue square") is shown
  in that colour; otherwise it takes one of the palette's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

DEFAULT_THRESHOLD = 0.5

DEFAULT_COLOURS = (
    "#e6194b",
    "#3cb44b",
    "#4363d8",
    "#f58231",
    "#911eb4",
    "#42d4f4",
    "#f032e6",
    "#9a6324",
    "#469990",
    "#808000",
)

# Colour words (English, as sentences are written) -> the dot's colour. A dot must show on a light
# and a dark background: white and black are a light and a dark grey.
COLOUR_WORDS = {
    "red": "#e6194b",
    "orange": "#f58231",
    "yellow": "#ffe119",
    "gold": "#d4a017",
    "golden": "#d4a017",
    "green": "#3cb44b",
    "lime": "#bfef45",
    "olive": "#808000",
    "teal": "#469990",
    "cyan": "#42d4f4",
    "turquoise": "#40e0d0",
    "blue": "#4363d8",
    "navy": "#000075",
    "purple": "#911eb4",
    "violet": "#8f00ff",
    "lavender": "#b57edc",
    "magenta": "#f032e6",
    "pink": "#f58fb4",
    "brown": "#9a6324",
    "beige": "#d8c8a8",
    "maroon": "#800000",
    "grey": "#9e9e9e",
    "gray": "#9e9e9e",
    "silver": "#c0c0c0",
    "black": "#333333",
    "white": "#e0e0e0",
}
_WORD = re.compile(r"[^\W\d_]+")


@dataclass(frozen=True)
class Tag:
    name: str
    sentences: tuple[str, ...]
    threshold: float = DEFAULT_THRESHOLD
    colour: str | None = None


def tag_sentences(
    name: str, written: Iterable[str], from_examples: bool = False
) -> tuple[str, ...]:
    """The sentences a tag is scored by: those written (each as written, a repeat counted once;
    a blank one is the store's to refuse); with none written, its name (a tag "beach" is scored
    by "beach"). A tag from examples alone (``from_examples``) keeps having none."""
    sentences = tuple(dict.fromkeys(written))
    if sentences or from_examples or not name.strip():
        return sentences
    return (name,)


def named_colour(*texts: str) -> str | None:
    """The colour of the first colour word in ``texts`` (checked in order: a tag's name, then
    its sentences), or None when none names a colour."""
    for text in texts:
        for word in _WORD.findall(text.casefold()):
            if word in COLOUR_WORDS:
                return COLOUR_WORDS[word]
    return None


def tag_colour(tag: Tag) -> str:
    """The tag's colour: the one a person chose, else the one its words name, else a stable one
    of the palette picked from its name."""
    if tag.colour:
        return tag.colour
    named = named_colour(tag.name, *tag.sentences)
    return named or DEFAULT_COLOURS[sum(map(ord, tag.name)) % len(DEFAULT_COLOURS)]


def new_tag_colour(name: str, sentences: Iterable[str], tags_before: int) -> str:
    """The colour a new tag starts with: the one its words name, else the palette's next (after
    ``tags_before`` tags)."""
    return named_colour(name, *sentences) or DEFAULT_COLOURS[tags_before % len(DEFAULT_COLOURS)]
