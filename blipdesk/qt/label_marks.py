"""How a person's labels look (issue 13): a ✓ or ✗ in the tag's colour, apart from the model's
tag dots. The grid paints them bottom-right of a thumbnail; the detail panel and the review
dialog use the same words."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QPainter

YES, NO = "✓", "✗"


def mark(value: bool | None) -> str:
    return "" if value is None else (YES if value else NO)


def paint_labels(painter: QPainter, labels: list[tuple[str, bool]], box: QRect) -> None:
    """Round badges, right to left from the thumbnail's bottom-right corner: white, the tag's
    colour as the ring and the mark (✓ yes, ✗ no)."""
    x = box.right() - 20
    font = painter.font()
    bold = painter.font()
    bold.setBold(True)
    painter.setFont(bold)
    for colour, value in labels[:6]:
        badge = QRect(x, box.bottom() - 20, 18, 18)
        ring = QColor(colour)
        painter.setPen(ring)
        painter.setBrush(QColor(255, 255, 255, 235) if value else QColor(60, 60, 60, 235))
        painter.drawEllipse(badge)
        painter.setPen(ring if value else QColor(255, 255, 255))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, mark(value))
        x -= 21
    painter.setFont(font)
