"""First use: the model is not on disk. Offline: a clear way out. Online: the download dialog,
with progress, then the scan goes on by itself."""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import QTimer

from blipdesk.core.model import DEFAULT_MODEL
from blipdesk.qt import window as main_window
from blipdesk.qt.common.values import Tag
from blipdesk.qt.widgets import dialogs


@pytest.fixture
def hub_model_settings(app_paths):
    from blipdesk.services.settings import Settings, SettingsFile

    SettingsFile(app_paths.settings_file).save(Settings(model=DEFAULT_MODEL, batch_size=4))


def _fake_hub_cache(cache, tiny_model_dir):
    """What a finished download leaves: the hub cache's refs + snapshot layout."""
    repo = cache / ("models--" + DEFAULT_MODEL.replace("/", "--"))
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    shutil.copytree(tiny_model_dir, snapshot)
    return snapshot


def test_offline_without_the_model_points_to_a_local_folder(
    qtbot, make_window, photo_dir, hub_model_settings, monkeypatch
):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    warnings: list[tuple[str, str]] = []
    monkeypatch.setattr(main_window.MainWindow, "_warn", lambda self, t, m: warnings.append((t, m)))
    window = make_window()
    window.add_folder(str(photo_dir))
    qtbot.waitUntil(lambda: window.photos.rowCount() == 10, timeout=10000)
    window.save_tag(Tag("beach", ("a dog on a beach",), 0.5, "#e6194b"))
    with qtbot.waitSignal(window.controller.scanFinished, timeout=20000) as ended:
        window.scan()  # the job ends, having warned
    assert ended.args[0] == "failed" and warnings
    title, message = warnings[0]
    assert title == "Model not available"
    assert DEFAULT_MODEL in message and "offline" in message
    assert "local model folder" in message and "Settings" in message


def test_download_dialog_shows_progress_then_the_scan_runs(
    qtbot, make_window, photo_dir, hub_model_settings, tiny_model_dir, monkeypatch, tmp_path
):
    import os

    from blipdesk.core import hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False, raising=False)
    cache = tmp_path / "hf-home" / "hub"
    seen: list[tuple[int, int | None]] = []

    def fake_download(source, revision, report):
        assert source == DEFAULT_MODEL
        total = 1_000_000
        for done in (0, 250_000, 1_000_000):
            report(done, total)
        folder = _fake_hub_cache(cache, tiny_model_dir)
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # from here on, what is on disk is enough
        monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True, raising=False)
        return folder

    monkeypatch.setattr(hub, "download_model", fake_download)
    monkeypatch.setattr(hub, "reachable", lambda timeout=3.0: True)  # as if online
    warnings: list[str] = []  # a modal warning would block the test: record it instead
    monkeypatch.setattr(main_window.MainWindow, "_warn", lambda self, t, m: warnings.append(m))
    assert os.environ["HF_HUB_CACHE"] == str(cache)

    shown: list[dialogs.DownloadDialog] = []
    original_progress = dialogs.DownloadDialog.progress

    def progress(self, done, total):
        seen.append((done, total))
        original_progress(self, done, total)

    monkeypatch.setattr(dialogs.DownloadDialog, "progress", progress)

    original_show = dialogs.DownloadDialog.showEvent

    def click_download(self, event):  # once the dialog is up, in its own event loop
        original_show(self, event)
        if self not in shown:
            shown.append(self)
            assert "1.8 GB" in self.label.text()
            QTimer.singleShot(0, self.start.click)

    monkeypatch.setattr(dialogs.DownloadDialog, "showEvent", click_download)
    window = make_window()
    window.add_folder(str(photo_dir))
    qtbot.waitUntil(lambda: window.photos.rowCount() == 10, timeout=10000)
    window.save_tag(Tag("beach", ("a dog on a beach",), 0.5, "#e6194b"))
    with qtbot.waitSignal(window.controller.scanFinished, timeout=90000):
        window.scan()
    assert not warnings, warnings
    assert shown, "the download dialog was not offered"
    assert seen and seen[-1] == (1_000_000, 1_000_000)


def _scan_once(qtbot, make_window, photo_dir, monkeypatch):
    warnings: list[tuple[str, str]] = []
    monkeypatch.setattr(main_window.MainWindow, "_warn", lambda self, t, m: warnings.append((t, m)))
    window = make_window()
    window.add_folder(str(photo_dir))
    qtbot.waitUntil(lambda: window.photos.rowCount() == 10, timeout=10000)
    window.save_tag(Tag("beach", ("a dog on a beach",), 0.5, "#e6194b"))
    with qtbot.waitSignal(window.controller.scanFinished, timeout=20000) as ended:
        window.scan()
    _scan_once.window = window  # type: ignore[attr-defined]  # the test that looks further
    return ended.args[0], warnings


def test_no_network_is_said_in_words_with_the_local_folder_not_a_download(
    qtbot, make_window, photo_dir, hub_model_settings, monkeypatch
):
    """Issue 24 item 17: offline without HF_HUB_OFFLINE, the first scan offered Download."""
    from blipdesk.core import hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "reachable", lambda timeout=3.0: False)
    offered: list[object] = []
    monkeypatch.setattr(dialogs.DownloadDialog, "exec", lambda self: offered.append(self) or 0)
    outcome, warnings = _scan_once(qtbot, make_window, photo_dir, monkeypatch)
    assert outcome == "failed" and not offered
    [(title, message)] = warnings
    assert title == "Model not available"
    assert "cannot be reached" in message and "Local folder" in message and "Settings" in message
    assert "Traceback" not in message and "Error" not in message
    # ... and the choice is offered: Settings opens where the model (or its local folder) is set
    window = _scan_once.window  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: window.settings_flow.dialog is not None, timeout=5000)
    window.settings_flow.dialog.reject()


def test_a_download_the_network_breaks_is_said_once_in_words(
    qtbot, make_window, photo_dir, hub_model_settings, monkeypatch
):
    """The download fails (the network goes): no crash dialog with the transport's traceback,
    no loop back into the download; one warning in words with the local-folder choice."""
    import huggingface_hub

    from blipdesk.core import hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "reachable", lambda timeout=3.0: True)

    def no_network(**kwargs):
        raise ConnectionError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_network)
    crashes: list[object] = []
    monkeypatch.setattr(dialogs.CrashDialog, "exec", lambda self: crashes.append(self) or 0)
    offered: list[dialogs.DownloadDialog] = []
    original_show = dialogs.DownloadDialog.showEvent

    def click_download(self, event):
        original_show(self, event)
        if self not in offered:
            offered.append(self)
            QTimer.singleShot(0, self.start.click)

    monkeypatch.setattr(dialogs.DownloadDialog, "showEvent", click_download)
    _, warnings = _scan_once(qtbot, make_window, photo_dir, monkeypatch)
    qtbot.waitUntil(lambda: bool(warnings), timeout=20000)
    qtbot.waitUntil(lambda: not offered[0].isVisible(), timeout=10000)
    assert len(offered) == 1 and not crashes
    [(_, message)] = warnings
    assert "cannot be reached" in message and "Local folder" in message
