"""Settings: typed defaults, atomic saves, and a damaged file is kept, never wiped silently."""

from __future__ import annotations

import json

from blipdesk.services.settings import Settings, SettingsFile


def test_missing_file_gives_defaults(tmp_path):
    sf = SettingsFile(tmp_path / "settings.json")
    assert sf.load() == Settings() and sf.problem is None
    assert Settings().model == "Salesforce/blip-itm-large-flickr"


def test_round_trip_keeps_unknown_keys(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"batch_size": 4, "from_a_newer_version": [1, 2]}))
    sf = SettingsFile(path)
    settings = sf.load().with_changes(folders=("/a", "/b"), feature_cache=True)
    assert settings.batch_size == 4
    sf.save(settings)
    data = json.loads(path.read_text())
    assert data["from_a_newer_version"] == [1, 2] and data["folders"] == ["/a", "/b"]
    assert SettingsFile(path).load() == settings
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]  # no temporary left over


def test_damaged_file_is_kept_as_bak_and_defaults_used(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text('{"batch_size": 4,')  # cut short by a crash of some other program
    sf = SettingsFile(path)
    assert sf.load() == Settings()
    assert "damaged" in sf.problem
    assert (tmp_path / "settings.json.bak").read_text() == '{"batch_size": 4,'


def test_wrong_types_fall_back_per_key(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"batch_size": "many", "recursive": False, "device": 3}))
    sf = SettingsFile(path)
    settings = sf.load()
    assert settings.batch_size == Settings().batch_size and settings.recursive is False
    assert settings.device == "auto"
    assert "batch_size" in sf.problem and "device" in sf.problem


def test_deeply_nested_file_is_kept_and_defaults_used(tmp_path):
    path = tmp_path / "settings.json"
    deep = "[" * 100_000 + "]" * 100_000
    path.write_text(deep)
    (tmp_path / "settings.json.bak").write_text("an earlier damaged file")
    sf = SettingsFile(path)
    assert sf.load() == Settings()
    assert "nested too deeply" in sf.problem and "settings.json.2.bak" in sf.problem
    assert (tmp_path / "settings.json.2.bak").read_text() == deep  # nothing lost
    assert (tmp_path / "settings.json.bak").read_text() == "an earlier damaged file"


def test_values_that_would_fail_later_are_refused_now(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(
        json.dumps({"model": " ", "first_token": "sep", "batch_size": 100_000, "folders": [1]})
    )
    sf = SettingsFile(path)
    assert sf.load() == Settings()
    for key in ("model", "first_token", "batch_size", "folders"):
        assert key in sf.problem


def test_a_fifo_or_device_is_not_read(tmp_path):
    import os

    path = tmp_path / "settings.json"
    os.mkfifo(path)  # reading it would block every command forever
    sf = SettingsFile(path)
    assert sf.load() == Settings() and "cannot be read" in sf.problem
    path.unlink()
    path.symlink_to("/dev/zero")
    assert SettingsFile(path).load() == Settings()
