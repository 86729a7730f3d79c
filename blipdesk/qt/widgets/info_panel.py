"""The information panel: what the current photo's EXIF says (camera, lens, exposure, focal
length, pixels, date taken, GPS), its file type and size, and its rating. Read by
``core/exif.photo_info`` in a background thread (the header only), never on the GUI thread; an
answer for a photo no longer current is dropped."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from blipdesk.qt.common.values import Photo
from blipdesk.qt.workers.tasks import BackgroundTasks

if TYPE_CHECKING:
    from blipdesk.core.exif import PhotoInfo


class InfoPanel(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("infoPanel")
        self.photo: Photo | None = None
        self.info: PhotoInfo | None = None  # of ``photo``, once read
        self.rating_of: Callable[[str], str] | None = None  # path -> "★★★☆☆ · picked"
        self.tasks = BackgroundTasks(self)
        self.tasks.done.connect(self._read)
        self.tasks.failed.connect(lambda _r, message, *_: self._show_error(message))
        self._request = 0
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        title = QLabel("<b>Information</b>")
        layout.addWidget(title)
        self.form = QFormLayout()
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        layout.addLayout(self.form)
        self.note = QLabel("No photo selected")
        self.note.setWordWrap(True)
        self.note.setObjectName("infoNote")
        layout.addWidget(self.note)
        layout.addStretch(1)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)

    def show_photo(self, photo: Photo | None) -> None:
        old = self.photo  # the same file, unchanged on disk since it was read (size, time)
        same = (
            photo is not None
            and old is not None
            and (photo.path, photo.size, photo.mtime) == (old.path, old.size, old.mtime)
        )
        if same and self.info is not None:
            self._fill()  # the same photo again: no new read
            return
        self.photo, self.info = photo, None
        self._clear()
        if photo is None:
            self.note.setText("No photo selected")
            self._request = 0
            return
        from blipdesk.core.exif import photo_info

        self.note.setText("Reading…")
        self._request = self.tasks.start(photo_info, photo.path)

    def refresh(self) -> None:
        """Show again what is known (a rating changed)."""
        if self.info is not None:
            self._fill()

    def values(self) -> dict[str, str]:
        """label -> value as shown (tests, screenshots)."""
        out = {}
        for row in range(self.form.rowCount()):
            label = self.form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            field = self.form.itemAt(row, QFormLayout.ItemRole.FieldRole)
            name = label.widget() if label is not None else None
            value = field.widget() if field is not None else None
            if isinstance(name, QLabel) and isinstance(value, QLabel):
                out[name.text().rstrip(":")] = value.text()
        return out

    def _read(self, request: int, info) -> None:
        if request != self._request or self.photo is None or info.path != self.photo.path:
            return  # a photo no longer shown
        self.info = info
        self._fill()

    def _fill(self) -> None:
        self._clear()
        info = self.info
        if info is None:
            return
        rows = list(info.rows())
        if self.rating_of is not None and self.photo is not None:
            rows.append(("Rating", self.rating_of(self.photo.path)))
        for label, value in rows:
            field = QLabel(value)
            field.setWordWrap(True)
            field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.form.addRow(f"{label}:", field)
        if info.error:
            self.note.setText(f"Cannot read this photo's details: {info.error}")
        elif not (info.camera or info.taken or info.exposure):
            self.note.setText("No camera data (EXIF) in this file.")
        else:
            self.note.setText("")

    def _show_error(self, message: str) -> None:
        self.note.setText(f"Cannot read this photo's details: {message}")

    def _clear(self) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)

    def shutdown(self) -> None:
        self.tasks.shutdown()
