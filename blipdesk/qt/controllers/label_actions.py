"""Teaching tags in the window (issue 13): labels (✓ yes / ✗ no / clear) on the selection (each one step of Edit > Undo),
review borderline, calibrate, tags from examples, more like this; a click on a tag's dot or ✓ / ✗
on a thumbnail labels that photo; Teach > Show only filters by labels.

Created by ``qt/window.py`` after the main menus (it adds a Teach menu, the grid's context menu
entries, a toolbar button, and a ✓ / ✗ / Clear row under the detail panel's scores); it is given
the parts it acts on, never the window's own methods. The tag acted on is the one selected in the
detail panel's score tree, else in the tags panel. A label shows at once on the board
(``ScoreBoard.set_label``); the write (by content) runs in this object's own background task
queue (``BackgroundTasks``: one thread, in order), then the folder's cached scores and labels are
read again, so other copies of the same content follow. Calibrations are computed off the GUI
thread too and applied only when the person says so.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QPoint, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QBoxLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QToolBar,
    QWidget,
)

from blipdesk.qt.common.label_marks import NO, YES
from blipdesk.qt.common.undo import Step, photos_text
from blipdesk.qt.common.values import ScoreBoard, Tag
from blipdesk.qt.controllers.shown_folder import ShownFolder
from blipdesk.qt.widgets.detail_panel import DetailPanel
from blipdesk.qt.widgets.filter_bar import FilterBar
from blipdesk.qt.widgets.photo_grid import PhotoGrid
from blipdesk.qt.widgets.tags_panel import TagsPanel
from blipdesk.qt.workers.tasks import BackgroundTasks
from blipdesk.qt.workers.thumbnails import ThumbnailLoader
from blipdesk.services import teach_jobs as jobs
from blipdesk.services.options import model_choice
from blipdesk.services.settings import Settings

ANY_LABEL = "Any photo, labelled or not"
LABEL_FILTERS: dict[str, str | None] = {  # menu text -> the filter's labels (photo_filter.LABELS)
    ANY_LABEL: None,
    "Labelled by me (any tag)": "labelled",
    f"{YES} Confirmed (any tag)": "confirmed",
    f"{NO} Rejected (any tag)": "rejected",
    "Not labelled": "unlabelled",
}


class LabelActions(QObject):
    message = Signal(str, int)  # status-bar text, milliseconds to show it (0: until replaced)

    def __init__(
        self,
        main: QMainWindow,
        shown: ShownFolder,
        grid: PhotoGrid,
        detail: DetailPanel,
        tags_panel: TagsPanel,
        board: ScoreBoard,
        previews: ThumbnailLoader,
        database: str,
        settings: Callable[[], Settings],
        after_scores: Callable[[], None],
        warn: Callable[[str, str], None],
        filter_bar: FilterBar,
        undo: QUndoStack | None = None,
    ) -> None:
        """``main``: the menus and the parent of dialogs; ``after_scores``: the tags panel,
        detail panel and viewer follow the board; ``warn``: a message box for a failure;
        ``undo``: where each labelling goes as one step (Edit > Undo)."""
        super().__init__(main)
        self.main, self.shown, self.grid, self.detail = main, shown, grid, detail
        self.tags, self.photos, self.tags_panel = shown.tags, shown.photos, tags_panel
        self.board, self.previews, self.database = board, previews, database
        self.settings, self.after_scores, self.warn = settings, after_scores, warn
        self.filter_bar = filter_bar  # Teach > Show only: a criterion of the one filter
        self.message.connect(main.statusBar().showMessage)
        self.tasks = BackgroundTasks(self)
        self.tasks.done.connect(self._done)
        self.tasks.failed.connect(lambda request, message, *_: self._failed(request, message))
        self.undo = undo
        self.review: Any = None
        self._like_query = "more like this"  # how the banner names the last More like this
        self.proposal_box: Any = None
        self._purpose: dict[int, str] = {}
        # Labels shown before the cache holds them: request -> [paths' values, tag, the cache
        # read that will hold them (None while the write runs)]. A cache read asked for before
        # a write landed must not take its label off the board again.
        self._shown: dict[int, list] = {}
        shown.scoresLoaded.connect(self._reapply)
        self._build()

    # ----------------------------------------------------------------- wiring

    def _build(self) -> None:
        w = self.main
        bar = w.menuBar()
        help_menu = next((a for a in bar.actions() if a.text() == "&Help"), None)
        menu = bar.addMenu("T&each")
        if help_menu is not None:  # before Help, where menus end
            bar.insertMenu(help_menu, menu)

        def act(text: str, slot, shortcut: str | None = None, grid: bool = False) -> QAction:
            action = QAction(text, w)
            if shortcut:
                action.setShortcut(QKeySequence(shortcut))
                if grid:  # single keys: only while the grid has the focus (never the search box)
                    action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                    self.grid.addAction(action)
            action.triggered.connect(lambda _checked=False: slot())
            menu.addAction(action)
            return action

        self.yes_action = act(f"{YES} &Yes, this tag applies", lambda: self.label(True), "Y", True)
        self.no_action = act(f"{NO} &No, it does not", lambda: self.label(False), "N", True)
        # Shift+C: C is Compare, as in Lightroom
        self.clear_action = act("&Clear the label", lambda: self.label(None), "Shift+C", True)
        menu.addSeparator()
        self.review_action = act("&Review borderline photos…", self.start_review, "Ctrl+B")
        self.calibrate_action = act("C&alibrate the tag from its labels…", self.calibrate)
        self.examples_action = act("New tag from &examples (the selection)…", self.from_examples)
        menu.addSeparator()
        self.like_action = act("&More like this", self.more_like_this, "Ctrl+L")
        menu.addSeparator()
        show = menu.addMenu("&Show only")
        group = QActionGroup(show)
        self.show_actions: dict[str, QAction] = {}
        for text in LABEL_FILTERS:
            action = QAction(text, show, checkable=True)
            action.triggered.connect(lambda _c=False, t=text: self.show_only(t))
            group.addAction(action)
            show.addAction(action)
            self.show_actions[text] = action
        self.show_actions[ANY_LABEL].setChecked(True)

        def follow(state) -> None:  # a saved view or a chip's ✕: the menu follows
            for text, action in self.show_actions.items():
                action.setChecked(LABEL_FILTERS[text] == state.labels)

        self.filter_bar.filterChanged.connect(follow)
        self.mark_menu: QMenu | None = None
        self.grid.tagMarkClicked.connect(self.mark_clicked)
        self.grid.extra_actions += [None, self.yes_action, self.no_action, self.like_action]
        toolbar = w.findChild(QToolBar, "mainToolbar")
        if toolbar is not None:
            toolbar.addAction(self.like_action)
        # ✓ / ✗ / Clear under the detail panel's scores
        self.bar = QWidget()
        self.bar.setObjectName("labelBar")
        row = QHBoxLayout(self.bar)
        row.setContentsMargins(0, 0, 0, 0)
        self.bar_label = QLabel("Label:")
        # never wider than the panel gives it (a long tag name must not widen the panel)
        self.bar_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        row.addWidget(self.bar_label, 1)
        self.bar_buttons: list[QPushButton] = []
        for text, value, tip in (
            (f"{YES} Yes", True, "The selected tag applies to the selected photos (Y)"),
            (f"{NO} No", False, "The selected tag does not apply to them (N)"),
            ("Clear", None, "Forget your label: the model decides again (Shift+C)"),
        ):
            button = QPushButton(text)
            button.setToolTip(tip)
            button.clicked.connect(lambda _=False, v=value: self.label(v))
            row.addWidget(button)
            self.bar_buttons.append(button)
        layout = self.detail.layout()
        assert isinstance(layout, QBoxLayout)  # the panel's column
        layout.insertWidget(layout.indexOf(self.detail.scores) + 1, self.bar)
        self.detail.scores.currentItemChanged.connect(lambda *_: self._show_target())
        self.grid.currentPhotoChanged.connect(lambda *_: self._show_target())
        self._show_target()

    def _show_target(self) -> None:
        tag = self.current_tag()
        metrics = self.bar_label.fontMetrics()
        name = "" if tag is None else metrics.elidedText(tag.name, Qt.TextElideMode.ElideRight, 80)
        self.bar_label.setText(f"“{name}”:" if tag else "Label:")
        # The menus and the grid's context menu say which tag Y and N label.
        named = (
            "" if tag is None else metrics.elidedText(tag.name, Qt.TextElideMode.ElideRight, 200)
        )
        named = named.replace("&", "&&")
        self.yes_action.setText(
            f"{YES} &Yes, “{named}” applies" if tag else f"{YES} &Yes, this tag applies"
        )
        self.no_action.setText(
            f"{NO} &No, “{named}” does not apply" if tag else f"{NO} &No, it does not"
        )
        for button in self.bar_buttons:  # nothing to label without a photo and a tag
            button.setEnabled(tag is not None and self.grid.current_photo() is not None)
        self.bar_label.setToolTip(
            f"Y / N / C label the selected photos for “{tag.name}”"
            if tag
            else "Choose a tag in the scores above (or the tags panel) to label photos"
        )

    def current_tag(self) -> Tag | None:
        item = self.detail.scores.currentItem()
        while item is not None and item.parent() is not None:
            item = item.parent()
        names = {t.name: t for t in self.tags.tags()}
        if item is not None:
            name = item.data(0, Qt.ItemDataRole.UserRole) or item.text(0)
            if name in names:
                return names[name]
        tag = self.tags_panel.current_tag()
        if tag is not None:
            return tag
        return next(iter(names.values())) if len(names) == 1 else None

    def _selection(self) -> list[str]:
        photos = self.grid.selected_photos()
        if not photos and self.grid.current_photo() is not None:
            photos = [self.grid.current_photo()]
        return [p.path for p in photos]

    def _start(self, purpose: str, fn, *args) -> int:
        request = self.tasks.start(fn, *args)
        self._purpose[request] = purpose
        return request

    def _refresh(self, paths: list[str]) -> None:
        self.photos.scores_changed(paths)
        self.after_scores()

    # ----------------------------------------------------------------- labels

    def label(self, value: bool | None, tag: Tag | None = None, paths=None) -> int | None:
        """Label ``paths`` (the selection) for ``tag`` (the current one): one undoable step."""
        tag = tag or self.current_tag()
        paths = list(paths) if paths is not None else self._selection()
        if tag is None or not paths:
            self.message.emit("Select photos and a tag (in the detail panel) to label.", 6000)
            return None
        name = tag.name
        before = {p: self.board.label(p, name) for p in paths}
        word = {True: "yes", False: "no", None: "label cleared"}[value]
        requests: list[int] = []

        def redo() -> None:  # the first time it says so; Edit > Redo says "Redid: …"
            purpose = "relabel" if requests else "label"
            requests.append(self._write(name, dict.fromkeys(paths, value), purpose))

        if self.undo is None:
            redo()
        else:
            text = f"“{name}”: {word} on {photos_text(len(paths))}"
            self.undo.push(Step(text, redo, lambda: self._write(name, before, "relabel")))
        return requests[-1]

    def _write(self, tag: str, values: dict[str, bool | None], purpose: str) -> int:
        """Shown on the board at once; written by content in the background (one write per
        value, in order). ``purpose``: "label" (announced when it lands) or "relabel"."""
        request = 0
        for value in dict.fromkeys(values.values()):
            paths = [p for p in values if values[p] is value]
            self._refresh(self.board.set_label(paths, tag, value))
            request = self._start(purpose, jobs.label_photos, self.database, tag, paths, value)
            self._shown[request] = [{p: value for p in paths}, tag, None]
        return request

    def _reapply(self) -> None:
        """The cache's labels are on the board: put back those whose write it may not hold."""
        newest = self.shown.cache_request
        for request, (values, tag, ready) in list(self._shown.items()):
            if ready is not None and newest >= ready:
                del self._shown[request]  # read after the write landed: the cache has it
                continue
            for path, value in values.items():
                self.board.set_label([path], tag, value)
            self._refresh(list(values))

    def _failed(self, request: int, message: str) -> None:
        self._purpose.pop(request, None)
        if self._shown.pop(request, None) is not None:
            self.shown.reload_scores()  # the label did not land: show what the cache holds
        self.warn("Teach", message)

    def _landed(self, request: int) -> None:
        """A label write is in the cache: read it back (copies of the same content follow)."""
        self.shown.reload_scores()
        if request in self._shown:
            self._shown[request][2] = self.shown.cache_request

    def _done(self, request: int, result: object) -> None:
        purpose = self._purpose.pop(request, "")
        if purpose == "label" and isinstance(result, jobs.LabelChange):
            word = {True: "yes", False: "no", None: "cleared"}[result.value]
            n = photos_text(len(result.paths))
            self.message.emit(f"“{result.tag}”: {word} on {n} — Ctrl+Z undoes", 6000)
            self._landed(request)
        elif purpose == "relabel":  # undone or redone: the status bar already said so
            self._landed(request)
        elif purpose == "review" and isinstance(result, jobs.TeachData):
            self._open_review(result)
        elif purpose == "calibrate" and isinstance(result, jobs.TeachData):
            self._show_proposal(result)
        elif purpose == "applied":
            self.message.emit(f"“{result}”: calibration applied", 6000)
            self.shown.reload_scores()
        elif purpose == "examples" and isinstance(result, Tag):
            self.tags.set_tags([*self.tags.tags(), result])
            self.shown.reload_scores()
        elif purpose == "like" and isinstance(result, jobs.LikeThis):
            order = result.order()
            self.photos.show_search(self._like_query, order, {})
            self.message.emit(
                f"More like this: {len(result.exact)} exact duplicates and {len(result.near)} "
                f"near-duplicates first, then the {len(result.ranked)} most alike",
                0,
            )

    # ----------------------------------------------------------------- on a thumbnail, filter

    def mark_clicked(self, photo, name: str, where: QPoint) -> QMenu | None:
        """A click on a tag's dot or ✓ / ✗ on a thumbnail: yes / no / clear for that photo and
        tag, in a small menu at the click (the label given, if any, is checked)."""
        tag = self.tags.tag(name)
        if tag is None:
            return None
        said = self.board.label(photo.path, name)
        menu = QMenu(self.main)
        metrics = menu.fontMetrics()
        title = menu.addAction(
            metrics.elidedText(f"“{name}” on {photo.name}", Qt.TextElideMode.ElideMiddle, 320)
        )
        title.setEnabled(False)
        menu.addSeparator()
        for text, value in (
            ("Yes, it applies", True),
            ("No, it does not", False),
            ("Clear my label", None),
        ):
            action = menu.addAction(text)
            if value is not None:
                action.setCheckable(True)
                action.setChecked(said is value)
            else:
                action.setEnabled(said is not None)
            action.triggered.connect(lambda _c=False, v=value: self.label(v, tag, [photo.path]))
        self.mark_menu = menu
        menu.popup(where)
        return menu

    def show_only(self, text: str) -> None:
        """Teach > Show only: the photos a person labelled (for any tag), confirmed, rejected,
        or did not label; a criterion of the one filter (a chip in the filter bar, saved with
        smart views), so it ANDs with the rest."""
        self.show_actions[text].setChecked(True)
        self.filter_bar.set_criteria(labels=LABEL_FILTERS[text])

    def _teach_data(self, purpose: str) -> int | None:
        tag = self.current_tag()
        if tag is None or self.shown.current is None:
            self.message.emit("Choose a tag (in the detail panel) first.", 6000)
            return None
        s = self.settings()
        return self._start(purpose, jobs.teach_data, self.database, model_choice(s),
                           tag.name, self.shown.current, s.recursive)  # fmt: skip

    def start_review(self) -> int | None:
        return self._teach_data("review")

    def _open_review(self, teach: jobs.TeachData):
        from blipdesk.qt.widgets.review_dialog import ReviewDialog

        by_path = {p.path: p for p in self.photos.photos()}

        def request(path: str) -> None:
            if path in by_path:
                self.previews.request([by_path[path]])

        def write(tag: str, paths: list[str], value: bool) -> None:
            t = next((x for x in self.tags.tags() if x.name == tag), None)
            self.label(value, t, paths)

        dialog = ReviewDialog(teach, self.previews.pixmap, request, write, self.main)
        self.previews.thumbnailReady.connect(dialog.show_preview)
        dialog.finished.connect(
            lambda *_: self.previews.thumbnailReady.disconnect(dialog.show_preview)
        )
        self.review = dialog
        dialog.show()
        return dialog

    def calibrate(self) -> int | None:
        return self._teach_data("calibrate")

    def _show_proposal(self, teach: jobs.TeachData) -> QMessageBox:
        from blipdesk.core.calibration import propose

        proposal = propose(teach.data, teach.tag, teach.current)  # type: ignore[arg-type]
        fit = proposal.fit
        # The figures, one click away (Show Details…): each step held out one at a time.
        lines = [f"{fit.yes} yes and {fit.no} no labels.", "", "Held out one at a time:"]
        for s in fit.steps:
            mark = "  ← proposed" if s.step == fit.step else ("" if s.accepted else "  (no gain)")
            lines.append(f"  {s.step:<10} F1 {s.loo_f1:.2f}, agreement {s.loo_agreement:.0%}{mark}")
        if fit.estimate is not None and fit.estimate_today is not None:
            lines.append(
                f"Estimated F1 over these photos: today ≈ {fit.estimate_today:.2f}, "
                f"proposed ≈ {fit.estimate:.2f}\n({fit.estimate_caveat()})"
            )
        box_text = self._proposal_words(teach, proposal)
        box = QMessageBox(self.main)
        box.setObjectName("calibrateBox")
        box.setWindowTitle(f"Calibrate “{teach.tag.name}”")
        box.setText(box_text)
        box.setDetailedText("\n".join(lines))
        apply = box.addButton("Apply", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Discard", QMessageBox.ButtonRole.RejectRole)

        def chosen(button) -> None:
            if button is apply:
                self._start("applied", jobs.apply_calibration, self.database,
                            model_choice(self.settings()), teach.tag.name, fit.calibration)  # fmt: skip

        box.buttonClicked.connect(chosen)
        box.show()
        self.proposal_box = box
        return box

    @staticmethod
    def _proposal_words(teach: jobs.TeachData, proposal: Any) -> str:
        """What applying the calibration gains and risks, in plain words (the figures are in
        the details)."""
        fit = proposal.fit
        today = next((s for s in fit.steps if s.step == "today"), fit.loo)
        said = f"You labelled {fit.yes} photos yes and {fit.no} no."
        if fit.calibration is None:
            return (
                f"{said}\n\nThey do not point to a better rule yet: the tag stays as it is. "
                "Label more photos, mostly those it gets wrong, and try again."
            )
        lines = [
            said,
            "",
            f"Tested on your own labels, each one hidden in turn, the new rule gets "
            f"{fit.loo.loo_agreement:.0%} of them right; the tag as it is gets "
            f"{today.loo_agreement:.0%} right.",
            "",
            f"Here, {photos_text(len(proposal.gained))} would gain the tag and {len(proposal.lost)} "
            f"would lose it ({proposal.carried_before} carry it now, {proposal.carried_after} after).",
        ]
        for word, contents in (("Gain", proposal.gained), ("Lose", proposal.lost)):
            names = [teach.paths[c][0].rsplit("/", 1)[-1] for c in contents[:5]]
            if names:
                lines.append(f"{word}: " + ", ".join(names) + (" …" if len(contents) > 5 else ""))
        risk = (
            "With this few labels it is a rough guide: it may be wrong on photos unlike the "
            "ones you labelled."
            if fit.rough
            else "Photos unlike the ones you labelled may still be tagged wrong."
        )
        lines += ["", f"The risk: {risk} While it holds, the tag's threshold slider is not used."]
        return "\n".join(lines)

    # ----------------------------------------------------------------- examples, like this

    def from_examples(self, name: str | None = None) -> int | None:
        paths = self._selection()
        if not paths:
            self.message.emit("Select the photos that show it first.", 6000)
            return None
        if name is None:
            name, ok = QInputDialog.getText(self.main, "New tag from examples", "Tag name:")
            if not ok or not name.strip():
                return None
        return self._start("examples", jobs.create_example_tag, self.database,
                           name.strip(), paths)  # fmt: skip

    def more_like_this(self, top: int = 200) -> int | None:
        paths = self._selection()
        if not paths or self.shown.current is None:
            self.message.emit("Select one or more photos first.", 6000)
            return None
        first = os.path.basename(paths[0])
        self._like_query = f"more like “{first}”" + (
            f" and {len(paths) - 1} more" if paths[1:] else ""
        )
        s = self.settings()
        return self._start("like", jobs.more_like_this, self.database, model_choice(s),
                           paths, self.shown.current, s.recursive, top)  # fmt: skip
