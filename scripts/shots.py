"""What the screenshot scripts share: a display, a data folder with a model, a demo library, the
main window, waiting on Qt, and saving a grab.

    from shots import OUT, run, ...      # scripts/screenshots*.py import it as a sibling module

``run(render, display)`` starts ``Xvfb DISPLAY`` when ``DISPLAY`` is unset (and Qt is not told to
draw offscreen: ``QT_QPA_PLATFORM=offscreen`` draws without any X server), then calls ``render``.
Not part of the wheel (``scripts/`` is not packaged; ``scripts/check_wheel.py`` checks).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # blipdesk and tests.helpers from this checkout


def run(render: Callable[[], int], display: str, offline: bool = True) -> int:
    """Start Xvfb on ``display`` when there is no display, then ``render()``; stop Xvfb after."""
    xvfb = None
    offscreen = os.environ.get("QT_QPA_PLATFORM") == "offscreen"
    if not offscreen and not os.environ.get("DISPLAY"):
        if shutil.which("Xvfb") is None:
            print("needs Xvfb (apt install xvfb), or QT_QPA_PLATFORM=offscreen", file=sys.stderr)
            return 1
        xvfb = subprocess.Popen(
            ["Xvfb", display, "-screen", "0", "1400x900x24", "-nolisten", "tcp"]
        )
        os.environ["DISPLAY"] = display
        time.sleep(1.0)
    if not offscreen:
        os.environ["QT_QPA_PLATFORM"] = "xcb"
    if offline:
        os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        return render()
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(5)


def workdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def tiny_model(work: Path) -> Path:
    """The tiny random BLIP (tests/helpers/models.py): scores are arbitrary, the UI is real."""
    from tests.helpers.models import build_random_blip

    return build_random_blip(work / "model")


def miniature_model() -> Path:
    """The trained miniature (tests/data/miniature-blip): it knows drawn shapes and colours."""
    from tests.helpers import miniature

    return Path(miniature.SHIPPED)


def data_folder(data: Path, env: bool = True, **settings: Any) -> Any:
    """A data folder with these settings saved; ``env``: point BLIPDESK_DATA_DIR at it."""
    if env:
        os.environ["BLIPDESK_DATA_DIR"] = str(data)
    from blipdesk.infra.paths import resolve_paths
    from blipdesk.services.settings import Settings, SettingsFile

    paths = resolve_paths(data).ensure()
    SettingsFile(paths.settings_file).save(Settings(**settings))
    return paths


def scenes(
    folder: Path,
    count: int,
    name: Callable[[int], str],
    size: Callable[[int], tuple[int, int]] = lambda i: (800, 600),
    subfolders: Iterable[str] = (),
) -> None:
    """``count`` demo photos (tests/helpers/models.py's scenes, seeded by their number)."""
    from tests.helpers.models import scene

    folder.mkdir(parents=True, exist_ok=True)
    for sub in subfolders:
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for i in range(count):
        w, h = size(i)
        scene(w, h, i).save(folder / name(i), quality=88)


def wait(ms: int, until: Callable[[], bool] | None = None) -> None:
    """Run Qt's events for up to ``ms`` milliseconds, or until ``until()`` is true."""
    from PySide6.QtCore import QCoreApplication, QEventLoop

    deadline = time.monotonic() + ms / 1000
    while time.monotonic() < deadline:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        if until is not None and until():
            return
        time.sleep(0.01)


def open_window(paths: Any, width: int, height: int) -> tuple[Any, Any]:
    """The application and its main window, shown at ``width`` x ``height``."""
    from blipdesk.qt.application import make_app
    from blipdesk.qt.window import MainWindow

    app = make_app()
    window = MainWindow(paths, use_processes=False)
    window.resize(width, height)
    window.show()
    return app, window


def add_folder(window: Any, folder: Path, count: int, ms: int = 8000, thumbs: bool = True) -> None:
    """Add a library folder and wait until its ``count`` photos (and thumbnails) are listed."""
    window.add_folder(str(folder))
    if thumbs:
        wait(
            ms, lambda: window.photos.rowCount() == count and window.thumbs.cached_count() >= count
        )
    else:
        wait(ms, lambda: window.photos.rowCount() == count)


def scan(window: Any, ms: int = 120000) -> None:
    """Scan with the window's model and wait for the scan to finish."""
    done: list[str] = []
    window.controller.scanFinished.connect(lambda outcome, _summary: done.append(outcome))
    window.scan()
    wait(ms, lambda: bool(done))


def median_thresholds(window: Any) -> None:
    """Each tag's threshold at its median score, so that the dots and counts show something."""
    from blipdesk.qt.models.tags import TagRoles

    for tag in window.tags.tags():
        scores = sorted(
            s
            for p in window.photos.photos()
            if (s := window.board.tag_score(p.path, tag)) is not None
        )
        if scores:
            row = window.tags.row_of(tag.name)
            window.tags.setData(
                window.tags.index(row), scores[len(scores) // 2], TagRoles.Threshold
            )


def save(widget: Any, name: str | Path, rect: Any = None) -> Path:
    """Grab ``widget`` (or the ``rect`` part of it) to OUT/``name`` (or to a path)."""
    out = name if isinstance(name, Path) else OUT / name
    out.parent.mkdir(parents=True, exist_ok=True)
    (widget.grab() if rect is None else widget.grab(rect)).save(str(out))
    return out


def tag_editor_try(window: Any, tag: str, photo: Any, busy: bool = False, settle: int = 500) -> Any:
    """The tag editor for ``tag``, shown, with its "Try" on ``photo`` answered (close it after)."""
    from blipdesk.qt.widgets.tag_editor import TagEditorDialog
    from blipdesk.qt.workers.inference import TryJob, next_job_id

    editor = TagEditorDialog(window.tags.tag(tag), set(), photo.name, window)
    editor.show()
    tried: list[object] = []
    window.controller.tried.connect(tried.append)
    window.controller.tried.connect(editor.show_try)
    if busy:
        editor.show_try_busy(f"Scoring {photo.name}…")
    sentences = editor.sentence_list()
    window.controller.submit(
        TryJob(next_job_id(), window._model_choice(), path=photo.path, sentences=sentences)
    )
    wait(30000, lambda: bool(tried))
    wait(settle)
    return editor


def settings_shot(window: Any, name: str) -> None:
    """Open Settings, let its sizes be measured, save it as ``name`` and close it."""
    dialog = window.open_settings()
    wait(1500)
    save(dialog, name)
    dialog.reject()
