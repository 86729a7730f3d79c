"""A calibrated tag says so in ``tags list`` (and ``--json``), in the words the window uses: its
threshold is not used while the calibration holds (issue 25, item 11)."""

from __future__ import annotations

import json

from blipdesk.core.model import ModelIdentity, score_key, source_key
from blipdesk.domain import Calibration
from blipdesk.infra.paths import resolve_paths
from blipdesk.services.settings import Settings, SettingsFile
from blipdesk.services.wording import calibrated_note
from blipdesk.store import Library
from tests.e2e.test_cli import blipdesk


def test_tags_list_marks_a_calibrated_tag_and_says_what_decides(tmp_path):
    data = tmp_path / "data"
    model = str(tmp_path / "a-model-not-here")  # export's rule: the cache's record of it
    paths = resolve_paths(data).ensure()
    SettingsFile(paths.settings_file).save(Settings(model=model))
    for name in ("sea", "dog"):
        added = blipdesk(data, "tags", "add", name, f"a {name}", "--threshold", "0.5")
        assert added.returncode == 0, added.stderr
    calibration = Calibration("logistic", 2.0, -1.0)  # tagged from match 62%
    # the key a scan of that model wrote (its identity, then the first token and decoding rule)
    key = "weights" + score_key(ModelIdentity(source_key(model), None, ""), "cls")
    with Library.open(paths.database) as lib:
        lib.ensure_model(key, source_key(model))
        lib.set_calibration("sea", key, calibration)
    listed = blipdesk(data, "tags", "list")
    assert listed.returncode == 0, listed.stderr
    rows = {line.split("\t")[0]: line.split("\t")[1] for line in listed.stdout.splitlines()}
    note = calibrated_note(calibration, 0.5)
    assert rows["sea"] == f"0.5 ({note})" and "tagged from match 62%" in note
    assert "not used" in note
    assert rows["dog"] == "0.5"
    doc = {t["name"]: t for t in json.loads(blipdesk(data, "tags", "list", "--json").stdout)}
    assert doc["sea"]["calibration"]["threshold"] == calibration.threshold()
    assert doc["sea"]["calibration"]["text"] == "calibrated from your labels: tagged from match 62%"
    assert doc["dog"]["calibration"] is None and doc["dog"]["threshold"] == 0.5


def test_tags_list_with_nothing_scanned_and_no_model_lists_plain_tags(tmp_path):
    data = tmp_path / "data"
    paths = resolve_paths(data).ensure()
    SettingsFile(paths.settings_file).save(Settings(model=str(tmp_path / "no-model")))
    assert blipdesk(data, "tags", "add", "dog", "a dog").returncode == 0
    listed = blipdesk(data, "tags", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("dog\t0.5\t")
    doc = json.loads(blipdesk(data, "tags", "list", "--json").stdout)
    assert doc[0]["calibration"] is None
