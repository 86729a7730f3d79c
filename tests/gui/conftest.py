"""GUI fixtures: a small photo folder and a main window on the tiny model."""

from __future__ import annotations

import pytest


@pytest.fixture
def photo_dir(tmp_path):
    from tests.helpers.models import scene

    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for i in range(10):
        target = folder / ("sub" if i >= 7 else "") / f"p{i:02d}.jpg"
        scene(320, 240, i).save(target, quality=85)
    return folder


@pytest.fixture
def app_paths(tmp_path):
    from blipdesk.infra.paths import resolve_paths

    return resolve_paths(tmp_path / "blipdesk-data").ensure()


@pytest.fixture
def use_tiny_model(app_paths, tiny_model_dir):
    from blipdesk.services.settings import Settings, SettingsFile

    SettingsFile(app_paths.settings_file).save(Settings(model=str(tiny_model_dir), batch_size=4))
    return tiny_model_dir


@pytest.fixture
def make_window(qtbot, app_paths):
    from blipdesk.qt.window import MainWindow

    made = []

    def make():
        window = MainWindow(app_paths, use_processes=False)
        qtbot.addWidget(window)
        window.resize(1200, 800)
        window.show()
        made.append(window)
        return window

    yield make
    for window in made:
        if window.isVisible():
            window.close()


@pytest.fixture
def scanned_window(qtbot, make_window, photo_dir, use_tiny_model):
    """A window on ``photo_dir`` with one tag ("beach"), every photo scanned: scores and vision
    outputs cached."""
    from blipdesk.qt.common.values import Tag

    window = make_window()
    window.add_folder(str(photo_dir))
    qtbot.waitUntil(lambda: window.photos.rowCount() == 10, timeout=10000)
    window.save_tag(Tag("beach", ("a dog on a beach",), 0.5, "#e6194b"))
    with qtbot.waitSignal(window.controller.scanFinished, timeout=90000):
        window.scan()
    return window
