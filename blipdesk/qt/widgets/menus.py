"""The main window's menu bar and toolbar. Each action calls one door of ``MenuDoors`` (the main
window's public methods), so the menus, the toolbar, the grid's context menu and the tests all go
through the same doors. Menus that belong to a controller (Teach, View, Photo) are added by that
controller: a widget never imports one.

Keys: every menu action's shortcut is bound window-wide, once, by ``bind_keys`` (called when all
menus are built): a key works wherever the window has the focus, in the grid, the viewer and the
full-screen viewer, which hides the menu bar (an action only in a hidden menu bar fires nothing).
A triggered action calls its slot with no arguments (``QAction.triggered`` sends ``checked``,
which a slot with a defaulted parameter would take for its own: ``more_like_this(top=False)``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu

from blipdesk.qt.common.values import SCAN_ACTION


class _Refreshing(Protocol):
    def refresh(self) -> None: ...


class _Removing(Protocol):
    def remove_current(self) -> None: ...


class _ExtraActions(Protocol):
    extra_actions: list[QAction | None]


class MenuDoors(Protocol):
    """What the menus call. ``flow`` is read when File > Refresh is chosen (it may be made after
    the menus)."""

    @property
    def sidebar(self) -> _Removing: ...
    @property
    def flow(self) -> _Refreshing: ...
    @property
    def grid(self) -> _ExtraActions: ...
    def choose_folder(self) -> None: ...
    def scan(self) -> None: ...
    def open_settings(self) -> object: ...
    def export_photos(self) -> object: ...
    def copy_photos(self, mode: str = ...) -> object: ...
    def edit_tag(self, tag: None) -> None: ...
    def write_sidecars(self) -> object: ...
    def remove_sidecar_tags(self) -> object: ...
    def open_log(self) -> None: ...
    def about(self) -> None: ...


@dataclass(frozen=True)
class MenuActions:
    """The actions others reuse (the toolbar, the grid's context menu, tests)."""

    add_folder: QAction
    scan: QAction
    export: QAction
    copy: QAction
    link: QAction
    sidecars: QAction


def build_menus(main: QMainWindow, doors: MenuDoors) -> MenuActions:
    """File, Tags and Help menus and the main toolbar of ``main``; the grid's context menu gets
    the file actions."""
    bar = main.menuBar()

    def act(menu: QMenu, text: str, slot: Callable[[], Any], shortcut: Any = None) -> QAction:
        return _action(main, menu, text, slot, shortcut)

    file = bar.addMenu("&File")
    add_folder = act(file, "&Add folder…", doors.choose_folder, QKeySequence.StandardKey.Open)
    act(file, "&Remove folder", doors.sidebar.remove_current)
    act(file, "Re&fresh folder", lambda: doors.flow.refresh(), "F5")
    file.addSeparator()
    scan = act(file, f"&{SCAN_ACTION}", doors.scan, "Ctrl+R")
    act(file, "Se&ttings…", doors.open_settings, "Ctrl+,")  # Cmd+, on macOS
    file.addSeparator()
    export = act(file, "&Export…", lambda: doors.export_photos(), "Ctrl+E")
    copy = act(file, "&Copy to folder…", lambda: doors.copy_photos("copy"))
    link = act(file, "&Link into folder…", lambda: doors.copy_photos("symlink"))
    file.addSeparator()
    act(file, "&Quit", main.close, QKeySequence.StandardKey.Quit)
    tags = bar.addMenu("&Tags")
    act(tags, "&New tag…", lambda: doors.edit_tag(None), "Ctrl+T")
    tags.addSeparator()
    sidecars = act(tags, "&Write tags to sidecars…", lambda: doors.write_sidecars())
    act(tags, "&Remove blipdesk tags from sidecars…", doors.remove_sidecar_tags)
    doors.grid.extra_actions = [sidecars, None, export, copy, link]
    help_menu = bar.addMenu("&Help")
    act(help_menu, "Open &log file", doors.open_log)
    act(help_menu, "&About blipdesk", doors.about)
    toolbar = main.addToolBar("Main")
    toolbar.setObjectName("mainToolbar")
    toolbar.setMovable(False)
    toolbar.addAction(add_folder)
    toolbar.addAction(scan)
    return MenuActions(add_folder, scan, export, copy, link, sidecars)


def _action(
    window: QMainWindow, menu: QMenu, text: str, slot: Callable[[], Any], shortcut: Any
) -> QAction:
    action = QAction(text, window)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.triggered.connect(lambda _checked=False: slot())
    menu.addAction(action)
    return action


def bind_keys(main: QMainWindow) -> list[QAction]:
    """Bind every menu action that has a key to the window itself (as well as its menu), so the
    key works while the menu bar is hidden (full screen). Actions bound to one widget (the grid's
    Y / N / C) keep their narrower context. Returns the actions bound."""
    bound: list[QAction] = []

    def walk(actions: list[QAction]) -> None:
        for action in actions:
            menu = action.menu()
            if isinstance(menu, QMenu):
                walk(menu.actions())
            elif (
                action.shortcuts()
                and action.shortcutContext() == Qt.ShortcutContext.WindowShortcut
                and action not in main.actions()
            ):
                main.addAction(action)
                bound.append(action)

    walk(main.menuBar().actions())
    return bound
