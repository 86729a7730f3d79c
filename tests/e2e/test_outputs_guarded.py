"""Issue 24 item 1 through the real CLI: no command's ``--output`` or ``--results`` replaces a
file blipdesk reads (a photo by name, symbolic or hard link, one only the cache knows, a sidecar,
the model's files, the data folder). Each is refused in one line naming it, the file untouched."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from tests.e2e.test_cli import blipdesk
from tests.helpers.models import scene

SIDECAR = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'


@pytest.fixture(scope="module")
def place(tmp_path_factory, tiny_model_dir):
    """Two scanned folders (the commands get only ``photos``: ``other`` is known to the cache),
    a model folder of its own, and the targets to try. Built once: every case leaves it as it
    was (each test checks that it does)."""
    root = tmp_path_factory.mktemp("guarded")
    model = root / "model"
    shutil.copytree(tiny_model_dir, model)
    data = root / "data"
    assert blipdesk(data, "tags", "add", "dog", "a dog").returncode == 0
    for name in ("photos", "other"):
        (root / name).mkdir()
        for i in range(2):
            scene(64, 48, i + (5 if name == "other" else 0)).save(root / name / f"p{i}.png")
        got = blipdesk(data, "scan", root / name, "--model", model, "--device", "cpu")
        assert got.returncode == 0, got.stderr
    photos = root / "photos"
    (photos / "p0.xmp").write_bytes(SIDECAR)
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "link.out").symlink_to(photos / "p0.png")
    os.link(photos / "p1.png", elsewhere / "hard.out")
    os.link(root / "other" / "p1.png", elsewhere / "hard-other.out")
    targets = {
        "photo": photos / "p0.png",
        "symlink": elsewhere / "link.out",
        "hard link": elsewhere / "hard.out",
        "cached photo": root / "other" / "p0.png",
        "hard link to a cached photo": elsewhere / "hard-other.out",
        "sidecar": photos / "p0.xmp",
        "config.json": model / "config.json",
        "model.safetensors": model / "model.safetensors",
        "data folder": data / "settings.json",
    }
    return root, model, targets


def _fingerprint(root: Path) -> dict[str, str]:
    """Every file under ``root``: its bytes' hash (links followed: what they point at)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _commands(root: Path, model: Path, target: Path) -> dict[str, list[object]]:
    photos = root / "photos"
    return {
        "explain": ["explain", photos / "p1.png", "a dog", "--output", target, "--model", model],
        "export": ["export", photos, "--output", target, "--model", model],
        "results export": ["results", "export", photos, "--output", target, "--model", model],
        "scan --results": ["scan", photos, "--results", target, "--model", model],
        "cluster scan --results": [
            "cluster",
            "scan",
            photos,
            "--results",
            target,
            "--model",
            model,
        ],
    }


@pytest.mark.parametrize(
    "command", ["explain", "export", "results export", "scan --results", "cluster scan --results"]
)
def test_no_output_replaces_a_file_blipdesk_reads(place, command):
    root, model, targets = place
    before = _fingerprint(root)
    for what, target in targets.items():
        args = _commands(root, model, target)[command]
        got = blipdesk(root / "data", *args)
        lines = got.stderr.strip().splitlines()
        assert got.returncode == 1, (what, got.stderr)
        assert len(lines) == 1 and str(target) in lines[0], (what, got.stderr)
        assert lines[0].startswith("blipdesk: Refusing to write"), (what, lines[0])
        assert _fingerprint(root) == before, what


def test_export_refuses_a_photo_name_for_what_is_no_photo(place):
    root, _, _ = place
    for name in ("x.png", "x.JPG", "x.dng"):
        target = root / name
        got = blipdesk(root / "data", "export", root / "photos", "--output", target)
        assert got.returncode == 1 and not target.exists()
        assert f"{target}: a {Path(name).suffix.lower()} name is for photos" in got.stderr


def test_a_results_folder_that_cannot_be_written_is_refused_before_the_scan(place):
    root, model, _ = place
    (root / "notes.txt").write_text("not a folder")
    unwritable = [root / "notes.txt" / "results"]  # under a file: no folder can be made there
    if os.geteuid() != 0:  # root writes into a read-only folder
        (root / "locked").mkdir(mode=0o500)
        unwritable.append(root / "locked")
    for folder in unwritable:
        for args in (["scan"], ["cluster", "scan"]):
            got = blipdesk(root / "data", *args, root / "photos", "--results", folder,
                           "--model", model)  # fmt: skip
            assert got.returncode == 1, got.stderr
            assert f"Cannot write results into {folder}" in got.stderr
            assert "data folder" not in got.stderr and "done" not in got.stderr


def test_outputs_elsewhere_are_still_written(place):
    root, model, _ = place
    out = root / "out"
    got = blipdesk(root / "data", "export", root / "photos", "--output", out / "x.json")
    assert got.returncode == 1  # no such folder: said, not made
    out.mkdir()
    got = blipdesk(root / "data", "export", root / "photos", "--output", out / "x.json",
                   "--model", model)  # fmt: skip
    assert got.returncode == 0, got.stderr
    assert (out / "x.json").stat().st_size > 0
    got = blipdesk(root / "data", "results", "export", root / "photos", "--output",
                   out / "r.parquet", "--model", model)  # fmt: skip
    assert got.returncode == 0, got.stderr
