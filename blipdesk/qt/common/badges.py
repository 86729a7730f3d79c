"""Where everything drawn on a thumbnail's cell goes, so that nothing covers anything else.

Two places, as Lightroom's grid and digiKam's icon view keep them:

* over the photo, the two corner signs that are about the photo itself: a red "!" (top left: it
  cannot be read) and the search score (top right);
* a strip under the photo, one line: the tags' colour dots from the left; from the right the file
  badges ("2×", "RAW"), the pick / reject flag, the colour label (a swatch), the stars and a
  person's ✓ / ✗ labels.

When the strip is too narrow for everything (small thumbnails), things give way in this order:
the stars shrink to "★3", labels and dots that do not fit are counted in a "+N"; on the smallest
thumbnails of a photo with everything at once, what finds no room is left out rather than drawn
over something else. ``layout_strip`` is pure (rectangles in, rectangles
out): painting and hit-testing use the same answer, and a test checks at every thumbnail size
that no two rectangles meet and none leaves the strip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QRect

from blipdesk.qt.common.label_marks import BADGE, DOT, Mark

STRIP = 20  # the strip's height under the photo
GAP = 3
FLAG = 18
SWATCH = 14  # a colour label
FILE_BADGE_PAD = 10  # around a file badge's text
MORE = 22  # "+N"


@dataclass(frozen=True)
class Placed:
    """One thing drawn in the strip: ``kind`` is "dot", "label", "file", "flag", "colour",
    "stars" or "more"; ``mark`` for dots and labels; ``text`` what is written in it (the colour
    label's name for "colour")."""

    kind: str
    rect: QRect
    mark: Mark | None = None
    text: str = ""


def strip_rect(box: QRect) -> QRect:
    """The strip under a thumbnail box."""
    return QRect(box.left(), box.bottom() + 3, box.width(), STRIP - 2)


def layout_strip(
    strip: QRect,
    marks: Sequence[Mark],
    files: Sequence[str],
    stars: int,
    flag: int,
    advance: int = 11,
    colour: str = "",
) -> list[Placed]:
    """Everything in ``strip``; ``advance``: the width of one character of the font ("★", a
    digit), measured by the painter. See the module docstring for what gives way first."""
    top, height = strip.top(), strip.height()
    dots = [m for m in marks if m.carried]
    labels = [m for m in marks if m.label is not None]
    left_limit = strip.left() + ((DOT + GAP) if dots else 0)  # one dot always fits
    right = strip.right() + 1
    out: list[Placed] = []

    def take(width: int) -> QRect | None:
        nonlocal right
        if right - width < left_limit:
            return None
        rect = QRect(right - width, top + (height - min(height, 18)) // 2, width, min(height, 18))
        right -= width + GAP
        return rect

    def put(kind: str, width: int, text: str = "", mark: Mark | None = None) -> bool:
        rect = take(width)
        if rect is not None:
            out.append(Placed(kind, rect, mark, text))
        return rect is not None

    for text in files:
        put("file", len(text) * (advance * 2 // 3) + FILE_BADGE_PAD, text)  # letters: ~2/3 of a ★
    if flag:
        put("flag", FLAG, "✓" if flag > 0 else "✕")
    if colour:
        put("colour", SWATCH, colour)
    if stars and not put("stars", stars * advance + 8, "★" * stars):
        put("stars", advance + advance * 2 // 3 + 8, f"★{stars}")
    shown = 0
    for m in labels:
        if not put("label", BADGE, mark=m):
            break
        shown += 1
    hidden = len(labels) - shown
    x = strip.left()
    y = top + (height - DOT) // 2
    for i, m in enumerate(dots):
        rest = len(dots) - i + hidden
        room = right - x  # right: where the right side's leftmost thing begins, less a gap
        if rest > 1 and room < DOT + GAP + MORE:
            out.append(
                Placed("more", QRect(x, top, min(MORE, max(0, room)), height), text=f"+{rest}")
            )
            return out
        if room < DOT:
            break
        out.append(Placed("dot", QRect(x, y, DOT, DOT), m))
        x += DOT + GAP
    if hidden and right - x >= MORE:
        out.append(Placed("more", QRect(x, top, MORE, height), text=f"+{hidden}"))
    return out
