"""The Settings dialog's life: one at a time, window-modal through ``open()`` (caches cleared from
it report back through the running event loop), its buttons following scans and cache clearing,
the accelerators listed once on the inference thread. ``accepted`` carries the new settings; the
window decides what they change.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from blipdesk.qt.controllers.file_actions import FileActions
from blipdesk.qt.widgets.dialogs import SettingsDialog
from blipdesk.qt.workers.inference import DevicesJob, InferenceController, ModelChoice, next_job_id
from blipdesk.services.settings import Settings


class SettingsFlow(QObject):
    accepted = Signal(object)  # Settings
    clearScoresRequested = Signal()
    clearFeaturesRequested = Signal()

    def __init__(
        self,
        controller: InferenceController,
        files: FileActions,
        data_dir: Path,
        model_choice: Callable[[], ModelChoice],
        window: QWidget,
    ) -> None:
        super().__init__(window)
        self.controller, self.files, self.data_dir = controller, files, data_dir
        self.model_choice, self.window = model_choice, window
        self.dialog: SettingsDialog | None = None
        self.devices = None  # accelerators torch sees, listed on the inference thread
        controller.devices.connect(self._devices_listed)
        controller.busyChanged.connect(self._scan_state_changed)
        files.clearingChanged.connect(self._clearing_changed)

    def open(self, settings: Settings) -> SettingsDialog:
        if self.dialog is not None:
            self.dialog.raise_()
            return self.dialog
        dialog = SettingsDialog(settings, self.data_dir, self.devices, self.window)
        dialog.set_scanning(self.controller.scanning())
        for what in self.files.clearing:
            dialog.set_clearing(what, True)
        dialog.clearScoresRequested.connect(self.clearScoresRequested)
        dialog.clearFeaturesRequested.connect(self.clearFeaturesRequested)
        dialog.finished.connect(lambda result: self._closed(dialog, result))
        self.dialog = dialog
        if self.devices is None:
            self.controller.submit(DevicesJob(next_job_id(), self.model_choice()))
        dialog.open()
        return dialog

    def _closed(self, dialog: SettingsDialog, result: int) -> None:
        if self.dialog is dialog:
            self.dialog = None
        dialog.deleteLater()
        if result == SettingsDialog.DialogCode.Accepted:
            self.accepted.emit(dialog.settings())

    def _devices_listed(self, devices) -> None:
        self.devices = devices
        if self.dialog is not None:
            self.dialog.set_devices(devices)

    def _scan_state_changed(self, _busy: bool) -> None:
        if self.dialog is not None:
            self.dialog.set_scanning(self.controller.scanning())

    def _clearing_changed(self, what: str, clearing: bool) -> None:
        if self.dialog is not None:
            self.dialog.set_clearing(what, clearing)
