"""A photo's stars and pick / reject flag, kept by content so a moved or copied photo keeps them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rating:
    """A photo's star rating (0-5) and flag (1 picked, -1 rejected, 0 neither), kept by content."""

    stars: int = 0
    flag: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.stars <= 5 or self.flag not in (-1, 0, 1):
            raise ValueError(f"not a rating: {self.stars} stars, flag {self.flag}")
