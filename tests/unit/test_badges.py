"""Thumbnail badges never cover each other (issue 25, item 7): at every thumbnail size from 96
to 320 px, with every mix of tag dots, labels, file badges, stars and flags, no two rectangles of
the strip meet and none leaves it (so nothing reaches the photo or the next cell)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QRect

from blipdesk.qt.common.badges import layout_strip, strip_rect
from blipdesk.qt.common.label_marks import Mark

SIZES = range(96, 321, 8)


def _marks(dots: int, labels: int) -> list[Mark]:
    out = [Mark(f"t{i}", "#2e9e44", True, None) for i in range(dots)]
    out += [Mark(f"l{i}", "#3366cc", False, i % 2 == 0) for i in range(labels)]
    return out


def _check(strip: QRect, placed) -> None:
    for p in placed:
        assert strip.contains(p.rect, False) or p.rect.isEmpty(), (p, strip)
    for a, b in itertools.combinations(placed, 2):
        assert not a.rect.intersects(b.rect), (a, b)


@settings(max_examples=400, deadline=None)
@given(
    thumb=st.sampled_from(list(SIZES)),
    dots=st.integers(0, 10),
    labels=st.integers(0, 6),
    files=st.sampled_from([[], ["RAW"], ["2×"], ["12×", "RAW"]]),
    stars=st.integers(0, 5),
    flag=st.sampled_from([-1, 0, 1]),
    advance=st.integers(8, 16),
)
def test_nothing_in_the_strip_covers_anything_else(
    thumb, dots, labels, files, stars, flag, advance
):
    box = QRect(8, 8, thumb, thumb * 3 // 4)
    strip = strip_rect(box)
    placed = layout_strip(strip, _marks(dots, labels), files, stars, flag, advance)
    _check(strip, placed)
    assert not any(p.rect.intersects(box) for p in placed)  # the photo stays clear


@pytest.mark.parametrize("thumb", [136, 176, 320])
def test_what_matters_most_is_always_shown(thumb):
    """File badges and the flag always; the stars, in full or as "★5"; every dot and label is
    drawn or counted in a "+N"."""
    strip = strip_rect(QRect(0, 0, thumb, thumb * 3 // 4))
    placed = layout_strip(strip, _marks(10, 6), ["2×", "RAW"], 5, 1, 11)
    kinds = [p.kind for p in placed]
    assert kinds.count("file") == 2 and "flag" in kinds and "stars" in kinds
    drawn = kinds.count("dot") + kinds.count("label")
    counted = sum(int(p.text[1:]) for p in placed if p.kind == "more")
    assert drawn + counted == 16


def test_the_smallest_thumbnail_keeps_a_rating_and_counts_its_tags():
    strip = strip_rect(QRect(0, 0, 96, 72))
    placed = layout_strip(strip, _marks(10, 6), ["RAW"], 5, 1, 11)
    kinds = [p.kind for p in placed]
    assert {"file", "flag", "stars", "more"} <= set(kinds)


def test_a_roomy_strip_draws_everything_in_full():
    strip = strip_rect(QRect(0, 0, 320, 240))
    placed = layout_strip(strip, _marks(3, 2), ["RAW"], 4, -1, 11)
    assert [p.kind for p in placed].count("dot") == 3
    assert next(p for p in placed if p.kind == "stars").text == "★★★★"
    assert "more" not in [p.kind for p in placed]
