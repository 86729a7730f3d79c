"""Where the main window was: its geometry, its splitters, the folder last shown, the thumbnail
size and the grid's sort, kept in an INI file in the data folder (``window-state.ini``), apart
from the person's settings."""

from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMainWindow, QSplitter

from blipdesk.services.photo_filter import SortState, sort_from_json, sort_to_json


class WindowState:
    def __init__(self, data_dir: Path) -> None:
        self.store = QSettings(str(data_dir / "window-state.ini"), QSettings.Format.IniFormat)

    def restore(self, window: QMainWindow, splitters: dict[str, QSplitter]) -> None:
        geometry = self.store.value("geometry")
        if geometry is not None:
            window.restoreGeometry(geometry)
        else:
            window.resize(1320, 820)
        for key, splitter in splitters.items():
            value = self.store.value(key)
            if value is not None:
                splitter.restoreState(value)

    def save(self, window: QMainWindow, splitters: dict[str, QSplitter]) -> None:
        self.store.setValue("geometry", window.saveGeometry())
        for key, splitter in splitters.items():
            self.store.setValue(key, splitter.saveState())
        self.store.sync()

    def last_folder(self) -> str | None:
        last = self.store.value("lastFolder")
        return last if isinstance(last, str) and os.path.isdir(last) else None

    def set_last_folder(self, folder: str) -> None:
        self.store.setValue("lastFolder", folder)

    def forget_last_folder(self) -> None:
        self.store.remove("lastFolder")

    def thumb_size(self) -> int | None:
        value = self.store.value("thumbSize")
        try:
            return int(value) if value is not None else None
        except (TypeError, ValueError):
            return None

    def set_thumb_size(self, px: int) -> None:
        self.store.setValue("thumbSize", int(px))

    def sort(self) -> SortState | None:
        value = self.store.value("sort")
        if not isinstance(value, str):
            return None
        try:
            return sort_from_json(json.loads(value))
        except ValueError:
            return None

    def set_sort(self, sort: SortState) -> None:
        self.store.setValue("sort", json.dumps(sort_to_json(sort)))
