"""Settings, model download, and crash dialogs."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThreadPool, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from blipdesk.core.feature_cache import human_bytes as human_size
from blipdesk.infra.paths import Paths
from blipdesk.qt.widgets.library_options import LibraryOptions
from blipdesk.services.settings import Settings
from blipdesk.store import database_bytes


def folder_size(path: Path) -> int:
    total = 0
    if path.is_dir():
        for p in path.rglob("*"):
            with contextlib.suppress(OSError):
                total += p.stat().st_size if p.is_file() else 0
    return total


MODEL_CHOICES = (
    ("Salesforce/blip-itm-large-flickr", "BLIP large: most accurate (default)"),
    ("Salesforce/blip-itm-base-flickr", "BLIP base: faster on a CPU"),
)
# What each choice trades (benchmarks/results/2026-11-28-2core-xeon-new-sentence-fp32.log).
MODEL_NOTES = {
    "Salesforce/blip-itm-large-flickr": "ViT-L/16 vision tower, 1.8 GB download. The default: "
    "the more accurate of the two (the BLIP paper, Flickr30k retrieval).",
    "Salesforce/blip-itm-base-flickr": "ViT-B/16 vision tower, 0.9 GB download: a first scan "
    "costs about a third of large's on a CPU, for somewhat lower accuracy (the BLIP paper puts large "
    "ahead on Flickr30k retrieval). Scores and the vision cache are kept apart per model.",
    "": "Any BlipForImageTextRetrieval: a Hugging Face hub id or a local folder with its files.",
}
# What "Match scoring" changes, for people (the setting is the ITM head's first token).
FIRST_TOKEN_HELP = (
    "How a photo and a sentence are compared. The model card's way is the default and what the "
    "published scores use; the original BLIP retrieval code's way can rank a little differently. "
    "Changing it scores every photo again (each way keeps its own scores)."
)


def vision_cache_size(database: Path) -> tuple[int, int]:
    """(bytes, photos) of the vision cache, from its index; (0, 0) when there is no cache yet."""
    from blipdesk.store import Library

    if not database.is_file():
        return 0, 0
    try:
        with Library.open(database, readonly=True) as lib:
            return lib.features_total(), lib.features_count()
    except Exception:  # a cache that cannot be read shows as empty here; scans say why
        return 0, 0


class _Sizer(QObject):
    """Carries a size measured in the thread pool back to the dialog (queued to the GUI thread)."""

    measured = Signal(str)


class SettingsDialog(QDialog):
    """Model, device, precision, batch size, recursive scanning, cache location and sizes.

    Clearing scores or the feature cache is only asked for here (``clearScoresRequested``,
    ``clearFeaturesRequested``, after a confirmation): the window runs it off the GUI thread and
    calls ``set_clearing`` as it starts and ends, and ``set_scanning`` while a scan runs.

    The GUI thread never imports torch: the inference worker lists the devices (``devices``, a
    sequence of ``Device`` or ``None`` while it is still looking) and ``set_devices`` fills the
    list in when the answer arrives."""

    clearScoresRequested = Signal()  # confirmed; the window runs it off the GUI thread
    clearFeaturesRequested = Signal()

    def __init__(self, settings: Settings, data_dir: Path, devices=None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setObjectName("settingsDialog")
        self.data_dir = data_dir
        form = QFormLayout()
        self.model = QLineEdit(settings.model)
        self.model.setObjectName("modelSource")
        self.model.textChanged.connect(self._model_changed)
        browse = QPushButton("Local folder…")
        browse.clicked.connect(self._browse)
        self.model_choice = QComboBox()
        self.model_choice.setObjectName("modelChoice")
        for source, label in MODEL_CHOICES:
            self.model_choice.addItem(label, source)
        self.model_choice.addItem("Other: a hub id or a local folder", "")
        self.model_choice.activated.connect(self._model_chosen)
        row = QHBoxLayout()
        row.addWidget(self.model_choice)
        row.addWidget(self.model, 1)
        row.addWidget(browse)
        form.addRow("Model:", row)
        self.model_note = QLabel()
        self.model_note.setWordWrap(True)
        self.model_note.setObjectName("modelNote")
        form.addRow("", self.model_note)
        self.device = QComboBox()
        self.device.setObjectName("deviceChoice")
        self._device_setting = settings.device
        self.set_devices(devices)
        form.addRow("Device:", self.device)
        self.precision = QComboBox()
        self.precision.addItems(["auto", "fp32", "bf16", "fp16"])
        self.precision.setCurrentText(settings.precision)
        form.addRow("Precision:", self.precision)
        self.batch = QSpinBox(minimum=0, maximum=256)
        self.batch.setSpecialValueText("Automatic")  # 0: 64 on a GPU, 8 on the CPU
        self.batch.setValue(settings.batch_size)
        form.addRow("Batch size:", self.batch)
        self.recursive = QCheckBox("Include subfolders when scanning and showing a folder")
        self.recursive.setChecked(settings.recursive)
        form.addRow("Scanning:", self.recursive)
        self.library = LibraryOptions(settings)  # folders that change, RAW + JPEG pairs
        form.addRow("Library:", self.library)
        self.first_token = QComboBox()
        self.first_token.setObjectName("firstToken")
        self.first_token.addItem("As the model card does (recommended)", "cls")
        self.first_token.addItem("As the original BLIP retrieval code does", "enc")
        self.first_token.setCurrentIndex(max(0, self.first_token.findData(settings.first_token)))
        self.first_token.setToolTip(FIRST_TOKEN_HELP)
        match_label = QLabel("Match scoring:")
        match_label.setToolTip(FIRST_TOKEN_HELP)
        form.addRow(match_label, self.first_token)
        # The cache: where it is, what each part weighs, and a way to empty each part.
        self.cache_label = QLabel(str(data_dir))
        self.cache_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("Cache:", self.cache_label)
        self.scores_size = QLabel()
        self.clear_scores_button = QPushButton("Clear scores…")
        self.clear_scores_button.setObjectName("clearScores")
        self.clear_scores_button.clicked.connect(self._clear_scores)
        form.addRow("Scores:", self._cache_row(self.scores_size, self.clear_scores_button))
        self.thumbs_size = QLabel()
        self._sizer = _Sizer(self)
        self._sizer.measured.connect(self.thumbs_size.setText)
        self.clear_button = QPushButton("Clear thumbnail cache")
        self.clear_button.clicked.connect(self._clear_cache)
        form.addRow("Thumbnails:", self._cache_row(self.thumbs_size, self.clear_button))
        # The vision cache: what makes a new tag or a search cost only its text side.
        self.feature_cache = QCheckBox(
            "Keep each photo's vision output: new tags and searches skip the vision pass"
        )
        self.feature_cache.setObjectName("featureCache")
        self.feature_cache.setChecked(settings.feature_cache)
        self.feature_cache.setToolTip(
            "The vision pass is ~90% of a photo's cost. With this on it runs once per photo; "
            "every later tag sentence or search costs only the text side."
        )
        form.addRow("Vision cache:", self.feature_cache)
        self.feature_format = QComboBox()
        self.feature_format.setObjectName("featureFormat")
        self.feature_format.addItem("Compact (8-bit, 0.6 MB per photo)", "compact")
        self.feature_format.addItem("Exact (fp16, 1.2 MB per photo)", "fp16")
        self.feature_format.setCurrentIndex(
            max(0, self.feature_format.findData(settings.feature_format))
        )
        self.feature_format.setToolTip(
            "Compact scores within about 0.002 of a fresh pass (match probability); exact keeps "
            "half precision at twice the disk."
        )
        self.feature_budget = QDoubleSpinBox(minimum=0.0, maximum=100000.0, decimals=1)
        self.feature_budget.setObjectName("featureBudget")
        self.feature_budget.setSuffix(" GB")
        self.feature_budget.setValue(settings.feature_budget / 1e9)
        self.feature_budget.setToolTip(
            "Past this size the least recently used photos' vision outputs are removed first; "
            "those photos pay the vision pass again the next time a new sentence reaches them."
        )
        budget_row = QWidget()
        budget_layout = QHBoxLayout(budget_row)
        budget_layout.setContentsMargins(0, 0, 0, 0)
        budget_layout.addWidget(self.feature_format)
        budget_layout.addWidget(QLabel("at most"))
        budget_layout.addWidget(self.feature_budget)
        budget_layout.addStretch(1)
        form.addRow("", budget_row)
        self.feature_cache.toggled.connect(self.feature_format.setEnabled)
        self.feature_cache.toggled.connect(self.feature_budget.setEnabled)
        self.feature_format.setEnabled(settings.feature_cache)
        self.feature_budget.setEnabled(settings.feature_cache)
        self.features_size = QLabel()
        self.features_size.setObjectName("featuresSize")
        self.clear_features_button = QPushButton("Clear vision cache…")
        self.clear_features_button.setObjectName("clearFeatures")
        self.clear_features_button.clicked.connect(self._clear_features)
        self._features_row = self._cache_row(self.features_size, self.clear_features_button)
        form.addRow("", self._features_row)
        self._form = form
        self._scanning = False
        self._clearing: set[str] = set()
        self.show_cache()
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self._settings = settings
        self._model_changed(settings.model)
        # As tall as the form needs: a fixed height left a large gap above OK (issue 14.12).
        self.resize(640, self.sizeHint().height())
        self._buttons = buttons

    def set_devices(self, devices) -> None:
        """Automatic, each accelerator by name, and the CPU (alone when there is no GPU)."""
        current = self.device.currentData() or self._device_setting
        self.device.clear()
        self.device.addItem("Automatic (best available)", "auto")
        if devices is None:
            self.device.addItem("Looking for GPUs…", None)
            model = self.device.model()  # a combo box's own model is a QStandardItemModel
            item = model.item(1) if isinstance(model, QStandardItemModel) else None
            if item is not None:
                item.setEnabled(False)
        else:
            for d in devices:
                self.device.addItem(d.label, d.value)
        self.device.addItem("CPU", "cpu")
        if self.device.findData(current) < 0:
            self.device.addItem(current, current)  # a setting this machine does not list
        self.device.setCurrentIndex(self.device.findData(current))

    def settings(self) -> Settings:
        return self.library.apply(self._settings).with_changes(
            model=self.model.text().strip() or self._settings.model,
            device=self.device.currentData() or self._device_setting,
            precision=self.precision.currentText(),
            batch_size=self.batch.value(),
            recursive=self.recursive.isChecked(),
            first_token=self.first_token.currentData() or "cls",
            feature_cache=self.feature_cache.isChecked(),
            feature_format=self.feature_format.currentData() or "compact",
            feature_budget=round(self.feature_budget.value() * 1e9),
        )

    def _model_chosen(self, index: int) -> None:
        source = self.model_choice.itemData(index)
        if source:
            self.model.setText(source)
        else:
            self.model.setFocus()

    def _model_changed(self, text: str) -> None:
        index = self.model_choice.findData(text.strip())
        if index < 0:
            index = self.model_choice.count() - 1  # "Other"
        self.model_choice.setCurrentIndex(index)
        self.model_note.setText(MODEL_NOTES.get(text.strip(), MODEL_NOTES[""]))

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Model folder (with config.json)")
        if folder:
            self.model.setText(folder)

    @staticmethod
    def _cache_row(label: QLabel, button: QPushButton) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(label, 1)
        layout.addWidget(button)
        return row

    def _measure_thumbnails(self, folder: Path) -> None:
        """The thumbnail folder can hold tens of thousands of files: walked in the thread pool,
        never on the GUI thread; the label says so until the answer arrives."""
        self.thumbs_size.setText("measuring…")
        sizer = self._sizer

        def measure() -> None:
            text = human_size(folder_size(folder))
            with contextlib.suppress(RuntimeError):  # the dialog closed meanwhile
                sizer.measured.emit(text)

        QThreadPool.globalInstance().start(measure)

    def show_cache(self) -> None:
        """Sizes on disk: the database with its WAL, the thumbnails, the vision cache (from its
        index in the database: no walk over a folder of 100,000 files on the GUI thread)."""
        paths = Paths(self.data_dir)
        self.scores_size.setText(human_size(database_bytes(paths.database)))
        self._measure_thumbnails(paths.thumbnails_dir)
        total, count = vision_cache_size(paths.database)
        self.features_size.setText(f"{human_size(total)} for {count} photos" if count else "empty")
        self._update_buttons()

    def set_scanning(self, scanning: bool) -> None:
        """A scan writes scores and features: clearing them meanwhile is refused."""
        self._scanning = scanning
        self._update_buttons()

    def set_clearing(self, what: str, clearing: bool) -> None:
        """``what`` ("scores" or "features") is being cleared off the GUI thread, or is done."""
        (self._clearing.add if clearing else self._clearing.discard)(what)
        if clearing:
            button = self.clear_scores_button if what == "scores" else self.clear_features_button
            button.setText("Clearing…")
        else:
            self.clear_scores_button.setText("Clear scores…")
            self.clear_features_button.setText("Clear vision cache…")
            self.show_cache()
        self._update_buttons()

    def _update_buttons(self) -> None:
        idle = {
            "scores": "Forget every cached score; the next scan recomputes them.",
            "features": "Delete the stored vision outputs; new tags and searches then need the "
            "vision pass again, once per photo.",
        }
        for what, button in (
            ("scores", self.clear_scores_button),
            ("features", self.clear_features_button),
        ):
            busy = self._scanning or what in self._clearing
            button.setEnabled(not busy)
            if self._scanning:
                button.setToolTip("A scan is running: cancel it or let it finish first.")
            else:
                button.setToolTip("Clearing…" if busy else idle[what])

    def _confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text)
        return answer == QMessageBox.StandardButton.Yes

    def _clear_scores(self) -> None:
        if self._scanning or "scores" in self._clearing:
            return
        if self._confirm(
            "Clear scores",
            "Clear every cached score? Scores are recomputed by the next scan; tags and "
            "thresholds are kept.",
        ):
            self.clearScoresRequested.emit()

    def _clear_features(self) -> None:
        if self._scanning or "features" in self._clearing:
            return
        if self._confirm(
            "Clear vision cache",
            "Delete the vision cache? New tags and searches then decode each photo and run the "
            "vision pass again, once; scores, tags and thresholds are kept.",
        ):
            self.clearFeaturesRequested.emit()

    def _clear_cache(self) -> None:
        """Thumbnails are deleted in the thread pool too (thousands of files)."""
        folder, sizer = self.data_dir / "thumbnails", self._sizer
        self.thumbs_size.setText("clearing…")

        def clear() -> None:
            shutil.rmtree(folder, ignore_errors=True)
            with contextlib.suppress(RuntimeError):  # the dialog closed meanwhile
                sizer.measured.emit(human_size(folder_size(folder)))

        QThreadPool.globalInstance().start(clear)


class DownloadDialog(QDialog):
    """First use: offers the model download (size shown), with progress and cancel."""

    startRequested = Signal()
    cancelRequested = Signal()

    def __init__(self, source: str, approx_bytes: int, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Download the model")
        self.setObjectName("downloadDialog")
        self.label = QLabel(
            f"blipdesk needs the model <b>{source}</b> (about {approx_bytes / 1e9:.1f} GB) to score "
            "photos. It is downloaded once from huggingface.co and then used offline.<br>"
            "Already have it? Choose its folder in File > Settings… > Model instead."
        )
        self.label.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setVisible(False)
        self.buttons = QDialogButtonBox()
        self.start = self.buttons.addButton("Download", QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.start.clicked.connect(self._start)
        self.cancel.clicked.connect(self._cancel)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.buttons)
        self.resize(480, 180)

    def _start(self) -> None:
        self.start.setEnabled(False)
        self.bar.setVisible(True)
        self.bar.setRange(0, 0)
        self.startRequested.emit()

    def _cancel(self) -> None:
        self.cancelRequested.emit()
        self.reject()

    def progress(self, done: int, total: int | None) -> None:
        if total:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(1000 * done / total))
            self.bar.setFormat(f"{done / 1e6:.0f} / {total / 1e6:.0f} MB")

    def finished_with(self, outcome: str) -> None:
        if outcome == "done":
            self.accept()
        elif outcome == "failed":  # the window says why in words (no network: the local folder)
            self.reject()


class CrashDialog(QDialog):
    """A bug: what happened, the traceback, and where the log is. The app keeps running."""

    def __init__(self, summary: str, details: str, log_file: Path, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("blipdesk: unexpected error")
        self.setObjectName("crashDialog")
        label = QLabel(
            f"<b>Something went wrong inside blipdesk.</b><br>{summary}<br><br>"
            f"The details below are also in the log file:<br><code>{log_file}</code>"
        )
        label.setWordWrap(True)
        text = QPlainTextEdit(details)
        text.setReadOnly(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(text)
        layout.addWidget(buttons)
        self.resize(640, 420)


def show_about(parent, data_dir) -> None:
    from blipdesk import __version__

    QMessageBox.about(
        parent,
        "About blipdesk",
        f"<b>blipdesk {__version__}</b><br>Local, private photo tagging with sentences, "
        f"scored by BLIP image-text matching.<br>Data: {data_dir}",
    )
