"""How the strip under a thumbnail is painted (``qt/common/badges.py`` says where): stars in a
dark badge, a green ✓ for a pick, a red ✕ for a reject, the colour label's swatch, the file
badges, the tags' dots and a
person's labels; a rejected photo dimmed, as Lightroom and digiKam show them."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QPainter, QPalette

from blipdesk.qt.common.badges import Placed
from blipdesk.qt.common.label_marks import paint_marks

PICK = QColor("#2e9e44")
REJECT = QColor("#c0392b")
STAR = QColor("#f5c518")
DARK = QColor(0, 0, 0, 170)
# The colour labels as Lightroom draws them (``domain.COLOURS``).
SWATCHES = {
    "red": QColor("#d7413b"),
    "yellow": QColor("#e6c229"),
    "green": QColor("#4caf50"),
    "blue": QColor("#3d7be0"),
    "purple": QColor("#9c5bc4"),
}


def dim_reject(painter: QPainter, picture: QRect) -> None:
    """A rejected photo recedes."""
    painter.fillRect(picture, QColor(0, 0, 0, 120))


def paint_strip(painter: QPainter, placed: list[Placed], palette: QPalette) -> None:
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    for item in placed:
        if item.kind in ("dot", "label"):
            continue
        if item.kind == "more":
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(item.rect, Qt.AlignmentFlag.AlignCenter, item.text)
            continue
        if item.kind == "colour":
            painter.setPen(QColor(255, 255, 255, 200))
            painter.setBrush(SWATCHES.get(item.text, DARK))
            painter.drawRoundedRect(item.rect.adjusted(0, 2, 0, -2), 3, 3)
            continue
        fill = {"flag": PICK if item.text == "✓" else REJECT}.get(item.kind, DARK)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawRoundedRect(item.rect, 4, 4)
        painter.setPen(STAR if item.kind == "stars" else QColor("white"))
        painter.drawText(item.rect, Qt.AlignmentFlag.AlignCenter, item.text)
    paint_marks(
        painter,
        [(p.rect, p.mark, p.kind) for p in placed if p.kind in ("dot", "label") and p.mark],
    )
    painter.restore()
