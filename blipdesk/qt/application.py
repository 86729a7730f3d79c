"""The desktop app's entry point: logging, the crash dialog, style, icon, and the main window.

torch is not imported here: the window appears fast, and the model loads on the inference thread
when a scan, a search or "Try" first needs it.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import traceback
from pathlib import Path

from blipdesk.infra.logs import setup_logging, verbosity_level

log = logging.getLogger("blipdesk")

RESOURCES = Path(__file__).resolve().parents[1] / "resources"


def guard_streams() -> None:
    """Windowed apps may have no stderr/stdout; tqdm and transformers logging crash writing to
    None (tqdm/tqdm#1523, pyinstaller/pyinstaller#7731)."""
    if sys.stdout is None:
        sys.stdout = io.StringIO()
    if sys.stderr is None:
        sys.stderr = io.StringIO()


def install_excepthook(window_getter, log_file: Path) -> None:
    """A bug anywhere on the GUI thread is logged and shown in a dialog instead of vanishing."""

    def hook(exc_type, exc, tb) -> None:
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        log.error("unexpected error:\n%s", details)
        if issubclass(exc_type, KeyboardInterrupt):
            return
        from PySide6.QtWidgets import QApplication

        if QApplication.instance() is None:
            sys.__excepthook__(exc_type, exc, tb)
            return
        from blipdesk.qt.widgets.dialogs import CrashDialog

        try:
            CrashDialog(f"{exc_type.__name__}: {exc}", details, log_file, window_getter()).exec()
        except Exception:  # never recurse into the hook from the dialog
            sys.__excepthook__(exc_type, exc, tb)

    sys.excepthook = hook


def app_icon():
    from PySide6.QtGui import QIcon

    for name in ("blipdesk.svg", "blipdesk.png"):
        path = RESOURCES / name
        if path.is_file():
            return QIcon(str(path))
    return QIcon()


def make_app(argv: list[str] | None = None):
    from PySide6.QtWidgets import QApplication

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(argv or [sys.argv[0]])
    app.setApplicationName("blipdesk")
    app.setOrganizationName("blipdesk")
    app.setDesktopFileName("blipdesk")
    # Fusion draws every widget the same on every platform; ``theme.follow_system`` gives it the
    # system's light or dark palette, and follows a change while the app runs.
    app.setStyle("Fusion")
    from blipdesk.qt.common.theme import follow_system

    follow_system(app)  # light or dark as the system says (or BLIPDESK_COLOR_SCHEME)
    app.setWindowIcon(app_icon())
    return app


def run_gui(ns) -> int:
    from blipdesk.infra.paths import resolve_paths

    guard_streams()
    paths = resolve_paths(getattr(ns, "data_dir", None)).ensure()
    verbose = getattr(ns, "verbose", 0) or 0
    setup_logging(
        paths.log_file, stderr_level=verbosity_level(verbose) if verbose else None, verbose=True
    )
    log.info("starting blipdesk GUI, data in %s", paths.data_dir)
    app = make_app()
    from blipdesk.qt.window import MainWindow

    try:
        window = MainWindow(paths)
    except Exception as exc:
        from blipdesk.infra.errors import UserError

        if isinstance(exc, UserError):
            from PySide6.QtWidgets import QMessageBox

            QMessageBox.critical(None, "blipdesk", str(exc))
            return 1
        raise
    install_excepthook(lambda: window, paths.log_file)
    folder = getattr(ns, "folder", None)
    if folder:
        if os.path.isdir(folder):
            window.add_folder(folder)
        else:
            log.warning("not a folder: %s", folder)
    window.show()
    code = app.exec()
    leave_quickly()
    return code


def leave_quickly() -> None:
    """After the event loop: the window's workers are shut down and everything is written; what
    is left is the interpreter's teardown, whose full garbage collections over torch's and
    transformers' objects took 3-4 s after a scan (``benchmarks/bench_quit.py``). Objects that
    are frozen are not collected again; their memory goes back with the process."""
    import gc

    gc.freeze()
