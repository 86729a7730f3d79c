"""How a tag looks on a thumbnail: a colour dot for a tag the photo carries, a ✓ or ✗ in the
tag's colour for a person's label. Where they go is ``badges.layout_strip``'s (the strip under
the photo); the grid paints them and hit-tests clicks with the same answer, so a click on a dot or
a badge lands on the tag drawn there. The detail panel and the review
dialog use the same ✓ / ✗ words."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QPainter

YES, NO = "✓", "✗"
MAX_DOTS, MAX_LABELS = 10, 6
DOT, DOT_STEP = 12, 15
BADGE, BADGE_STEP = 18, 21
HIT_SLACK = 3  # a dot is small: a click this close still lands on it


def mark(value: bool | None) -> str:
    return "" if value is None else (YES if value else NO)


@dataclass(frozen=True)
class Mark:
    """One tag on one photo: whether the photo carries it (the store's rule: label, calibration,
    threshold) and a person's label, if any."""

    tag: str
    colour: str
    carried: bool
    label: bool | None


def mark_at(placed: list[tuple[QRect, Mark, str]], x: int, y: int) -> Mark | None:
    """The mark drawn at (x, y), a few pixels of slack around small dots; labels win ties."""
    for rect, m, _kind in sorted(placed, key=lambda p: p[2] != "label"):
        if rect.adjusted(-HIT_SLACK, -HIT_SLACK, HIT_SLACK, HIT_SLACK).contains(x, y):
            return m
    return None


def paint_marks(painter: QPainter, placed: list[tuple[QRect, Mark, str]]) -> None:
    """Dots: the tag's colour, a white rim. Labels: round badges, the tag's colour as the ring
    and the mark (✓ white, ✗ dark)."""
    font = painter.font()
    bold = painter.font()
    bold.setBold(True)
    for rect, m, kind in placed:
        ring = QColor(m.colour)
        if kind == "dot":
            painter.setPen(QColor(255, 255, 255, 220))
            painter.setBrush(ring)
            painter.drawEllipse(rect)
            continue
        painter.setFont(bold)
        painter.setPen(ring)
        painter.setBrush(QColor(255, 255, 255, 235) if m.label else QColor(60, 60, 60, 235))
        painter.drawEllipse(rect)
        painter.setPen(ring if m.label else QColor(255, 255, 255))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, mark(m.label))
    painter.setFont(font)
