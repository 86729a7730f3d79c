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
from PySide6.QtGui import QUndoCommand, QUndoStack
from PySide6.QtWidgets import QMessageBox, QWidget

from blipdesk.qt.common.score_text import percent_text
from blipdesk.qt.common.undo import Step
from blipdesk.qt.common.values import Photo, Tag
from blipdesk.qt.controllers.tag_writer import TagWriter
from blipdesk.qt.models.tags import TagListModel, TagRoles
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
        undo: QUndoStack | None = None,
    ) -> None:
        """``undo``: where adding, editing, removing a tag and moving its threshold go as
        steps (a drag of the slider is one step)."""
        super().__init__(window)
        self.undo = undo
        self._known = {t.name: t.threshold for t in tags.tags()}  # before the slider moved
        self._restoring = False
        self.tags, self.writer, self.controller = tags, writer, controller
        self.model_choice, self.window = model_choice, window
        self._writes: dict[str, Tag] = {}
        self.database = writer.database  # "Try"'s scores are kept in the cache
        self._save_later = QTimer(self, singleShot=True, interval=300)
        self._save_later.timeout.connect(self.flush)
        tags.tagChanged.connect(self._threshold_moved)
        tags.tagsChanged.connect(self._remember)

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
        """Add ``tag`` (or put it in place of ``replacing``): one undoable step."""
        verb = "new tag" if replacing is None else "tag edited"
        if replacing is not None and replacing.name != tag.name:
            verb = f"tag renamed from “{replacing.name}”"

        def undo() -> None:
            if replacing is None:
                self._remove(tag)
            else:
                self._save(replacing, tag)

        self._push(f"“{tag.name}”: {verb}", lambda: self._save(tag, replacing), undo)

    def _save(self, tag: Tag, replacing: Tag | None) -> None:
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
            self._push(
                f"“{tag.name}”: tag removed",
                lambda: self._remove(tag),
                lambda: self._save(tag, None),
            )

    def _remove(self, tag: Tag) -> None:
        self.tags.set_tags([t for t in self.tags.tags() if t.name != tag.name])
        self.writer.remove(tag.name)

    def _push(self, text: str, redo, undo) -> None:
        if self.undo is None:
            redo()
        else:
            self.undo.push(Step(text, redo, undo))

    # ----------------------------------------------------------------- thresholds

    def _remember(self, tags: list[Tag]) -> None:
        self._known = {t.name: t.threshold for t in tags}

    def _threshold_moved(self, tag: Tag) -> None:
        """The slider moved (the model holds the new threshold): written soon, and one step."""
        before = self._known.get(tag.name, tag.threshold)
        self._writes[tag.name] = tag
        self._save_later.start()
        if self.undo is not None and not self._restoring and before != tag.threshold:
            self.undo.push(_ThresholdStep(self, tag.name, before, tag.threshold))

    def set_threshold(self, name: str, threshold: float) -> None:
        """Put a tag's threshold back (undo, redo) through the model, as the slider does."""
        row = self.tags.row_of(name)
        if row < 0:
            return
        self._restoring = True
        try:
            self.tags.setData(self.tags.index(row), threshold, TagRoles.Threshold)
        finally:
            self._restoring = False

    def flush(self) -> None:
        """Write the thresholds moved since the last write (before a scan, on close)."""
        for tag in self._writes.values():
            self.writer.put(tag)
        self._writes.clear()


class _ThresholdStep(QUndoCommand):
    """A threshold moved: a drag of the slider (many moves of one tag in a row) is one step."""

    def __init__(self, actions: TagActions, name: str, old: float, new: float) -> None:
        super().__init__()
        self.actions, self.name, self.old, self.new = actions, name, old, new
        self._name_it()

    def _name_it(self) -> None:
        self.setText(f"“{self.name}”: threshold {percent_text(self.new)}")

    def id(self) -> int:
        return 2501

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, _ThresholdStep) or other.name != self.name:
            return False
        self.new = other.new
        self._name_it()
        return True

    def redo(self) -> None:  # the first time, the model already holds it
        self.actions.set_threshold(self.name, self.new)

    def undo(self) -> None:
        self.actions.set_threshold(self.name, self.old)
