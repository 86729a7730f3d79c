"""The photographer's desk: the information panel, ratings, flags and colour labels (keys 0-5, P,
X, U, 6-9; a rating filter; XMP sidecars), the View and Photo menus (full screen, zoom), Help > Keyboard shortcuts,
and "Try"'s answer kept on the score board.

Its collaborators are named, not reached through the window: the main window as Qt sees it (its
menu bar, status bar and full screen), the photo stack (grid, viewer, the photos model), the
score board, the detail and information panels, and the panels the viewer hides. ``qt/window.py``
creates it and wires the signals from elsewhere (a folder listed, "Try"'s answer).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QUndoStack
from PySide6.QtWidgets import QMainWindow, QMenu, QToolBar, QWidget

from blipdesk.qt.common.values import Photo, PhotoScores, ScoreBoard
from blipdesk.qt.controllers.rating_actions import RatingActions
from blipdesk.qt.controllers.stacks import Stacks
from blipdesk.qt.widgets.detail_panel import DetailPanel
from blipdesk.qt.widgets.filter_bar import FilterBar
from blipdesk.qt.widgets.info_panel import InfoPanel
from blipdesk.qt.widgets.photo_stack import PhotoStack
from blipdesk.qt.widgets.shortcuts_dialog import ShortcutsDialog
from blipdesk.services.ratings import COLOUR_KEYS, COLOURS, NO_COLOUR, RatingFilter


class Desk(QObject):
    def __init__(
        self,
        main: QMainWindow,
        stack: PhotoStack,
        board: ScoreBoard,
        detail: DetailPanel,
        info: InfoPanel,
        filter_bar: FilterBar,
        panels: Sequence[QWidget],
        database: str,
        undo: QUndoStack | None = None,
    ) -> None:
        """``main``: the window that goes full screen and holds the menus; ``panels``: what the
        viewer hides (it takes the whole window); ``undo``: where rating changes go as steps."""
        super().__init__(main)
        self.main, self.stack, self.board, self.detail = main, stack, board, detail
        self.panels = tuple(panels)
        self.grid, self.viewer, self.photos = stack.grid, stack.viewer, stack.photos
        self.info, self.filter_bar = info, filter_bar
        self.ratings = RatingActions(database, self.photos, self.targets, self, undo)
        self.grid.delegate.rating_of = self.ratings.book.get
        self.stacks = Stacks(database, self.photos, self.ratings, self)  # bursts as one photo
        self.grid.delegate.stack_of = self.stacks.badge
        self.viewer.caption_extra = lambda photo: self.ratings.text(photo.path)
        self.info.rating_of = self.ratings.text
        self._full_screen_from: Qt.WindowState | None = None
        self._build_menus()
        self.grid.currentPhotoChanged.connect(self.info.show_photo)
        stack.viewing.connect(self._viewing)
        self.ratings.changed.connect(self._ratings_changed)
        self.ratings.message.connect(main.statusBar().showMessage)
        self.stacks.message.connect(main.statusBar().showMessage)
        main.installEventFilter(self)  # closing in full screen saves the normal geometry

    def listed(self, _request: int, _folder: str, photos: list[Photo]) -> None:
        """A folder was listed: its ratings are read (``FolderLister.listed``); the photo the
        information panel shows is read again when its file changed on disk (size, time)."""
        self.ratings.load([p.path for p in photos])
        self.stacks.load(photos)
        shown = self.info.photo
        fresh = None if shown is None else next((p for p in photos if p.path == shown.path), None)
        if (
            fresh is not None
            and shown is not None
            and (fresh.size, fresh.mtime) != (shown.size, shown.mtime)
        ):
            self.info.show_photo(fresh)

    def scan_finished(self, *_args) -> None:
        """A scan kept new pixel hashes: the bursts are found again."""
        self.stacks.load(self.photos.photos())

    def eventFilter(self, watched, event) -> bool:
        if watched is self.main and event.type() == QEvent.Type.Close and self.full_screen():
            self._leave_full_screen()
        return False

    # ----------------------------------------------------------------- menus

    def _build_menus(self) -> None:
        bar = self.main.menuBar()
        help_action = next(a for a in bar.actions() if a.text() == "&Help")
        self.view_menu = view = QMenu("&View", bar)
        photo = QMenu("&Photo", bar)
        bar.insertMenu(help_action, view)
        bar.insertMenu(help_action, photo)
        self.full_screen_action = self._act(view, "&Full screen", self.toggle_full_screen, "F")
        self.full_screen_action.setCheckable(True)
        self.compare_action = self._act(view, "&Compare the selected photos", self.compare, "C")
        view.addSeparator()
        # The viewer's own keys (shown, not bound here: Ctrl++ may mean thumbnails in the grid).
        self.zoom_actions = [
            self._act(view, "Zoom to &fit\tCtrl+0", self.viewer.zoom_fit),
            self._act(view, "Zoom to &100%\tCtrl+1", self.viewer.zoom_actual),
            self._act(view, "Zoom &in\tCtrl++", self.viewer.zoom_in),
            self._act(view, "Zoom &out\tCtrl+-", self.viewer.zoom_out),
        ]
        for action in self.zoom_actions:
            action.setEnabled(False)
        self.rating_actions = [
            self._act(
                photo, f"Rating: {'★' * n or 'none'}", lambda n=n: self.ratings.set_stars(n), str(n)
            )
            for n in range(6)
        ]
        photo.addSeparator()
        self._act(photo, "&Pick", lambda: self.ratings.set_flag(1), "P")
        self._act(photo, "Re&ject", lambda: self.ratings.set_flag(-1), "X")
        self._act(photo, "&Unflag", lambda: self.ratings.set_flag(0), "U")
        colour = photo.addMenu("&Colour label")
        self.colour_actions = [
            self._act(
                colour,
                name.capitalize(),
                lambda c=name: self.ratings.set_colour(c),
                COLOUR_KEYS.get(name),
            )
            for name in COLOURS
        ]
        self.colour_actions.append(self._act(colour, "&None", lambda: self.ratings.set_colour("")))
        for action in self.colour_actions:
            self.main.addAction(action)  # the keys work with the menu bar hidden (full screen)
        self._act(
            photo,
            "E&xpand or collapse stack",
            lambda: self.stacks.toggle(getattr(self.grid.current_photo(), "path", None)),
            "S",
        )
        photo.addSeparator()
        show = photo.addMenu("&Show only")
        group = QActionGroup(show)
        self.filter_actions: dict[str, QAction] = {}
        choices = [("Any rating", RatingFilter())]
        choices += [(f"{'★' * n} or more", RatingFilter(n)) for n in range(1, 6)]
        choices += [
            ("Picked", RatingFilter(flag="picked")),
            ("Not rejected", RatingFilter(flag="unflagged")),
            ("Rejected", RatingFilter(flag="rejected")),
        ]
        choices += [(f"{c.capitalize()} label", RatingFilter(colours=(c,))) for c in COLOURS]
        choices.append(("No colour label", RatingFilter(colours=(NO_COLOUR,))))
        for text, wanted in choices:
            action = QAction(text, show, checkable=True)
            # a criterion of the one filter: a chip in the filter bar, saved with smart views
            action.triggered.connect(
                lambda _c=False, f=wanted: self.filter_bar.set_criteria(rating=f)
            )
            group.addAction(action)
            show.addAction(action)
            self.filter_actions[text] = action
        self.filter_actions["Any rating"].setChecked(True)
        ratings = dict(choices)

        def follow(state) -> None:  # a saved view or a chip's ✕: the menu follows
            for text, action in self.filter_actions.items():
                action.setChecked(ratings[text] == state.rating)

        self.filter_bar.filterChanged.connect(follow)
        photo.addSeparator()
        self._act(photo, "&Read ratings from sidecars", self.ratings.read_sidecars)
        self._act(photo, "&Write ratings to sidecars", self.ratings.write_sidecars)
        help_menu = help_action.menu()
        assert isinstance(help_menu, QMenu)
        shortcuts = QAction("&Keyboard shortcuts", self.main)
        shortcuts.setShortcut(QKeySequence("Ctrl+/"))
        shortcuts.triggered.connect(self.show_shortcuts)
        if help_menu.actions():  # first in Help
            help_menu.insertAction(help_menu.actions()[0], shortcuts)
        else:
            help_menu.addAction(shortcuts)

    def _act(self, menu: QMenu, text: str, slot, key: str | None = None) -> QAction:
        action = QAction(text, self.main)
        if key:
            action.setShortcut(QKeySequence(key))
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        return action

    def show_shortcuts(self) -> ShortcutsDialog:
        dialog = ShortcutsDialog(self.main.menuBar(), self.main)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    # ----------------------------------------------------------------- the viewer

    def targets(self) -> list[Photo]:
        """What a rating key acts on: the photo in the viewer (in compare, the active pane's),
        else the grid's selection (else its current photo)."""
        if self.stack.currentWidget() is self.viewer and self.viewer.photo is not None:
            return [self.viewer.photo]
        if self.stack.comparing():
            active = self.stack.compare.active_photo()
            return [active] if active is not None else []
        selected = self.grid.selected_photos()
        current = self.grid.current_photo()
        return selected or ([current] if current is not None else [])

    def compare(self) -> None:
        """C: the selected photos side by side (two to four)."""
        if self.stack.comparing():
            self.stack.close_viewer()
            return
        chosen = self.grid.selected_photos()
        if len(chosen) < 2:
            self.main.statusBar().showMessage(
                "Select two to four photos to compare them (C).", 5000
            )
            return
        if len(chosen) > 4:
            self.main.statusBar().showMessage(f"Comparing the first 4 of {len(chosen)}.", 5000)
        self.stack.open_compare(chosen[:4])

    def _viewing(self, viewing: bool) -> None:
        for widget in self.panels:
            widget.setVisible(not viewing)  # the viewer takes the whole window
        for action in self.zoom_actions:
            action.setEnabled(viewing)
        if not viewing and self._full_screen_from is not None:
            self._leave_full_screen()

    def toggle_full_screen(self) -> None:
        """F: the viewer on the whole screen (opened on the current photo from the grid)."""
        if self._full_screen_from is not None:
            self._leave_full_screen()
            return
        w, stack = self.main, self.stack
        if stack.currentWidget() is not self.viewer:
            photo = self.grid.current_photo() or self.photos.photo_at(0)
            if photo is None:
                self.full_screen_action.setChecked(False)
                return
            stack.open_viewer(photo)
        self._full_screen_from = w.windowState()
        for bar in (w.menuBar(), w.statusBar(), *self._toolbars()):
            bar.setVisible(False)
        stack.filmstrip.setVisible(False)
        w.showFullScreen()
        self.full_screen_action.setChecked(True)
        self.viewer.setFocus()

    def _leave_full_screen(self) -> None:
        w, state = self.main, self._full_screen_from
        self._full_screen_from = None
        for bar in (w.menuBar(), w.statusBar(), *self._toolbars()):
            bar.setVisible(True)
        self.stack.filmstrip.setVisible(True)
        w.setWindowState(state if state is not None else Qt.WindowState.WindowNoState)
        self.full_screen_action.setChecked(False)

    def full_screen(self) -> bool:
        return self._full_screen_from is not None

    def _toolbars(self) -> list[QToolBar]:
        return self.main.findChildren(QToolBar)

    # ----------------------------------------------------------------- answers

    def _ratings_changed(self, paths: list[str]) -> None:
        self.viewer.update()
        self.stack.compare.refresh()
        photo = self.info.photo
        if photo is not None and photo.path in paths:
            self.info.refresh()

    def tried(self, path: str, scores) -> None:
        """ "Try"'s scores join the board: once the tag is saved, the photo shows them
        (``TagActions.tried``)."""
        self.photos.scores_changed(self.board.merge((PhotoScores(path, scores),)))
        self.detail.refresh_scores()
        self.viewer.update()

    def shutdown(self) -> None:
        parts = (self.info, self.ratings, self.stacks, self.viewer.images, self.stack.compare)
        for part in parts:
            part.shutdown()
