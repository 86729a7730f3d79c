"""A photo's stars, pick / reject flag and colour label, kept by content so a moved or copied
photo keeps them."""

from __future__ import annotations

from dataclasses import dataclass

# The colour labels, in Lightroom's order (its keys: 6 red, 7 yellow, 8 green, 9 blue; purple
# has no key). "" is no label.
COLOURS = ("red", "yellow", "green", "blue", "purple")


@dataclass(frozen=True)
class Rating:
    """A photo's star rating (0-5), flag (1 picked, -1 rejected, 0 neither) and colour label
    (one of ``COLOURS``, "" for none), kept by content."""

    stars: int = 0
    flag: int = 0
    colour: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.stars <= 5 or self.flag not in (-1, 0, 1):
            raise ValueError(f"not a rating: {self.stars} stars, flag {self.flag}")
        if self.colour and self.colour not in COLOURS:
            raise ValueError(f"not a colour label: {self.colour!r}")
