"""A real window under Xvfb: start ``python -m blipdesk`` on the xcb platform, find it with
xdotool, take a screenshot, close it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

NEEDED = ("Xvfb", "xdotool", "import")


@pytest.mark.slow
@pytest.mark.skipif(
    any(shutil.which(t) is None for t in NEEDED),
    reason="needs Xvfb, xdotool and ImageMagick's import (apt install xvfb xdotool imagemagick)",
)
def test_real_window_opens(tmp_path, photo_dir_e2e):
    display = ":99"
    xvfb = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    app = None
    try:
        time.sleep(1.0)
        env = dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb")
        env["BLIPDESK_DATA_DIR"] = str(tmp_path / "data")
        app = subprocess.Popen(
            [sys.executable, "-m", "blipdesk", str(photo_dir_e2e)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        window = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and window is None:
            assert app.poll() is None, app.stdout.read().decode(errors="replace")
            found = subprocess.run(
                ["xdotool", "search", "--onlyvisible", "--name", "blipdesk"],
                env=env,
                capture_output=True,
                text=True,
            )
            window = found.stdout.split()[0] if found.stdout.split() else None
            time.sleep(0.3)
        assert window, "the window did not appear within 30 s"
        time.sleep(1.5)
        shot = tmp_path / "window.png"
        subprocess.run(["import", "-window", "root", str(shot)], env=env, check=True)
        assert shot.stat().st_size > 10_000
        # No window manager under Xvfb: focus the window and press the Quit shortcut.
        subprocess.run(["xdotool", "windowfocus", "--sync", window], env=env, check=False)
        subprocess.run(["xdotool", "key", "ctrl+q"], env=env, check=False)
        try:
            assert app.wait(15) == 0
        except subprocess.TimeoutExpired:
            pytest.fail("the app did not exit after its window was closed")
    finally:
        if app is not None:
            if app.poll() is None:
                app.kill()
                app.wait(5)
            app.stdout.close()  # an open pipe is a ResourceWarning, and warnings are errors
        xvfb.terminate()
        xvfb.wait(5)


@pytest.fixture
def photo_dir_e2e(tmp_path):
    from tests.helpers.models import scene

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(6):
        scene(320, 240, i).save(folder / f"p{i}.jpg", quality=85)
    return folder
