"""Light or dark: the window follows the system's colour scheme.

Qt reports the desktop's light or dark setting (``QStyleHints.colorScheme``, Qt >= 6.5) and, on
platforms whose theme supports it, hands Fusion (the style ``make_app`` sets) a matching palette.
Where the platform reports dark but its palette stays light (or reports nothing and the user asks
for dark), blipdesk sets a dark Fusion palette itself. The window follows a change of the system's
scheme while it runs. ``BLIPDESK_COLOR_SCHEME=light|dark`` overrides the system (a desktop that
reports nothing; screenshots). The viewer stays dark whatever the scheme (``viewer.py``).
"""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette

SCHEMES = {"light": Qt.ColorScheme.Light, "dark": Qt.ColorScheme.Dark}


def dark_palette() -> QPalette:
    """Fusion's colours on a dark ground (the values Qt's own dark Fusion palette uses)."""
    pal = QPalette()
    R, G = QPalette.ColorRole, QPalette.ColorGroup
    colours = {
        R.Window: "#323232", R.WindowText: "#f0f0f0", R.Base: "#1e1e1e",
        R.AlternateBase: "#3c3c3c", R.ToolTipBase: "#2b2b2b", R.ToolTipText: "#f0f0f0",
        R.PlaceholderText: "#8c8c8c", R.Text: "#f0f0f0", R.Button: "#3c3c3c",
        R.ButtonText: "#f0f0f0", R.BrightText: "#ff6464", R.Light: "#505050",
        R.Midlight: "#464646", R.Mid: "#2d2d2d", R.Dark: "#1e1e1e", R.Shadow: "#0a0a0a",
        R.Highlight: "#2f65ca", R.HighlightedText: "#ffffff", R.Link: "#5aa0ff",
        R.LinkVisited: "#b48cff",
    }  # fmt: skip
    for role, colour in colours.items():
        pal.setColor(role, QColor(colour))
    for role in (R.WindowText, R.Text, R.ButtonText):
        pal.setColor(G.Disabled, role, QColor("#7a7a7a"))
    pal.setColor(G.Disabled, R.Highlight, QColor("#505050"))
    return pal


def wanted_scheme(app: QGuiApplication) -> str:
    """ "light" or "dark": the environment's override, else the system's setting, else light."""
    override = os.environ.get("BLIPDESK_COLOR_SCHEME", "").strip().lower()
    if override in SCHEMES:
        return override
    return "dark" if app.styleHints().colorScheme() == Qt.ColorScheme.Dark else "light"


def apply_scheme(app: QGuiApplication, scheme: str | None = None) -> str:
    """Use ``scheme`` ("light" or "dark"; None: ``wanted_scheme``) and return it."""
    scheme = scheme if scheme in SCHEMES else wanted_scheme(app)
    if scheme == "dark":
        if current_scheme(app.palette()) != "dark":
            app.setPalette(dark_palette())
    else:
        app.setPalette(QPalette())  # the platform's (light) palette again
        if current_scheme(app.palette()) == "dark":  # a platform dark by default
            from PySide6.QtWidgets import QApplication

            style = QApplication.style() if isinstance(app, QApplication) else None
            if style is not None:
                app.setPalette(style.standardPalette())
    return scheme


def follow_system(app: QGuiApplication) -> None:
    """Apply the wanted scheme now and whenever the system's changes."""
    apply_scheme(app)
    if not app.property("blipdeskFollowsScheme"):  # once per application
        app.setProperty("blipdeskFollowsScheme", True)
        app.styleHints().colorSchemeChanged.connect(lambda _scheme: apply_scheme(app))


def current_scheme(pal: QPalette) -> str:
    """ "dark" when the palette's window colour is darker than its text."""
    window = pal.color(QPalette.ColorRole.Window).lightness()
    text = pal.color(QPalette.ColorRole.WindowText).lightness()
    return "dark" if window < text else "light"
