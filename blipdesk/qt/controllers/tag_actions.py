"""Adding, editing and removing tags, and saving moved thresholds: the window's tag actions.

The tag list itself is ``TagListModel`` (the grid, filter bar and detail panel follow its
``tagsChanged``); this object runs the editor dialog (with "try on this photo" through the
inference controller), writes tags through ``TagWriter`` off the GUI thread, and coalesces the
threshold slider's moves into one write. ``saved`` tells the window a tag was added or edited, so
it can check it on the photos shown.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from blipdesk.qt.common.values import Photo, Tag
from blipdesk.qt.controllers.tag_writer import TagWriter
from blipdesk.qt.models.tags import TagListModel
from blipdesk.qt.widgets.tag_editor import TagEditorDialog
from blipdesk.qt.workers.inference import InferenceController, ModelChoice, TryJob, next_job_id


class TagActions(QObject):
    saved = Signal(object)  # Tag
    renamed = Signal(str, str)  # old name, new name: sent before the tag list changes
    tried = Signal(str, object)  # path, sentence -> SentenceScore: "Try"'s answer, kept

    def __init__(
        self,
        tags: TagListModel,
        writer: TagWriter,
        controller: InferenceController,
        model_choice: Callable[[], ModelChoice],
        window: QWidget,
    ) -> None:
        super().__init__(window)
        self.tags, self.writer, self.controller = tags, writer, controller
        self.model_choice, self.window = model_choice, window
        self._writes: dict[str, Tag] = {}
        self.database = writer.database  # "Try"'s scores are kept in the cache
        self._save_later = QTimer(self, singleShot=True, interval=300)
        self._save_later.timeout.connect(self.flush)
        tags.tagChanged.connect(self._threshold_moved)

    def edit(self, tag: Tag | None, photo: Photo | None) -> None:
        """The editor for ``tag`` (None: a new one); "Try" scores the sentences on ``photo``."""
        names = {t.name for t in self.tags.tags()}
        dialog = TagEditorDialog(tag, names, photo.name if photo else None, self.window)

        def try_it(sentences: tuple[str, ...]) -> None:
            if photo is None:
                return
            dialog.show_try_busy(
                f"Scoring {photo.name}… (the first time, the model loads: 10–60 s)"
            )
            self.controller.submit(
                TryJob(
                    next_job_id(),
                    self.model_choice(),
                    path=photo.path,
                    sentences=sentences,
                    database=self.database,
                )
            )

        def answered(scores) -> None:
            dialog.show_try(scores)
            if photo is not None:
                # Kept: the photo shows these scores once the tag is saved (not "–").
                self.tried.emit(photo.path, dict(scores))

        def failed(message: str, *_args) -> None:
            dialog.show_try_failed(message)

        dialog.tryRequested.connect(try_it)
        links = (
            (self.controller.tried, answered),
            (self.controller.status, dialog.show_try_status),
            (self.controller.failed, failed),
            (self.controller.modelMissing, failed),
        )
        for signal, slot in links:
            signal.connect(slot)
        try:
            if dialog.exec() != dialog.DialogCode.Accepted:
                return
        finally:
            for signal, slot in links:
                signal.disconnect(slot)
        self.save(dialog.tag(), replacing=tag)

    def save(self, tag: Tag, replacing: Tag | None = None) -> None:
        replaced = {tag.name, getattr(replacing, "name", None)}
        if replacing is not None and replacing.name != tag.name:
            self.renamed.emit(replacing.name, tag.name)
        self.tags.set_tags([*(t for t in self.tags.tags() if t.name not in replaced), tag])
        if replacing is not None and replacing.name != tag.name:
            self.writer.remove(replacing.name)
        self.writer.put(tag)
        self.saved.emit(tag)

    def remove(self, tag: Tag) -> None:
        answer = QMessageBox.question(
            self.window, "Remove tag", f"Remove the tag “{tag.name}”? Its cached scores are kept."
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.tags.set_tags([t for t in self.tags.tags() if t.name != tag.name])
            self.writer.remove(tag.name)

    def _threshold_moved(self, tag: Tag) -> None:
        self._writes[tag.name] = tag
        self._save_later.start()

    def flush(self) -> None:
        """Write the thresholds moved since the last write (before a scan, on close)."""
        for tag in self._writes.values():
            self.writer.put(tag)
        self._writes.clear()
