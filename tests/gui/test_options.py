"""Settings reach both shells alike (services/options.py): every setting that changes a scan
changes the command line's options and the window's job the same way, and every reader (the
grid, teaching, export, the command line) reads the score key the scans wrote."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest

from blipdesk.cli import build_parser
from blipdesk.cli.context import Context
from blipdesk.core.engine import ScanOptions, scan
from blipdesk.domain import Calibration, Tag
from blipdesk.qt.controllers.scan_actions import scan_job
from blipdesk.qt.models.cache_reader import read_scores
from blipdesk.services import teach_jobs
from blipdesk.services.export import export_photos
from blipdesk.services.options import model_choice, read_key, write_key
from blipdesk.services.settings import Settings, SettingsFile
from blipdesk.store import Library

# Settings that never change what a scan does or which scores it writes (the window's own
# preferences). Every other field must reach both shells' scan options or model choice: a new
# field is either listed here, with why, or checked below.
NOT_SCANNING = {
    "folders": "the library folders the window lists",
    "watch_folders": "whether the window follows them",
    "scan_new_photos": "whether the window starts scans by itself",
    "pair_sidecars": "where a pair's sidecar goes (xmp, not the scan)",
}

# A valid value other than the default, for the fields whose type does not give one.
OTHER_TEXT = {
    "model": "/elsewhere/blip",
    "model_revision": "0123abc",
    "device": "cpu",
    "precision": "fp32",
    "first_token": "enc",
    "feature_format": "fp16",
    "pair_sidecars": "jpeg",
}


def _flipped(name: str) -> Settings:
    default = getattr(Settings(), name)
    if isinstance(default, bool):
        value: object = not default
    elif isinstance(default, int):
        value = default + 16
    elif isinstance(default, tuple):
        value = (*default, "/photos")
    else:
        value = OTHER_TEXT[name]  # a new text setting: give it a value here
    changed = Settings().with_changes(**{name: value})
    assert getattr(changed, name) != default
    return changed


def _both_shells(settings: Settings, tmp_path, app_paths, folder: str):
    """(the command line's (options, model), the window's (options, model)) for a scan of
    ``folder`` with ``settings``, both built the way each shell builds them."""
    SettingsFile(app_paths.settings_file).save(settings)
    ns = build_parser().parse_args(["--data-dir", str(app_paths.data_dir), "scan", folder])
    ctx = Context(ns)
    job = scan_job(settings, app_paths, folder, ("a dog",))
    return (ctx.options(), ctx.model()), (job.options, job.model)


@pytest.mark.parametrize("name", [f.name for f in fields(Settings)])
def test_every_scan_setting_reaches_both_shells_alike(name, tmp_path, app_paths):
    folder = str(tmp_path)
    cli_before, gui_before = _both_shells(Settings(), tmp_path, app_paths, folder)
    assert cli_before == gui_before  # one function builds both
    cli_after, gui_after = _both_shells(_flipped(name), tmp_path, app_paths, folder)
    assert cli_after == gui_after
    if name in NOT_SCANNING:
        assert (cli_after, gui_after) == (cli_before, gui_before)
    else:
        assert cli_after != cli_before and gui_after != gui_before


def test_the_window_and_the_command_line_leave_raw_jpeg_pairs_apart_when_told(app_paths, tmp_path):
    """Turning RAW + JPEG pairing off in the window turns it off for ``blipdesk scan`` too (the
    command line used to pair them whatever the setting)."""
    settings = Settings(group_pairs=False)
    (cli_options, _), (gui_options, _) = _both_shells(settings, tmp_path, app_paths, str(tmp_path))
    assert cli_options.group_pairs is False and gui_options.group_pairs is False


def test_the_window_scan_job_keeps_its_own_choices(app_paths, tmp_path):
    job = scan_job(
        Settings(), app_paths, str(tmp_path), ("a dog",), cached_only=True, background=True,
        use_processes=False,
    )  # fmt: skip
    assert job.options.cached_only and job.options.low_priority
    assert not job.options.use_processes
    assert job.options.features_dir == app_paths.features_dir


def test_every_reader_reads_the_key_the_scan_wrote_after_first_token_cls_enc_cls(
    tmp_path, app_paths, photo_dir, tiny_model_dir, tiny_scorer
):
    """cls -> enc -> cls: the switch to enc recorded its model row (a model without [ENC] does
    so before it fails to load), which made the newest row for the source the enc one. The
    window's grid, teaching, a calibration and both exports must read the cls key the scans
    wrote, not the newest row."""
    db = str(app_paths.database)
    cls = Settings(model=str(tiny_model_dir))
    enc = cls.with_changes(first_token="enc")
    cls_key, enc_key = write_key(model_choice(cls)), write_key(model_choice(enc))
    assert cls_key.score_key != enc_key.score_key
    options = ScanOptions(batch_size=4, use_processes=False, decode_workers=1)
    with Library.open(db) as lib:
        lib.put_tag(Tag("dog", ("a dog",), 0.5))
        scan(lib, [str(photo_dir)], ("a dog",), cls_key, lambda: tiny_scorer, options)
        lib.ensure_model(enc_key.score_key, enc_key.source, enc_key.revision)
    back = model_choice(cls)
    paths = sorted(str(p) for p in photo_dir.rglob("*.jpg"))

    with Library.open(db, readonly=True) as lib:
        assert read_key(lib, back) == cls_key.score_key
        assert read_key(lib, model_choice(enc)) == enc_key.score_key

    grid = read_scores(db, back, str(photo_dir), True)  # the window's scores
    assert grid.score_key == cls_key.score_key
    assert len([p for p in grid.scores if "a dog" in p.scores]) == len(paths)

    teach_jobs.label_photos(db, "dog", paths[:3], True)
    teach_jobs.label_photos(db, "dog", paths[3:6], False)
    data = teach_jobs.teach_data(db, back, "dog", str(photo_dir), True)
    assert len(data.data.contents) == len(paths)  # every photo's score, read under cls
    rule = Calibration("threshold", 1.0, 0.25)
    teach_jobs.apply_calibration(db, back, "dog", rule)
    with Library.open(db, readonly=True) as lib:
        assert "dog" in lib.calibrations(cls_key.score_key)
        assert "dog" not in lib.calibrations(enc_key.score_key)
    assert teach_jobs.more_like_this(db, back, paths[:1], str(photo_dir), True, 5).ranked

    target = tmp_path / "export.json"
    export_photos(db, back, str(photo_dir), True, paths, "json", str(target))
    doc = json.loads(target.read_text(encoding="utf-8"))
    assert all(p["tags"]["dog"]["sentences"] for p in doc["photos"]) and len(doc["photos"]) == 10

    SettingsFile(app_paths.settings_file).save(cls)
    ns = build_parser().parse_args(
        ["--data-dir", str(app_paths.data_dir), "export", str(photo_dir)]
    )
    with Library.open(db, readonly=True) as lib:
        assert Context(ns).read_key(lib) == (cls_key.score_key, cls_key.source)
