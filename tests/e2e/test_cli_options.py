"""The command line takes its scan options and its score key from the settings the way the
window does (services/options.py)."""

from __future__ import annotations

import pytest

from blipdesk.services.settings import Settings, SettingsFile
from tests.e2e.test_cli import blipdesk
from tests.unit.test_pairs import pair_folder


def _scan(data, folder, model):
    out = blipdesk(data, "scan", folder, "--model", model, "--device", "cpu", "--batch-size", "4")
    assert out.returncode == 0, out.stderr
    return out.stderr


@pytest.mark.slow
def test_scan_leaves_raw_jpeg_pairs_apart_when_the_settings_say_so(tmp_path, tiny_model_dir):
    """A person who turned RAW + JPEG pairing off in the window gets every file scored by
    ``blipdesk scan`` too (it used to pair them whatever the setting said)."""
    folder = pair_folder(tmp_path)
    paired, apart = tmp_path / "paired", tmp_path / "apart"
    for data, group in ((paired, True), (apart, False)):
        data.mkdir()
        SettingsFile(data / "settings.json").save(Settings(group_pairs=group))
        assert blipdesk(data, "tags", "add", "dog", "a dog").returncode == 0
    assert "3 photos (1 with a RAW file): 3 scored, 0 unreadable" in _scan(
        paired, folder, tiny_model_dir
    )
    assert "4 photos: 4 scored, 0 unreadable;" in _scan(apart, folder, tiny_model_dir)
