"""Preview, then write (or take back) matched tags in XMP sidecars.

The dialog shows, per sidecar, the tags that would be added and removed and whether the file is
created or deleted, before anything is written. Plans are computed and applied on a
``BackgroundTasks`` thread (reading hundreds of sidecars must not freeze the window); applying
carries out exactly the previewed plans, and a sidecar edited meanwhile is refused, not
overwritten (``blipdesk.services.sidecars.apply``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

from blipdesk.qt.workers.tasks import BackgroundTasks
from blipdesk.services.jobs import apply_sidecar_plans, plan_remove, plan_write

NAMINGS = (
    ("jpg.xmp", "photo.jpg.xmp  (darktable, digiKam)"),
    ("xmp", "photo.xmp  (Lightroom, Capture One)"),
)
ERROR_COLOUR = QColor("#c0392b")


class SidecarDialog(QDialog):
    """``mode`` "write": ``scopes`` is [(label, {photo path: [matched tag names]})], the first
    one chosen. ``mode`` "remove": every sidecar under ``folders``. Paths are shown relative to
    the first of ``folders``."""

    planned = Signal()  # a preview is shown
    applied = Signal(object)  # SidecarRun

    def __init__(
        self,
        tasks: BackgroundTasks,
        mode: str = "write",
        scopes: Sequence[tuple[str, Mapping[str, Sequence[str]]]] = (),
        folders: Sequence[str] = (),
        recursive: bool = True,
        parent=None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("sidecarDialog")
        self.tasks, self.mode = tasks, mode
        self.scopes = list(scopes)
        self.folders, self.recursive = tuple(folders), recursive
        self.plans: list = []
        self.run = None  # SidecarRun once applied
        self._request = 0
        writing = mode == "write"
        self.setWindowTitle("Write tags to sidecars" if writing else "Remove blipdesk tags")
        intro = QLabel(
            "Each photo's matched tags go into an XMP sidecar next to it, merged with what is "
            "there, for digiKam, darktable and Lightroom. Photos themselves are never changed."
            if writing
            else "blipdesk's keywords are taken out of every sidecar in "
            f"<b>{', '.join(os.path.basename(f) or f for f in self.folders)}</b>"
            f"{' and its subfolders' if recursive else ''}; other keywords stay. Sidecars that "
            "blipdesk created and that hold nothing else are deleted."
        )
        intro.setWordWrap(True)
        form = QFormLayout()
        self.scope = QComboBox()
        self.naming = QComboBox()
        if writing:
            for label, _tags in self.scopes:
                self.scope.addItem(label)
            for value, label in NAMINGS:
                self.naming.addItem(label, value)
            form.addRow("Photos:", self.scope)
            form.addRow("Sidecar name:", self.naming)
            self.scope.currentIndexChanged.connect(self.preview)
            self.naming.currentIndexChanged.connect(self.preview)
        self.tree = QTreeWidget()
        self.tree.setObjectName("sidecarPreview")
        self.tree.setHeaderLabels(["Sidecar", "Change", "Adds", "Removes"])
        self.tree.setRootIsDecorated(False)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a long path keeps its name
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2, 3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.buttons = QDialogButtonBox()
        self.go = self.buttons.addButton(
            "Write" if writing else "Remove", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.go.clicked.connect(self.apply)
        self.close_button.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.summary)
        self.bar = QProgressBar()
        self.bar.setObjectName("sidecarProgress")
        self.bar.hide()
        layout.addWidget(self.bar)
        layout.addWidget(self.buttons)
        tasks.done.connect(self._done)
        tasks.failed.connect(self._failed)
        tasks.progress.connect(self._progress)
        self._listening = True
        self.resize(760, 460)
        self.preview()

    # ----------------------------------------------------------------- state

    def chosen_naming(self) -> str:
        return self.naming.currentData() or "jpg.xmp"

    def preview(self) -> None:
        """(Re)compute the plans for the current choice, off the GUI thread."""
        self.plans = []
        self.tree.clear()
        self.go.setEnabled(False)
        self.summary.setText("Reading the sidecars…")
        if self.mode == "write":
            tags = self.scopes[self.scope.currentIndex()][1] if self.scopes else {}
            self._request = self.tasks.start(plan_write, dict(tags), self.chosen_naming())
        else:
            self._request = self.tasks.start(plan_remove, self.folders, self.recursive)

    def apply(self) -> None:
        changing = [p for p in self.plans if getattr(p, "changes", False)]
        self.go.setEnabled(False)
        self.scope.setEnabled(False)
        self.naming.setEnabled(False)
        self.summary.setText(f"Writing {len(changing):,} sidecars…")
        self.bar.setRange(0, max(1, len(changing)))
        self.bar.setValue(0)
        self.bar.show()
        self._request = self.tasks.start(apply_sidecar_plans, changing, with_progress=True)

    def _progress(self, request: int, done: int, total: int) -> None:
        if request == self._request:
            self.bar.setRange(0, max(1, total))
            self.bar.setValue(done)
            self.summary.setText(f"Writing sidecars: {done:,} of {total:,}…")

    def _done(self, request: int, result) -> None:
        if request != self._request:
            return
        if isinstance(result, list):
            self._show_plans(result)
        else:
            self._show_run(result)

    def _failed(self, request: int, message: str, _user: bool, _details: str) -> None:
        if request != self._request:
            return
        self.summary.setText(f"<span style='color:{ERROR_COLOUR.name()}'>{message}</span>")

    # ----------------------------------------------------------------- showing

    def _show_plans(self, plans: list) -> None:
        self.plans = plans
        changing = [p for p in plans if getattr(p, "changes", False)]
        errors = [p for p in plans if isinstance(p, Exception)]
        unchanged = len(plans) - len(changing) - len(errors)
        for plan in changing:
            item = QTreeWidgetItem(
                [
                    self._shown_path(plan.path),
                    _change_word(plan),
                    ", ".join(plan.added),
                    ", ".join(plan.removed),
                ]
            )
            tip = str(plan.path)
            if plan.mirrored:
                tip += "\nYour own keywords also copied into the hierarchical fields: " + ", ".join(
                    plan.mirrored
                )
            item.setToolTip(0, tip)
            for col in (2, 3):
                item.setToolTip(col, item.text(col))
            self.tree.addTopLevelItem(item)
        for error in errors:
            item = QTreeWidgetItem([str(error), "cannot write", "", ""])
            item.setToolTip(0, str(error))
            for col in (0, 1):
                item.setForeground(col, QBrush(ERROR_COLOUR))
            self.tree.addTopLevelItem(item)
        created = sum(1 for p in changing if p.creates_file)
        deleted = sum(1 for p in changing if p.deletes_file)
        verb = "write" if self.mode == "write" else "change"
        if not plans:
            text = (
                "Nothing to write: none of these photos is scored yet. Scan the folder first."
                if self.mode == "write"
                else "No sidecars in this folder."
            )
        else:
            parts = [f"<b>{len(changing)}</b> sidecars to {verb}"]
            if created:
                parts.append(f"{created} new")
            if deleted:
                parts.append(f"{deleted} to delete")
            parts.append(f"{unchanged} unchanged")
            if errors:
                parts.append(
                    f"<span style='color:{ERROR_COLOUR.name()}'>{len(errors)} cannot be "
                    "written</span>"
                )
            text = ", ".join(parts) + "."
        self.summary.setText(text)
        self.go.setText(f"{'Write' if self.mode == 'write' else 'Remove from'} {len(changing)}")
        self.go.setEnabled(bool(changing))
        self.planned.emit()

    def _show_run(self, run) -> None:
        self.run = run
        self.bar.setValue(self.bar.maximum())
        created = sum(1 for p in run.changed if p.creates_file)
        deleted = sum(1 for p in run.changed if p.deletes_file)
        text = f"Done: <b>{len(run.changed)}</b> sidecars changed"
        if created:
            text += f" ({created} new)"
        if deleted:
            text += f" ({deleted} deleted)"
        if run.failed:
            text += (
                f", <span style='color:{ERROR_COLOUR.name()}'>{len(run.failed)} failed: "
                + "; ".join(str(e) for e in run.failed[:3])
                + "</span>"
            )
        self.summary.setText(text + ".")
        self.go.setVisible(False)
        self.close_button.setText("Close")
        self.applied.emit(run)

    def _shown_path(self, path) -> str:
        """Relative to the folder, so the column shows what differs between rows."""
        if self.folders:
            try:
                rel = os.path.relpath(path, self.folders[0])
            except ValueError:
                return str(path)
            if not rel.startswith(".."):
                return rel
        return str(path)

    def done(self, result: int) -> None:
        if self._listening:
            self._listening = False
            self.tasks.done.disconnect(self._done)
            self.tasks.failed.disconnect(self._failed)
            self.tasks.progress.disconnect(self._progress)
        super().done(result)


def _change_word(plan) -> str:
    if plan.deletes_file:
        return "delete"
    if plan.creates_file:
        return "create"
    return "update"
