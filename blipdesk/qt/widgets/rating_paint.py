"""Stars and pick/reject flags drawn on a thumbnail (the grid, the filmstrip): stars in a dark
badge at the thumbnail's bottom right, a green flag for a pick, a red cross for a reject, and a
rejected photo dimmed, as Lightroom and digiKam show them."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QPainter

from blipdesk.domain import Rating

PICK = QColor("#2e9e44")
REJECT = QColor("#c0392b")


def paint_rating(
    painter: QPainter, box: QRect, rating: Rating | None, picture: QRect | None = None
) -> None:
    """Over the thumbnail ``box`` (the cell's picture area); ``picture``: where the photo itself
    lies in it (dimmed for a reject)."""
    if rating is None or rating == Rating():
        return
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    if rating.flag < 0:
        painter.fillRect(picture or box, QColor(0, 0, 0, 120))  # a reject recedes
    fm = painter.fontMetrics()
    right = box.right() - 4
    if rating.flag:
        mark = "✓" if rating.flag > 0 else "✕"
        badge = QRect(right - 18, box.bottom() - 21, 18, 18)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(PICK if rating.flag > 0 else REJECT)
        painter.drawRoundedRect(badge, 4, 4)
        painter.setPen(QColor("white"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, mark)
        right = badge.left() - 3
    if rating.stars:
        text = "★" * rating.stars
        width = fm.horizontalAdvance(text) + 8
        badge = QRect(right - width, box.bottom() - 21, width, 18)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 170))
        painter.drawRoundedRect(badge, 4, 4)
        painter.setPen(QColor("#f5c518"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)
    painter.restore()
