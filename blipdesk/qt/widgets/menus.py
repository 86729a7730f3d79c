"""The main window's menu bar and toolbar. Each action calls one public method of the window, so
the menus, the toolbar, the grid's context menu and the tests all go through the same doors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu


def build_menus(window: Any) -> None:
    """Menus and toolbar for ``window`` (a ``MainWindow``); keeps the actions others reuse as its
    attributes (``scan_action``, ``export_action``…)."""
    bar = window.menuBar()

    def act(menu: QMenu, text: str, slot: Callable[[], Any], shortcut: Any = None) -> QAction:
        return _action(window, menu, text, slot, shortcut)

    file = bar.addMenu("&File")
    window.add_folder_action = act(
        file, "&Add folder…", window.choose_folder, QKeySequence.StandardKey.Open
    )
    act(file, "&Remove folder", window.sidebar.remove_current)
    act(file, "Re&fresh folder", lambda: window.flow.refresh(), "F5")
    file.addSeparator()
    window.scan_action = act(file, "&Scan folder", window.scan, "Ctrl+R")
    act(file, "Se&ttings…", window.open_settings, "Ctrl+,")  # Cmd+, on macOS
    file.addSeparator()
    window.export_action = act(file, "&Export…", lambda: window.export_photos(), "Ctrl+E")
    window.copy_action = act(file, "&Copy to folder…", lambda: window.copy_photos("copy"))
    window.link_action = act(file, "&Link into folder…", lambda: window.copy_photos("symlink"))
    file.addSeparator()
    act(file, "&Quit", window.close, QKeySequence.StandardKey.Quit)
    tags = bar.addMenu("&Tags")
    act(tags, "&New tag…", lambda: window.edit_tag(None), "Ctrl+T")
    tags.addSeparator()
    window.sidecar_action = act(tags, "&Write tags to sidecars…", lambda: window.write_sidecars())
    act(tags, "&Remove blipdesk tags from sidecars…", window.remove_sidecar_tags)
    window.grid.extra_actions = [
        window.sidecar_action, None, window.export_action, window.copy_action, window.link_action
    ]  # fmt: skip
    help_menu = bar.addMenu("&Help")
    act(help_menu, "Open &log file", window.open_log)
    act(help_menu, "&About blipdesk", window.about)
    toolbar = window.addToolBar("Main")
    toolbar.setObjectName("mainToolbar")
    toolbar.setMovable(False)
    toolbar.addAction(window.add_folder_action)
    toolbar.addAction(window.scan_action)
    from blipdesk.qt.controllers.label_actions import install as install_label_actions

    install_label_actions(window)  # issue 13: the Teach menu, ✓ / ✗ labels, more like this


def _action(
    window: QMainWindow, menu: QMenu, text: str, slot: Callable[[], Any], shortcut: Any
) -> QAction:
    action = QAction(text, window)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.triggered.connect(slot)
    menu.addAction(action)
    return action
