"""The Settings dialog's "Library" rows: folders that change, RAW + JPEG pairs."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from blipdesk.services.settings import Settings


class LibraryOptions(QWidget):
    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("libraryOptions")
        self.watch = QCheckBox("Follow the library folders while blipdesk is open")
        self.watch.setChecked(settings.watch_folders)
        self.scan_new = QCheckBox("Scan new and changed photos in the background")
        self.scan_new.setChecked(settings.scan_new_photos)
        self.watch.toggled.connect(self.scan_new.setEnabled)
        self.scan_new.setEnabled(settings.watch_folders)
        self.pairs = QCheckBox("Show a RAW file and its JPEG as one photo (the JPEG is scored)")
        self.pairs.setChecked(settings.group_pairs)
        self.pair_sidecars = QComboBox()
        self.pair_sidecars.addItem("the RAW file (Lightroom, darktable)", "raw")
        self.pair_sidecars.addItem("the JPEG file", "jpeg")
        self.pair_sidecars.setCurrentIndex(
            max(0, self.pair_sidecars.findData(settings.pair_sidecars))
        )
        self.pairs.toggled.connect(self.pair_sidecars.setEnabled)
        self.pair_sidecars.setEnabled(settings.group_pairs)
        row = QHBoxLayout()
        row.setContentsMargins(20, 0, 0, 0)
        row.addWidget(QLabel("A pair's sidecar goes to"))
        row.addWidget(self.pair_sidecars, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.watch, self.scan_new, self.pairs):
            layout.addWidget(widget)
        layout.addLayout(row)

    def apply(self, settings: Settings) -> Settings:
        return settings.with_changes(
            watch_folders=self.watch.isChecked(),
            scan_new_photos=self.scan_new.isChecked(),
            group_pairs=self.pairs.isChecked(),
            pair_sidecars=self.pair_sidecars.currentData() or "raw",
        )
